"""A small threaded HTTP/1.1 server: the base of the signing relay and the local servers.

``LocalHTTPServer`` runs a ``RequestHandler`` subclass, one thread per
connection, behind a strict, bounded HTTP/1.1 front end:

- parsing is `h11 <https://h11.readthedocs.io>`_'s, with this package's stricter
  checks around it (``mediastore_ingest.server.protocol``): malformed framing gets
  ``400`` and the connection closes; a head or body cut off never reaches a handler
  as complete;
- every limit a production front end has is a keyword argument
  (``ServerLimits``: head size, header and
  keep-alive deadlines, a body's minimum rate, connection caps in all and per peer,
  the listen backlog), and peers outside ``allowed_peers`` are refused when accepted
  (``mediastore_ingest.server.listener``);
- optional TLS (the handshake happens in the connection's own thread, so one slow
  client cannot stall ``accept``), and a ``stop()`` that closes live keep-alive
  connections at once.

By default it binds to loopback only (the local test servers); a subclass may allow
other addresses (``loopback_only``) and name the error it raises (``error_class``).
Every request is recorded (``RecordedRequest``) so tests can assert on what the
server saw; ``LocalHTTPServer.counters`` counts what the front end refused.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import ssl
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, ClassVar

from mediastore_ingest._internal.validate import check_port
from mediastore_ingest.errors import (
    InvalidInputError,
    LocalStackError,
    MediaStoreIngestError,
)
from mediastore_ingest.server.handler import RequestHandler
from mediastore_ingest.server.limits import Network, PeerFilter, ServerLimits
from mediastore_ingest.server.listener import Listener
from mediastore_ingest.server.records import RecordedRequest

__all__ = [
    "LocalHTTPServer",
    "RecordedRequest",
    "RequestHandler",
    "ServerLimits",
]

logger = logging.getLogger(__name__)

_DEFAULTS = ServerLimits()


def _check_loopback(host: object) -> None:
    """Refuse a ``host`` that is not a loopback address (or ``localhost``): the bind
    policy of the local test servers."""
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback  # type: ignore[arg-type]
    except ValueError:
        loopback = False
    if not loopback:
        raise InvalidInputError(f"local test servers bind to loopback only, not {host!r}")


class LocalHTTPServer:
    """An HTTP/1.1 server running ``handler_class`` in a background thread.

    Use as a context manager, or call ``start`` and ``stop``. ``host`` is the
    address to bind: loopback only unless the class sets ``loopback_only = False``.
    With an ``ssl_context`` it speaks HTTPS. ``port=0`` picks a free port; read
    ``port`` or ``base_url`` after starting.

    The front end's limits are keyword arguments, each described in
    ``ServerLimits`` (whose defaults suit
    encoders on loopback); ``limits`` is what is in force. ``allowed_peers``
    (addresses or CIDR ranges; ``None``: anyone) is checked on accept: another peer's
    connection is closed before a byte of it is read.
    """

    handler_class: type[RequestHandler] = RequestHandler
    #: Whether requests are kept in ``requests`` (a long-running server keeps none).
    keeps_request_log = True
    #: How long ``stop`` waits for each connection thread after closing its socket.
    stop_timeout = 5.0
    #: Refuse to bind anything but a loopback address (the local test servers' policy);
    #: a subclass that checks its address itself (the relay) sets it to ``False``.
    loopback_only: ClassVar[bool] = True
    #: What ``start``, ``port`` and ``wait_for_request`` raise when the
    #: server cannot do what was asked.
    error_class: ClassVar[type[MediaStoreIngestError]] = LocalStackError

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        max_head_bytes: int = _DEFAULTS.max_head_bytes,
        header_timeout: float = _DEFAULTS.header_timeout,
        idle_timeout: float = _DEFAULTS.idle_timeout,
        body_grace: float = _DEFAULTS.body_grace,
        body_min_rate: float = _DEFAULTS.body_min_rate,
        io_timeout: float = _DEFAULTS.io_timeout,
        max_connections: int = _DEFAULTS.max_connections,
        max_connections_per_peer: int = _DEFAULTS.max_connections_per_peer,
        backlog: int = _DEFAULTS.backlog,
        allowed_peers: Iterable[str | Network] | str | Network | None = None,
    ) -> None:
        if self.loopback_only:
            _check_loopback(host)
        check_port(port)
        #: The limits in force.
        self.limits = ServerLimits(
            max_head_bytes=max_head_bytes,
            header_timeout=header_timeout,
            idle_timeout=idle_timeout,
            body_grace=body_grace,
            body_min_rate=body_min_rate,
            io_timeout=io_timeout,
            max_connections=max_connections,
            max_connections_per_peer=max_connections_per_peer,
            backlog=backlog,
        )
        #: The peers admitted (see ``PeerFilter``).
        self.peers = PeerFilter.of(allowed_peers)
        self._host = host
        self._requested_port = port
        self._ssl_context = ssl_context
        self._server: Listener | None = None
        self._thread: threading.Thread | None = None
        self._requests: list[RecordedRequest] = []
        self._requests_changed = threading.Condition()
        self._lifecycle_lock = threading.Lock()
        self._counters: Counter[str] = Counter()
        self._counters_lock = threading.Lock()
        self._stopping_server: Listener | None = None

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> LocalHTTPServer:
        """Bind and start serving in a daemon thread; returns ``self``."""
        with self._lifecycle_lock:
            if self._server is not None:
                raise self.error_class(f"{type(self).__name__} is already running")
            try:
                server = Listener(
                    self._host,
                    self._requested_port,
                    owner=self,
                    limits=self.limits,
                    peers=self.peers,
                    ssl_context=self._ssl_context,
                    serve=self._serve_connection,
                    count=self._count,
                    name=type(self).__name__,
                )
            except OSError as exc:
                raise self.error_class(
                    f"cannot listen on {self._host}:{self._requested_port}"
                ) from exc
            thread = threading.Thread(
                target=server.serve_forever,
                name=f"{type(self).__name__}:{server.server_port}",
                daemon=True,
            )
            self._server, self._thread = server, thread
            thread.start()
        logger.debug("%s listening on %s", type(self).__name__, self.base_url)
        return self

    def _serve_connection(self, sock: socket.socket, address: Any) -> None:
        server = self._server
        if server is not None:
            self.handler_class(sock, address, server)

    def stop(self) -> None:
        """Stop accepting, close live connections and wait for handler threads."""
        with self._lifecycle_lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None or thread is None:
            return
        server.shutdown()
        thread.join()
        self._on_stop_with(server)
        server.socket.close()
        server.close_connections()
        server.join_handlers(self.stop_timeout)
        server.server_close()

    def _on_stop_with(self, server: Listener) -> None:
        # _on_stop may ask has_pending_input(): the listener is still reachable then.
        self._stopping_server = server
        try:
            self._on_stop()
        finally:
            self._stopping_server = None

    def _on_stop(self) -> None:
        """Hook for subclasses: wake handler threads waiting on something else."""

    @property
    def running(self) -> bool:
        """True between ``start`` and ``stop``."""
        return self._server is not None

    def __enter__(self) -> LocalHTTPServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- addresses --------------------------------------------------------------------

    def _bound(self) -> Listener:
        if self._server is None:
            raise self.error_class(f"{type(self).__name__} is not running")
        return self._server

    @property
    def host(self) -> str:
        """The address served."""
        return self._host

    @property
    def port(self) -> int:
        """The bound TCP port (only while running)."""
        return self._bound().server_port

    @property
    def scheme(self) -> str:
        """``"https"`` with TLS, else ``"http"``."""
        return "https" if self._ssl_context is not None else "http"

    @property
    def tls(self) -> bool:
        """True when the server speaks HTTPS."""
        return self._ssl_context is not None

    @property
    def base_url(self) -> str:
        """``scheme://host:port`` (only while running)."""
        return f"{self.scheme}://{self._host}:{self.port}"

    def _listener(self) -> Listener | None:
        return self._server or self._stopping_server

    def live_connections(self) -> list[socket.socket]:
        """The sockets of the connections open now (none when not running)."""
        server = self._listener()
        return [] if server is None else server.live_connections()

    def active_connections(self) -> int:
        """How many connections are being served now."""
        server = self._listener()
        return 0 if server is None else server.active_connections()

    def has_pending_input(self) -> bool:
        """True when a live connection has received bytes that are not handled yet:
        in its parser's buffer, or waiting (with an end of stream) in its socket."""
        server = self._listener()
        return False if server is None else server.has_pending_input()

    # --- counters ----------------------------------------------------------------------

    def _count(self, name: str) -> None:
        with self._counters_lock:
            self._counters[name] += 1

    def counters(self) -> dict[str, int]:
        """What the front end refused or cut off since this server was made, by name.

        ``refused.peer_not_allowed``, ``refused.too_many_connections`` and
        ``refused.too_many_from_peer`` (connections closed on accept);
        ``bad_request`` (malformed head: 400), ``head_too_large`` (431),
        ``bad_version`` (505), ``unsupported_method`` (501), ``bad_body`` (malformed
        body framing), ``incomplete_head`` (cut off by the peer), ``header_timeout``
        (408, or a new connection that sent nothing), ``idle_timeout`` (keep-alive
        connection closed), ``body_timeout`` (a body too slow), ``accept_failed``.
        """
        with self._counters_lock:
            return dict(self._counters)

    # --- request log -------------------------------------------------------------------

    def record(self, request: RecordedRequest, *, replacing: RecordedRequest | None = None) -> None:
        """Log ``request``, in place of ``replacing`` if that is still in the log."""
        with self._requests_changed:
            # A new request is appended without scanning the log (that scan made every
            # request cost O(requests so far)); a replaced one is searched from the end,
            # where it almost always is.
            if replacing is not None:
                for index in range(len(self._requests) - 1, -1, -1):
                    if self._requests[index] is replacing:
                        self._requests[index] = request
                        break
                else:
                    self._requests.append(request)
            else:
                self._requests.append(request)
            self._requests_changed.notify_all()

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, oldest first."""
        with self._requests_changed:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        with self._requests_changed:
            self._requests.clear()

    def wait_for_request(
        self, predicate: Callable[[RecordedRequest], bool], *, timeout: float = 10.0
    ) -> RecordedRequest:
        """Block until a recorded request satisfies ``predicate``; return the first one.

        Requests enter the log when their response head is sent and are updated when
        the server is done with them (a request without an answer, e.g. a cut-off
        upload, appears only then, with ``status=None``). Raises ``error_class``
        (``LocalStackError``) after ``timeout`` seconds: a safety net for a broken
        test, not a synchronisation device.
        """
        def found() -> RecordedRequest | None:
            return next((r for r in self._requests if predicate(r)), None)

        with self._requests_changed:
            if not self._requests_changed.wait_for(lambda: found() is not None, timeout):
                raise self.error_class(f"no matching request within {timeout} s")
            result = found()
        assert result is not None
        return result
