"""Tests of ``mediastore_ingest.ingest``."""
