"""The signing relay: a loopback HTTP server that signs and forwards an encoder's uploads."""

from __future__ import annotations

from mediastore_ingest.relay.relay import (
    DEFAULT_CACHE_RULES,
    LATENCY_BUCKETS,
    RelayConfig,
    RelayStats,
    SigningRelay,
)

__all__ = [
    "DEFAULT_CACHE_RULES",
    "LATENCY_BUCKETS",
    "RelayConfig",
    "RelayStats",
    "SigningRelay",
]
