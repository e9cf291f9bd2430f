"""What a local server saw of each request: ``RecordedRequest``."""

from __future__ import annotations

import attrs

from mediastore_ingest._internal.redact import target_repr

__all__ = ["RecordedRequest"]


@attrs.frozen
class RecordedRequest:
    """One request as a local server received it.

    ``headers`` keeps the received order and spelling; the values that may be
    credentials (a ``User-Agent`` can be an ingest secret, an ``Authorization`` a
    SigV4 signature) are ``Redacted``: equal to the value, but not shown by a
    ``repr`` (nor by pytest's diff of two requests); ``path`` shows a signed URL's
    ``Signature`` and ``Policy`` as ``<redacted>`` in the ``repr`` only. ``status`` is
    the final status
    sent (``None`` if the connection failed before one was); ``bytes_received`` counts
    body bytes read, ``bytes_sent`` body bytes written.
    """

    method: str
    path: str = attrs.field(repr=target_repr)  # a signed URL's Signature is not shown
    headers: tuple[tuple[str, str], ...] = attrs.field(repr=False)  # see redact_headers
    peer: str
    tls: bool
    status: int | None
    bytes_received: int
    bytes_sent: int

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or ``None``."""
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    @property
    def user_agent(self) -> str | None:
        """The ``User-Agent`` the server received."""
        return self.header("User-Agent")
