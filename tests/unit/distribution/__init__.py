"""Tests of ``mediastore_ingest.distribution``."""
