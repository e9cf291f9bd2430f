"""The HTTP/1.1 server base that the relay and the local test servers build on.

``LocalHTTPServer`` (the listener and its limits) runs a ``RequestHandler``
subclass per connection; ``ServerLimits`` documents each limit and its default.
The parsing core is ``mediastore_ingest.server.protocol`` (h11, kept strict).
"""

from __future__ import annotations

from mediastore_ingest.server.base import (
    LocalHTTPServer,
    RecordedRequest,
    RequestHandler,
)
from mediastore_ingest.server.headers import RequestHeaders
from mediastore_ingest.server.limits import PeerFilter, ServerLimits

__all__ = [
    "LocalHTTPServer",
    "PeerFilter",
    "RecordedRequest",
    "RequestHandler",
    "RequestHeaders",
    "ServerLimits",
]
