"""How the ingest client's requests travel: the
[`Transport`][mediastore_ingest.ingest.Transport] protocol and its values (`base`),
urllib3 pools (the default), botocore (direct mode, SigV4) and a test double."""

from __future__ import annotations

from mediastore_ingest.ingest.transports.base import (
    BodyReadError,
    Headers,
    Request,
    Response,
    Transport,
)
from mediastore_ingest.ingest.transports.botocore import BotocoreTransport
from mediastore_ingest.ingest.transports.mock import MockTransport
from mediastore_ingest.ingest.transports.urllib3 import Urllib3Transport

__all__ = [
    "BodyReadError",
    "BotocoreTransport",
    "Headers",
    "MockTransport",
    "Request",
    "Response",
    "Transport",
    "Urllib3Transport",
]
