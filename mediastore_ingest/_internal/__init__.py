"""Tools shared by every layer: validators, redaction, JSON and CloudFront base64.

Private to the package: nothing here is public API.
"""
