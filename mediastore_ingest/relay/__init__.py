"""The signing relay: a loopback HTTP server that signs and forwards an encoder's uploads."""

from __future__ import annotations

from mediastore_ingest.errors import RelayError
from mediastore_ingest.relay.config import DEFAULT_CACHE_RULES, RelayConfig
from mediastore_ingest.relay.metrics import LATENCY_BUCKETS, RelayStats
from mediastore_ingest.relay.relay import SigningRelay

__all__ = [
    "DEFAULT_CACHE_RULES",
    "LATENCY_BUCKETS",
    "RelayConfig",
    "RelayError",
    "RelayStats",
    "SigningRelay",
]
