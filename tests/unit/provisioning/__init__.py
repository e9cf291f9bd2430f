"""Tests of ``mediastore_ingest.provisioning``."""
