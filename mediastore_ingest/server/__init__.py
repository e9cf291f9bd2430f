"""The HTTP/1.1 server base that the relay and the local test servers build on."""

from __future__ import annotations

from mediastore_ingest.server.base import (
    LocalHTTPServer,
    RecordedRequest,
    RequestHandler,
)

__all__ = [
    "LocalHTTPServer",
    "RecordedRequest",
    "RequestHandler",
]
