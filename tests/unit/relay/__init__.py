"""Tests of ``mediastore_ingest.relay``."""
