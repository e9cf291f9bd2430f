"""The HTTP/1.1 server base that the relay and the local test servers build on."""

from __future__ import annotations

from mediastore_ingest.server.base import (
    SECRET_HEADERS,
    LocalHTTPServer,
    RecordedRequest,
    Redacted,
    RequestHandler,
    redact_headers,
    redact_query,
)

__all__ = [
    "SECRET_HEADERS",
    "LocalHTTPServer",
    "RecordedRequest",
    "Redacted",
    "RequestHandler",
    "redact_headers",
    "redact_query",
]
