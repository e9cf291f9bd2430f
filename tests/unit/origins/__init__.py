"""Tests of ``mediastore_ingest.origins``."""
