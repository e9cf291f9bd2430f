"""Tests of ``mediastore_ingest._internal`` (the toolkit)."""
