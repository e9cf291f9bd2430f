"""The test double: a transport that hands each request to a function (as httpx's
``MockTransport`` does), so tests and users can script the answers."""

from __future__ import annotations

from collections.abc import Callable

import attrs

from mediastore_ingest.ingest.transports.base import (
    BodyReadError,
    Request,
    Response,
    raise_original,
)

__all__ = ["MockTransport"]


class MockTransport:
    """A transport that calls ``handler(request) -> Response`` instead of the network
    (httpx's ``MockTransport``). Iterable request bodies are consumed before the
    handler runs, so it sees ``request.body`` as ``bytes``; the handler may raise
    [`TransportError`][mediastore_ingest.errors.TransportError] to simulate a failure."""

    def __init__(self, handler: Callable[[Request], Response]) -> None:
        self._handler = handler

    def handle(self, request: Request) -> Response:
        """Materialise the body and call the handler."""
        body = request.body
        if body is not None and not isinstance(body, bytes):
            try:
                body = b"".join(bytes(piece) for piece in body)
            except BodyReadError as exc:
                raise_original(exc)
            request = attrs.evolve(request, body=body)
        return self._handler(request)

    def close(self) -> None:
        """Nothing to release."""
