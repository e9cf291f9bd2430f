"""The HTTP side of a signing relay: the server and the handler of each request.

:class:`RelayHandler` admits a request (peer allow-list, token), maps it to an object
path, reads the body into a :class:`~mediastore_ingest.relay.forward.Segment` while the
:class:`~mediastore_ingest.relay.forward.Forwarder` uploads it, and answers once the
origin has. ``GET /metrics`` and ``GET /healthz`` are answered here.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import select
from collections.abc import Callable
from typing import cast
from urllib.parse import urlsplit

from mediastore_ingest._internal.redact import redact_query
from mediastore_ingest.errors import RelayError, RequestBodyError
from mediastore_ingest.relay.forward import Forwarder, Segment, logger
from mediastore_ingest.server.base import LocalHTTPServer, RequestHandler

__all__ = ["RelayHandler", "RelayServer"]


class RelayHandler(RequestHandler):
    """Serves one encoder connection of a relay."""

    server_version = "mediastore-ingest-relay"

    @property
    def forwarder(self) -> Forwarder:
        """What uploads, deletes and counts this relay's objects."""
        return cast(RelayServer, self.owner).forwarder

    @property
    def networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """The peer addresses admitted."""
        return cast(RelayServer, self.owner).networks

    # ffmpeg's HLS/DASH muxers with -http_persistent 1 do not wait for the answer to
    # one PUT before sending the next on the same connection, and close it when done
    # without reading the last answers (the kernel then resets the connection). The
    # requests they sent are still queued on our side, so a failed write must not end
    # the connection: the rest is read and forwarded, and answers are dropped.
    _peer_not_reading = False

    def _discard_head(self) -> None:
        buffered = getattr(self, "_headers_buffer", None)
        if isinstance(buffered, list):
            buffered.clear()

    def _write_safely(self, send: Callable[[], None]) -> None:
        if self._peer_not_reading:
            return
        try:
            send()
        except OSError as exc:
            self._peer_not_reading = True
            self._discard_head()
            logger.debug("relay: %s stopped reading answers (%s); still reading its requests",
                         self.peer, exc)

    def _answer(self, status: int, document: dict[str, object], method: str) -> None:
        self.forwarder.metrics.request(method, status)
        self._write_safely(
            lambda: self.send_json(status, document, head=self.command == "HEAD")
        )

    def _refuse(self, status: int, message: str, method: str | None = None) -> None:
        self.forwarder.metrics.add(refused=1)
        if status in (403, 503):
            self.close_connection = True
        self._answer(status, {"error": message}, method or self.command)

    def _admitted(self) -> bool:
        forwarder = self.forwarder
        try:
            peer = ipaddress.ip_address(self.peer)
        except ValueError:
            peer = None
        if peer is None or not any(peer in net for net in self.networks):
            logger.warning("relay: refused %s %s from %s (peer not allowed)",
                           self.command, redact_query(self.path[:200]), self.peer)
            self._refuse(403, "peer address not allowed")
            return False
        token = forwarder.config.token
        if token is not None:
            given = self.headers.get(forwarder.config.token_header) or ""
            if not hmac.compare_digest(given.encode(), token.encode()):
                self._refuse(403, f"missing or wrong {forwarder.config.token_header}")
                return False
        return True

    def do_GET(self) -> None:
        """``/metrics`` (Prometheus text) and ``/healthz``."""
        if not self._admitted():
            return
        route = urlsplit(self.path).path
        if route == "/metrics":
            body = self.forwarder.metrics.render().encode()
            self.forwarder.metrics.request("GET", 200)
            self._write_safely(lambda: self.send_body(
                200, body, content_type="text/plain; version=0.0.4; charset=utf-8",
                head=self.command == "HEAD",
            ))
        elif route == "/healthz":
            self.forwarder.metrics.request("GET", 200)
            self._write_safely(lambda: self.send_body(
                200, b"ok\n", content_type="text/plain", head=self.command == "HEAD"
            ))
        else:
            self._refuse(405, "the relay accepts PUT, POST and DELETE (GET only /metrics)")

    do_HEAD = do_GET

    def do_PUT(self) -> None:
        """Forward an object upload (POST is treated as PUT)."""
        if not self._admitted():
            return
        forwarder = self.forwarder
        try:
            path = forwarder.config.object_path(self.path)
        except ValueError as exc:
            self._refuse(400, str(exc), "PUT")
            return
        if not forwarder.enter():
            self._refuse(503, "the relay is at its in-flight limit", "PUT")
            return
        try:
            self._put(path)
        finally:
            forwarder.leave()

    do_POST = do_PUT

    def _put(self, path: str) -> None:
        forwarder = self.forwarder
        config = forwarder.config
        segment = Segment()
        future = forwarder.submit(path, segment, self.headers.get("Content-Type"))
        try:
            for piece in self.iter_body(max_size=config.max_segment_bytes):
                segment.append(piece)
                forwarder.metrics.add(bytes_received=len(piece))
        except RequestBodyError as exc:
            segment.fail(exc)
            with contextlib.suppress(Exception):
                future.result()
            if exc.reason == "too_large":
                logger.error("relay: %s refused: over %d bytes", path, config.max_segment_bytes)
                self._refuse(413, str(exc), "PUT")
            elif exc.reason == "malformed":
                self._refuse(400, str(exc), "PUT")
            else:
                forwarder.metrics.request("PUT", 499)
                self.close_connection = True
            return
        segment.finish()
        try:
            outcome = future.result()
        except Exception as exc:  # unexpected, in the upload: still count, spool, answer
            outcome = forwarder.failed(path, segment, exc, unexpected=True)
        self._answer(outcome.status, outcome.document, "PUT")

    def do_DELETE(self) -> None:
        """Forward a deletion when ``allow_delete``; else 405."""
        if not self._admitted():
            return
        forwarder = self.forwarder
        if not forwarder.config.allow_delete:
            self._refuse(405, "deletion is not enabled on this relay (allow_delete)")
            return
        try:
            path = forwarder.config.object_path(self.path)
        except ValueError as exc:
            self._refuse(400, str(exc))
            return
        if not forwarder.enter():
            self._refuse(503, "the relay is at its in-flight limit")
            return
        try:
            outcome = forwarder.delete(path)
        finally:
            forwarder.leave()
        self._answer(outcome.status, outcome.document, "DELETE")


class RelayServer(LocalHTTPServer):
    """The relay's listener: runs :class:`RelayHandler` for ``forwarder``."""

    handler_class = RelayHandler
    keeps_request_log = False  # a long-running relay: metrics count instead
    # A relay may listen beyond loopback: RelayConfig checked the address, and
    # other peers need the allow-list and the token.
    loopback_only = False
    error_class = RelayError

    def __init__(self, forwarder: Forwarder, host: str, port: int) -> None:
        super().__init__(host=host, port=port)
        self.forwarder = forwarder
        self.networks = tuple(
            ipaddress.ip_network(n) for n in forwarder.config.allowed_peers
        )

    def _on_stop(self) -> None:
        self.forwarder.drain(self.has_pending_input)

    def has_pending_input(self) -> bool:
        """True when a live connection has bytes (or an EOF) not read yet."""
        live = self.live_connections()
        if not live:
            return False
        try:
            readable, _, _ = select.select(live, [], [], 0)
        except (OSError, ValueError):
            return True  # a socket closed meanwhile: look again
        return bool(readable)
