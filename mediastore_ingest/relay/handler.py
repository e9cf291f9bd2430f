"""The HTTP side of a signing relay: the server and the handler of each request.

``RelayHandler`` admits a request (peer allow-list, token), maps it to an object
path, reads the body into the journal as fast as the encoder sends it
(``Forwarder``) and answers ``200`` once it is
committed there; the upload happens later, on the forwarder's workers, so an encoder's
connection never waits for the origin. ``GET /metrics`` and ``GET /healthz`` are
answered here.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import cast
from urllib.parse import urlsplit

import attrs

from mediastore_ingest._internal.redact import redact_query
from mediastore_ingest.errors import RelayError, RequestBodyError
from mediastore_ingest.relay.forward import Busy, Forwarder, Receipt, logger
from mediastore_ingest.server.base import LocalHTTPServer, RequestHandler

__all__ = ["RelayHandler", "RelayServer"]

#: While stopping, a connection is closed once it has sent nothing for this long: an
#: encoder sends at least one request per segment (HLS/DASH segments are commonly
#: 2-6 s long), so a live encoder keeps its connections until it ends its stream.
DRAIN_IDLE = 10.0

#: The kernel receive buffer asked for each encoder connection (the kernel may grant
#: less: ``net.core.rmem_max``). ffmpeg's muxers with ``-http_persistent 1`` close the
#: connection at the end without reading the last answers; the kernel then resets it
#: and throws away whatever ffmpeg had written but not yet sent. Data already in our
#: receive buffer is safe (it is read after the reset), so a large buffer keeps the
#: end of a stream safe even when the relay is briefly behind in reading.
RECEIVE_BUFFER = 4 * 1024 * 1024


class RelayHandler(RequestHandler):
    """Serves one encoder connection of a relay."""

    server_version = "mediastore-ingest-relay"

    def setup(self) -> None:
        """A large receive buffer first: see ``RECEIVE_BUFFER``."""
        with contextlib.suppress(OSError):
            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        cast(RelayServer, self.owner).activity(self.request, busy=False)
        super().setup()

    def finish(self) -> None:
        """Forget the connection's activity, then the usual tear-down."""
        try:
            super().finish()
        finally:
            cast(RelayServer, self.owner).forget(self.request)

    def _serving(self, serve: Callable[[], None]) -> None:
        owner = cast(RelayServer, self.owner)
        owner.activity(self.request, busy=True)
        try:
            serve()
        finally:
            owner.activity(self.request, busy=False)

    @property
    def forwarder(self) -> Forwarder:
        """What journals, uploads and counts this relay's objects."""
        return cast(RelayServer, self.owner).forwarder

    @property
    def networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """The peer addresses admitted."""
        return cast(RelayServer, self.owner).networks

    # ffmpeg's HLS/DASH muxers with -http_persistent 1 do not wait for the answer to
    # one PUT before sending the next on the same connection, and close it when done
    # without reading the last answers (the kernel then resets the connection). The
    # requests they sent are still queued on our side, so a failed write must not end
    # the connection: the rest is read and journaled, and answers are dropped.
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

    def _answer(self, status: int, document: dict[str, object], method: str,
                headers: tuple[tuple[str, str], ...] = ()) -> None:
        self.forwarder.metrics.request(method, status)
        self._write_safely(
            lambda: self.send_json(status, document, headers=headers,
                                   head=self.command == "HEAD")
        )

    def _refuse(self, status: int, message: str, reason: str, method: str | None = None,
                headers: tuple[tuple[str, str], ...] = ()) -> None:
        self.forwarder.metrics.refused(reason)
        if status in (403, 503):
            self.close_connection = True
        self._answer(status, {"error": message}, method or self.command, headers)

    def _busy(self, exc: Busy, method: str) -> None:
        retry_after = self.forwarder.config.retry_after
        logger.warning("relay: refused %s %s: %s (503, Retry-After %d)", method,
                       redact_query(self.path[:200]), exc, retry_after)
        self._refuse(503, str(exc), exc.reason, method,
                     (("Retry-After", str(retry_after)),))

    def _admitted(self) -> bool:
        forwarder = self.forwarder
        try:
            peer = ipaddress.ip_address(self.peer)
        except ValueError:
            peer = None
        if peer is None or not any(peer in net for net in self.networks):
            logger.warning("relay: refused %s %s from %s (peer not allowed)",
                           self.command, redact_query(self.path[:200]), self.peer)
            self._refuse(403, "peer address not allowed", "peer")
            return False
        token = forwarder.config.token
        if token is not None:
            given = self.headers.get(forwarder.config.token_header) or ""
            if not hmac.compare_digest(given.encode(), token.encode()):
                self._refuse(403, f"missing or wrong {forwarder.config.token_header}",
                             "token")
                return False
        return True

    def do_GET(self) -> None:
        """``/metrics`` (Prometheus text) and ``/healthz``."""
        self._serving(self._get)

    do_HEAD = do_GET

    def _get(self) -> None:
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
            self._refuse(405, "the relay accepts PUT, POST and DELETE (GET only /metrics)",
                         "method")

    def _object_path(self, method: str) -> str | None:
        try:
            return self.forwarder.config.object_path(self.path)
        except ValueError as exc:
            self._refuse(400, str(exc), "path", method)
            return None

    def do_PUT(self) -> None:
        """Journal an object upload (POST is treated as PUT); answer once it is durable."""
        self._serving(self._put)

    do_POST = do_PUT

    def _put(self) -> None:
        if not self._admitted():
            return
        path = self._object_path("PUT")
        if path is None:
            return
        forwarder = self.forwarder
        config = forwarder.config
        try:
            declared = self.content_length()
        except RequestBodyError as exc:
            forwarder.metrics.parse_error("request")
            self._refuse(400, str(exc), "malformed", "PUT")
            return
        if declared is not None and declared > config.max_segment_bytes:
            logger.error("relay: %s refused: %d bytes, over %d", path, declared,
                         config.max_segment_bytes)
            self._refuse(413, f"body of {declared} bytes is over the limit of "
                         f"{config.max_segment_bytes}", "too_large", "PUT")
            self.close_connection = True
            return
        try:
            receipt = forwarder.begin(path, method="PUT", target=self.path,
                                      headers=self.headers, declared=declared)
        except Busy as exc:
            self._busy(exc, "PUT")
            return
        except OSError as exc:
            self._journal_error(path, exc, "PUT")
            return
        self._receive(receipt, path)

    def _receive(self, receipt: Receipt, path: str) -> None:
        forwarder = self.forwarder
        config = forwarder.config
        try:
            for piece in self.iter_body(max_size=config.max_segment_bytes):
                forwarder.write(receipt, piece)
            entry = forwarder.commit(receipt)
        except RequestBodyError as exc:
            forwarder.abort(receipt)
            if exc.reason == "too_large":
                logger.error("relay: %s refused: over %d bytes", path, config.max_segment_bytes)
                self._refuse(413, str(exc), "too_large", "PUT")
            elif exc.reason == "malformed":
                forwarder.metrics.parse_error("request")
                self._refuse(400, str(exc), "malformed", "PUT")
            else:
                forwarder.metrics.request("PUT", 499)
                logger.warning("relay: %s: the encoder broke off the body (%s); nothing "
                               "journaled", path, exc)
                self.close_connection = True
            return
        except Busy as exc:
            forwarder.abort(receipt)
            self._busy(exc, "PUT")
            return
        except OSError as exc:
            forwarder.abort(receipt)
            self._journal_error(path, exc, "PUT")
            return
        except BaseException:
            forwarder.abort(receipt)
            raise
        self._answer(200, {"Path": path, "Journaled": True, "Arrival": entry.arrival,
                           "Sequence": entry.path_seq, "Size": entry.size}, "PUT")

    def _journal_error(self, path: str, exc: OSError, method: str) -> None:
        logger.error("relay: cannot journal %s %s: %s", method, path, exc)
        retry_after = self.forwarder.config.retry_after
        self._refuse(503, f"the relay cannot write its journal ({exc.strerror or exc})",
                     "journal_error", method, (("Retry-After", str(retry_after)),))

    def do_DELETE(self) -> None:
        """Journal a deletion when ``allow_delete`` (else 405): it is forwarded in its
        path's order, after any upload of that path received before it."""
        self._serving(self._delete)

    def _delete(self) -> None:
        if not self._admitted():
            return
        forwarder = self.forwarder
        if not forwarder.config.allow_delete:
            self._refuse(405, "deletion is not enabled on this relay (allow_delete)",
                         "method")
            return
        path = self._object_path("DELETE")
        if path is None:
            return
        try:
            receipt = forwarder.begin(path, method="DELETE", target=self.path,
                                      headers=self.headers, declared=0)
        except Busy as exc:
            self._busy(exc, "DELETE")
            return
        except OSError as exc:
            self._journal_error(path, exc, "DELETE")
            return
        try:
            entry = forwarder.commit(receipt)
        except OSError as exc:
            forwarder.abort(receipt)
            self._journal_error(path, exc, "DELETE")
            return
        self._answer(200, {"Path": path, "Journaled": True, "Arrival": entry.arrival},
                     "DELETE")


class RelayServer(LocalHTTPServer):
    """The relay's listener: runs ``RelayHandler`` for ``forwarder``."""

    handler_class = RelayHandler
    keeps_request_log = False  # a long-running relay: metrics count instead
    # A relay may listen beyond loopback: RelayConfig checked the address, and
    # other peers need the allow-list and the token.
    loopback_only = False
    error_class = RelayError

    def __init__(self, forwarder: Forwarder, host: str, port: int) -> None:
        config = forwarder.config
        super().__init__(
            host=host,
            port=port,
            allowed_peers=config.allowed_peers,  # refused on accept, before the head
            **attrs.asdict(config.limits),
        )
        self.forwarder = forwarder
        self.networks = tuple(
            ipaddress.ip_network(n) for n in forwarder.config.allowed_peers
        )
        #: Until when (monotonic) ``stop`` keeps reading requests on the wire.
        self.drain_deadline = 0.0
        #: How long a connection may stay idle while stopping (``DRAIN_IDLE``).
        self.drain_idle = DRAIN_IDLE
        # The relay's own registry of its connections (the base's is not reachable
        # while stopping): socket, busy in a request, since when.
        self._activity: dict[int, tuple[socket.socket, bool, float]] = {}
        self._activity_lock = threading.Lock()

    def activity(self, sock: socket.socket, *, busy: bool) -> None:
        """Note that connection ``sock`` is open and starts (``busy``) or ends a request."""
        with self._activity_lock:
            self._activity[id(sock)] = (sock, busy, time.monotonic())

    def forget(self, sock: socket.socket) -> None:
        """Connection ``sock`` is closed."""
        with self._activity_lock:
            self._activity.pop(id(sock), None)

    def connections(self) -> list[tuple[socket.socket, bool, float]]:
        """The open connections: (socket, busy in a request, since when)."""
        with self._activity_lock:
            return [entry for entry in self._activity.values() if entry[0].fileno() >= 0]

    def _on_stop(self) -> None:
        # The listener no longer accepts. Keep serving the connections open now:
        # the requests on the wire are read, journaled and answered, and a live
        # encoder (ffmpeg sends a segment, then the playlist, then waits for the next
        # segment) may finish its stream. A connection is closed once it has sent
        # nothing for drain_idle; all are closed at the deadline (then stop() does).
        while True:
            open_now = self.connections()
            now = time.monotonic()
            if not open_now:
                return
            if now >= self.drain_deadline:
                logger.error("relay: %d connection(s) still open at the shutdown deadline; "
                             "closing them (what they were sending was not acknowledged)",
                             len(open_now))
                return
            pending = self._pending([sock for sock, _, _ in open_now])
            for sock, busy, since in open_now:
                if busy or sock.fileno() in pending:
                    continue
                if now - since >= self.drain_idle:
                    with contextlib.suppress(OSError):
                        socket.socket.shutdown(sock, socket.SHUT_RDWR)
            time.sleep(0.05)

    def _pending(self, live: list[socket.socket]) -> set[int]:
        """The descriptors of the connections with bytes (or an EOF) not read yet."""
        poller = select.poll()
        try:
            for sock in live:
                poller.register(sock, select.POLLIN)
            return {fd for fd, event in poller.poll(0) if not event & select.POLLNVAL}
        except (OSError, ValueError):
            return {sock.fileno() for sock in live}  # a socket closed meanwhile: look again

    def has_pending_input(self) -> bool:
        """True when an open connection has bytes (or an EOF) not read yet."""
        live = [sock for sock, _, _ in self.connections()]
        return bool(live) and bool(self._pending(live))
