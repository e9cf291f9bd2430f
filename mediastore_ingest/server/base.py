"""A small threaded HTTP/1.1 server: the base of the signing relay and the local servers.

:class:`LocalHTTPServer` runs a :class:`RequestHandler` subclass in a background
thread: HTTP/1.1 with keep-alive, optional TLS (the handshake happens in the
connection's own thread, so one slow client cannot stall ``accept``), and a ``stop()``
that closes live keep-alive connections at once. By default it binds to loopback only
(the local test servers); a subclass may allow other addresses (``loopback_only``) and
name the error it raises (``error_class``).

:class:`RequestHandler` adds what ``BaseHTTPRequestHandler`` leaves to its users:
reading ``Content-Length`` and ``Transfer-Encoding: chunked`` bodies incrementally and
strictly, with size limits; deferring ``100 Continue`` until the body is really wanted;
sending JSON, fixed and chunked responses; closing the connection when a body was left
unread or broken; logging through :mod:`logging` instead of stderr; and recording every
request (:class:`RecordedRequest`) so tests can assert on what the server saw.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import json
import logging
import re
import socket
import ssl
import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from types import TracebackType
from typing import Any, ClassVar, Literal

import attrs

from mediastore_ingest._internal.redact import redact_headers, redact_query, target_repr
from mediastore_ingest._internal.validate import check_port
from mediastore_ingest.errors import (
    InvalidInputError,
    LocalStackError,
    MediaStoreIngestError,
    RequestBodyError,
)

__all__ = [
    "LocalHTTPServer",
    "RecordedRequest",
    "RequestHandler",
]

logger = logging.getLogger(__name__)

_CHUNK_SIZE_RE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_DIGITS_RE = re.compile(r"[0-9]{1,19}")
_MAX_LINE = 8192
_MAX_TRAILERS = 64
_READ_SIZE = 64 * 1024


@attrs.frozen
class RecordedRequest:
    """One request as a local server received it.

    ``headers`` keeps the received order and spelling; the values that may be
    credentials (a ``User-Agent`` can be an ingest secret, an ``Authorization`` a
    SigV4 signature) are :class:`Redacted`: equal to the value, but not shown by a
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


class RequestHandler(BaseHTTPRequestHandler):
    """Base handler: subclass it and define ``do_GET`` and friends.

    ``self.owner`` is the :class:`LocalHTTPServer` that runs the handler. Read bodies
    with :meth:`iter_body` / :meth:`read_body`; answer with :meth:`send_body`,
    :meth:`send_json` or :meth:`start_chunked` / :meth:`write_chunk` /
    :meth:`end_chunked`.
    """

    protocol_version = "HTTP/1.1"
    server_version = "mediastore-ingest-local"
    #: TCP_NODELAY: a response head and body are separate writes; with Nagle's
    #: algorithm the second waits for the peer's delayed ACK (~40 ms per request).
    disable_nagle_algorithm = True
    sys_version = ""
    #: Idle timeout of a keep-alive connection, and of any read from the peer.
    timeout = 30.0
    #: Unread request bodies up to this size are drained to keep the connection;
    #: larger ones close it.
    drain_limit = 1024 * 1024
    #: How long a closing connection waits for the peer to stop sending.
    linger_timeout = 2.0

    server: _Server

    # --- connection set-up and tear-down ---------------------------------------

    def setup(self) -> None:
        """Do the TLS handshake (in this connection's thread), then the usual set-up."""
        context = self.server.ssl_context
        self.tls = context is not None
        if context is not None:
            raw = self.request
            raw.settimeout(self.timeout)
            secure = context.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
            self.server.swap_connection(raw, secure)  # so stop() can reach it mid-handshake
            self.request = secure
            try:
                secure.do_handshake()
            except BaseException:
                self.server.forget_connection(secure)
                secure.close()
                raise
        super().setup()

    def finish(self) -> None:
        """Flush, linger, then close a TLS socket (the plain one is closed by the server)."""
        try:
            super().finish()
            self._linger()
        finally:
            if self.tls:
                self.server.forget_connection(self.request)
                self.request.close()

    def _linger(self) -> None:
        # Closing a socket with unread input makes the kernel send RST, which can
        # destroy the response the peer has not read yet (a 413 sent while the client
        # is still uploading). So: stop sending, read and discard what the peer still
        # sends, for a bounded amount and time, and close only then.
        with contextlib.suppress(OSError, ValueError):
            socket.socket.shutdown(self.request, socket.SHUT_WR)
            self.request.settimeout(self.linger_timeout)
            discarded = 0
            while discarded <= self.drain_limit:
                data = self.request.recv(_READ_SIZE)
                if not data:
                    break
                discarded += len(data)

    @property
    def owner(self) -> LocalHTTPServer:
        """The :class:`LocalHTTPServer` running this handler."""
        return self.server.owner

    @property
    def peer(self) -> str:
        """The peer's IP address."""
        return str(self.client_address[0])

    # --- request loop -------------------------------------------------------------

    def _reset_request_state(self) -> None:
        self.command = ""
        self.path = ""
        self.headers = http.client.HTTPMessage()
        self._status: int | None = None
        self._bytes_in = 0
        self._bytes_out = 0
        self._body_state: Literal["unread", "reading", "read", "broken"] = "unread"
        self._expect_continue = False
        self._continue_sent = False
        self._record: RecordedRequest | None = None
        self._close_announced = False
        self._body_with_head = b""

    def _update_record(self) -> None:
        if not self.owner.keeps_request_log:
            return
        record = RecordedRequest(
            method=self.command,
            path=self.path,
            # the request head does not change between the two updates of one request
            headers=(
                self._record.headers if self._record is not None
                else redact_headers(self.headers.items())
            ),
            peer=self.peer,
            tls=self.tls,
            status=self._status,
            bytes_received=self._bytes_in,
            bytes_sent=self._bytes_out,
        )
        self.owner.record(record, replacing=self._record)
        self._record = record

    def handle_one_request(self) -> None:
        """Serve one request, then drain or close; record it as it goes.

        The request enters the owner's log when the response head is sent (so a client
        that has its answer can already find it there) and is updated at the end.
        """
        self._reset_request_state()
        try:
            super().handle_one_request()
            if self.command and not self.close_connection:
                self._drain_unread_body()
        finally:
            if self.command:
                self._update_record()

    def end_headers(self) -> None:
        """Finish the response head; the first final one puts the request in the log."""
        if self._status is not None and self._record is None and self.command:
            self._update_record()
        super().end_headers()

    def flush_headers(self) -> None:
        """Write the buffered response head (and a small body queued by :meth:`send_body`)."""
        body, self._body_with_head = self._body_with_head, b""
        buffered: list[bytes] | None = getattr(self, "_headers_buffer", None)
        if body and buffered is not None:
            buffered.append(body)
            body = b""
        super().flush_headers()
        if body:
            self.wfile.write(body)

    def handle_expect_100(self) -> bool:
        """Defer ``100 Continue`` until the handler reads the body (it may refuse first)."""
        self._expect_continue = True
        return True

    def version_string(self) -> str:
        """The ``Server`` header value."""
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Log through :mod:`logging` (DEBUG) instead of writing to stderr."""
        if logger.isEnabledFor(logging.DEBUG):  # every response logs: format only if shown
            line = redact_query(format % args)  # request lines carry signed URLs
            logger.debug("%s %s - %s", type(self.owner).__name__, self.peer, line)

    # --- request bodies -----------------------------------------------------------

    @property
    def is_chunked(self) -> bool:
        """True when the request declares ``Transfer-Encoding`` (only chunked is read)."""
        return self.headers.get("Transfer-Encoding") is not None

    def content_length(self) -> int | None:
        """The declared ``Content-Length``, ``None`` if absent; :class:`RequestBodyError` if bad."""
        values = self.headers.get_all("Content-Length") or []
        if not values:
            return None
        if len(set(values)) != 1 or not _DIGITS_RE.fullmatch(values[0].strip()):
            self._body_state = "broken"
            raise RequestBodyError("invalid Content-Length", reason="malformed")
        return int(values[0].strip())

    def has_body(self) -> bool:
        """True when the request carries a (possibly empty chunked) body."""
        if self.is_chunked:
            return True
        try:
            length = self.content_length()
        except RequestBodyError:
            return True
        return bool(length)

    def send_continue(self) -> None:
        """Send ``100 Continue`` now if the client asked for it and has not had it."""
        if self._expect_continue and not self._continue_sent:
            self._continue_sent = True
            self.send_response_only(100)
            self.end_headers()

    def iter_body(self, *, max_size: int | None = None) -> Generator[bytes, None, None]:
        """Yield the request body piece by piece as it arrives.

        Handles ``Content-Length`` and ``Transfer-Encoding: chunked`` (trailers read and
        ignored). Raises :class:`RequestBodyError` when the body exceeds ``max_size`` (checked
        before reading when the length is declared), ends early, or is badly framed;
        after that the connection closes once the response is sent.
        """
        if self._body_state != "unread":
            raise self.owner.error_class("the request body was already read")
        try:
            if self.is_chunked:
                encoding = self.headers.get("Transfer-Encoding", "").strip().lower()
                if encoding != "chunked" or self.headers.get("Content-Length") is not None:
                    raise RequestBodyError("unsupported Transfer-Encoding", reason="malformed")
                self._body_state = "reading"
                self.send_continue()
                yield from self._iter_chunked(max_size)
            else:
                length = self.content_length() or 0
                if max_size is not None and length > max_size:
                    raise RequestBodyError(
                        f"body of {length} bytes is over the limit of {max_size}",
                        reason="too_large",
                    )
                self._body_state = "reading"
                if length:
                    self.send_continue()
                yield from self._iter_fixed(length)
        except RequestBodyError:
            self._body_state = "broken"
            self.close_connection = True
            raise
        except (OSError, ValueError) as exc:  # timeouts, resets, closed files
            self._body_state = "broken"
            self.close_connection = True
            raise RequestBodyError(
                "the connection failed while reading the body", reason="incomplete"
            ) from exc
        self._body_state = "read"

    def read_body(self, *, max_size: int | None = None) -> bytes:
        """The whole request body (see :meth:`iter_body`)."""
        return b"".join(self.iter_body(max_size=max_size))

    def _iter_fixed(self, length: int) -> Iterator[bytes]:
        remaining = length
        while remaining:
            piece = self.rfile.read1(min(remaining, _READ_SIZE))
            if not piece:
                raise RequestBodyError(
                    f"body ended after {length - remaining} of {length} bytes",
                    reason="incomplete",
                )
            remaining -= len(piece)
            self._bytes_in += len(piece)
            yield piece

    def _read_line(self) -> bytes:
        line = self.rfile.readline(_MAX_LINE + 1)
        if not line.endswith(b"\n"):
            if len(line) > _MAX_LINE:
                raise RequestBodyError("chunked framing line too long", reason="malformed")
            raise RequestBodyError("body ended inside chunked framing", reason="incomplete")
        if not line.endswith(b"\r\n"):
            raise RequestBodyError("chunked framing line not ended by CRLF", reason="malformed")
        return line[:-2]

    def _iter_chunked(self, max_size: int | None) -> Iterator[bytes]:
        total = 0
        while True:
            size_field = self._read_line().split(b";", 1)[0].rstrip(b" \t")
            if not _CHUNK_SIZE_RE.fullmatch(size_field):
                raise RequestBodyError("invalid chunk size", reason="malformed")
            size = int(size_field, 16)
            if size == 0:
                break
            total += size
            if max_size is not None and total > max_size:
                raise RequestBodyError(
                    f"chunked body is over the limit of {max_size} bytes", reason="too_large"
                )
            remaining = size
            while remaining:
                piece = self.rfile.read(min(remaining, _READ_SIZE))
                if not piece:
                    raise RequestBodyError("body ended inside a chunk", reason="incomplete")
                remaining -= len(piece)
                self._bytes_in += len(piece)
                yield piece
            end = self.rfile.read(2)
            if end != b"\r\n":
                if len(end) < 2:
                    raise RequestBodyError("body ended after a chunk", reason="incomplete")
                raise RequestBodyError("chunk data not followed by CRLF", reason="malformed")
        for _ in range(_MAX_TRAILERS):
            if not self._read_line():
                return
        raise RequestBodyError("too many trailer fields", reason="malformed")

    def _must_close_after_response(self) -> bool:
        if self._body_state in ("broken", "reading"):
            return True
        if self._body_state != "unread" or not self.command or not self.has_body():
            return False
        if self._expect_continue and not self._continue_sent:
            return True  # the client may or may not send the body now: do not guess
        if self.is_chunked:
            return False  # drained after the response, closed if too long
        try:
            length = self.content_length() or 0
        except RequestBodyError:
            return True
        return length > self.drain_limit

    def _drain_unread_body(self) -> None:
        if self._body_state == "unread" and self.has_body():
            try:
                for _ in self.iter_body(max_size=self.drain_limit):
                    pass
            except RequestBodyError:
                self.close_connection = True
        elif self._body_state != "read" and self._body_state != "unread":
            self.close_connection = True

    # --- responses ----------------------------------------------------------------

    def send_response(self, code: int, message: str | None = None) -> None:
        """Start a response; add ``Connection: close`` when the body cannot be kept."""
        self._close_announced = False
        super().send_response(code, message)
        if code >= 200:
            self._status = code
            if self.close_connection or self._must_close_after_response():
                self.send_header("Connection", "close")

    def send_header(self, keyword: str, value: str) -> None:
        """Send one header line (``Connection: close`` at most once per response)."""
        if keyword.lower() == "connection" and value.lower() == "close":
            if self._close_announced:
                return
            self._close_announced = True
        super().send_header(keyword, value)

    def _send_head(
        self, status: int, headers: Iterable[tuple[str, str]] | Mapping[str, str]
    ) -> None:
        self.send_response(status)
        items = headers.items() if isinstance(headers, Mapping) else headers
        for name, value in items:
            self.send_header(name, value)

    def send_body(
        self,
        status: int,
        body: bytes = b"",
        *,
        content_type: str | None = None,
        headers: Iterable[tuple[str, str]] | Mapping[str, str] = (),
        head: bool = False,
        content_length: int | None = None,
    ) -> None:
        """Send a complete response with ``Content-Length`` (no body for ``head``).

        ``content_length`` overrides the header (for HEAD answers describing a body).
        """
        self._send_head(status, headers)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        length = len(body) if content_length is None else content_length
        self.send_header("Content-Length", str(length))
        if not head and body and len(body) <= _READ_SIZE:
            # A small body leaves in the same write as the head: one TLS record and one
            # wake-up of the peer instead of two.
            self._body_with_head = body
            self.end_headers()
            self._bytes_out += len(body)
            return
        self.end_headers()
        if not head and body:
            self.wfile.write(body)
            self._bytes_out += len(body)

    def send_json(
        self,
        status: int,
        document: object,
        *,
        headers: Iterable[tuple[str, str]] | Mapping[str, str] = (),
        head: bool = False,
        content_type: str = "application/json",
    ) -> None:
        """Send ``document`` as compact JSON."""
        body = json.dumps(document, separators=(",", ":")).encode("utf-8")
        self.send_body(status, body, content_type=content_type, headers=headers, head=head)

    def write_body(self, data: bytes) -> None:
        """Send part of a response body whose head (with ``Content-Length``) is sent."""
        if data:
            self.wfile.write(data)
            self._bytes_out += len(data)

    def start_chunked(
        self,
        status: int,
        *,
        content_type: str | None = None,
        headers: Iterable[tuple[str, str]] | Mapping[str, str] = (),
    ) -> None:
        """Send the head of a ``Transfer-Encoding: chunked`` response."""
        self._send_head(status, headers)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def write_chunk(self, data: bytes) -> None:
        """Send one chunk (empty data sends nothing) and flush it."""
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
            self._bytes_out += len(data)

    def end_chunked(self) -> None:
        """Send the last chunk, ending a chunked response."""
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def abort_connection(self) -> None:
        """Give up on this connection: nothing more is sent, the socket closes."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.flush()
        _shutdown_socket(self.request)


def _shutdown_socket(sock: socket.socket) -> None:
    # Call the plain socket's shutdown even for an SSLSocket: it wakes any thread
    # blocked on the socket without tearing down the TLS object under its feet.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[RequestHandler],
        *,
        owner: LocalHTTPServer,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        self.owner = owner
        self.ssl_context = ssl_context
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._handler_threads: set[threading.Thread] = set()
        super().__init__(address, handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (a DNS lookup); not needed here.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        # One daemon thread per connection, remembered so stop() can wait for it.
        thread = threading.Thread(
            target=self._run_connection, args=(request, client_address), daemon=True
        )
        with self._connections_lock:
            self._connections.add(request)
            self._handler_threads.add(thread)
        thread.start()

    def _run_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._handler_threads.discard(threading.current_thread())

    def join_handlers(self, timeout: float) -> None:
        with self._connections_lock:
            threads = list(self._handler_threads)
        for thread in threads:
            thread.join(timeout)

    def shutdown_request(self, request: Any) -> None:
        self.forget_connection(request)
        super().shutdown_request(request)

    def swap_connection(self, old: socket.socket, new: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(old)
            self._connections.add(new)

    def forget_connection(self, sock: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(sock)

    def live_connections(self) -> list[socket.socket]:
        with self._connections_lock:
            return [sock for sock in self._connections if sock.fileno() >= 0]

    def close_connections(self) -> None:
        with self._connections_lock:
            live = list(self._connections)
        for sock in live:
            _shutdown_socket(sock)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug(
            "%s: connection from %s ended with an error",
            type(self.owner).__name__,
            client_address,
            exc_info=True,
        )


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
    """An HTTP/1.1 server running :attr:`handler_class` in a background thread.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. ``host`` is the
    address to bind: loopback only unless the class sets ``loopback_only = False``.
    With an ``ssl_context`` it speaks HTTPS. ``port=0`` picks a free port; read
    :attr:`port` or :attr:`base_url` after starting.
    """

    handler_class: type[RequestHandler] = RequestHandler
    #: Whether requests are kept in :attr:`requests` (a long-running server keeps none).
    keeps_request_log = True
    #: How long :meth:`stop` waits for each connection thread after closing its socket.
    stop_timeout = 5.0
    #: Refuse to bind anything but a loopback address (the local test servers' policy);
    #: a subclass that checks its address itself (the relay) sets it to ``False``.
    loopback_only: ClassVar[bool] = True
    #: What :meth:`start`, :meth:`port` and :meth:`wait_for_request` raise when the
    #: server cannot do what was asked.
    error_class: ClassVar[type[MediaStoreIngestError]] = LocalStackError

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if self.loopback_only:
            _check_loopback(host)
        check_port(port)
        self._host = host
        self._requested_port = port
        self._ssl_context = ssl_context
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._requests: list[RecordedRequest] = []
        self._requests_changed = threading.Condition()
        self._lifecycle_lock = threading.Lock()

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> LocalHTTPServer:
        """Bind and start serving in a daemon thread; returns ``self``."""
        with self._lifecycle_lock:
            if self._server is not None:
                raise self.error_class(f"{type(self).__name__} is already running")
            try:
                server = _Server(
                    (self._host, self._requested_port),
                    self.handler_class,
                    owner=self,
                    ssl_context=self._ssl_context,
                )
            except OSError as exc:
                raise self.error_class(
                    f"cannot listen on {self._host}:{self._requested_port}"
                ) from exc
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"{type(self).__name__}:{server.server_port}",
                daemon=True,
            )
            self._server, self._thread = server, thread
            thread.start()
        logger.debug("%s listening on %s", type(self).__name__, self.base_url)
        return self

    def stop(self) -> None:
        """Stop accepting, close live connections and wait for handler threads."""
        with self._lifecycle_lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None or thread is None:
            return
        server.shutdown()
        thread.join()
        self._on_stop()
        server.socket.close()
        server.close_connections()
        server.join_handlers(self.stop_timeout)
        server.server_close()

    def _on_stop(self) -> None:
        """Hook for subclasses: wake handler threads waiting on something else."""

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
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

    def _bound(self) -> _Server:
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

    def live_connections(self) -> list[socket.socket]:
        """The sockets of the connections open now (none when not running)."""
        server = self._server
        return [] if server is None else server.live_connections()

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
        upload, appears only then, with ``status=None``). Raises :attr:`error_class`
        (:class:`LocalStackError`) after ``timeout`` seconds: a safety net for a broken
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
