"""Tests of ``mediastore_ingest.iam``."""
