"""Tests of ``mediastore_ingest.signing``."""
