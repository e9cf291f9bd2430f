"""The request handler: one instance per connection, serving its requests in turn.

``RequestHandler`` moves bytes between its socket and a
``ServerProtocol`` (h11 plus this package's
strict checks) and gives subclasses the handler API the relay and the local servers
use: ``do_GET``/``do_PUT``/..., ``self.headers``, ``iter_body``,
``send_body`` and the rest.

What a handler never sees: a head that did not complete (cut off, over the cap, too
slow: it is discarded or answered ``400``/``408``/``431``/``505`` by the core, and the
connection closes), and a malformed head. A body that is cut off, malformed, too
large or too slow makes ``iter_body`` raise
``RequestBodyError`` before its end, so nothing built
from it is complete; the connection then closes after the response.

Deadlines (from ``ServerLimits``) are socket
timeouts computed before each read: the head's (``header_timeout``), the keep-alive
wait's (``idle_timeout``), the body's minimum rate (``body_grace`` +
``received / body_min_rate``) and ``io_timeout`` for any one read or write.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import re
import socket
import ssl
import time
from collections.abc import Generator, Iterable, Iterator, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Literal

import h11

from mediastore_ingest._internal.redact import redact_headers, redact_query
from mediastore_ingest.errors import RequestBodyError
from mediastore_ingest.server.headers import RequestHeaders
from mediastore_ingest.server.protocol import Event, ProtocolError, ServerProtocol
from mediastore_ingest.server.records import RecordedRequest

if TYPE_CHECKING:
    from mediastore_ingest.server.base import LocalHTTPServer
    from mediastore_ingest.server.limits import ServerLimits
    from mediastore_ingest.server.listener import Listener

__all__ = ["RequestHandler"]

logger = logging.getLogger("mediastore_ingest.server.base")

_READ_SIZE = 64 * 1024
#: A response body up to this size leaves in the same write as its head.
_ONE_WRITE = 64 * 1024
#: How long an error answer of the core (400, 408...) may take to write.
_ERROR_WRITE_TIMEOUT = 2.0
_FRAMING_FIELDS = frozenset({b"content-length", b"transfer-encoding", b"connection"})
_TOKEN_RE = re.compile(rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
_BAD_VALUE_RE = re.compile(rb"[\x00\r\n]")


_NO_FIELDS = RequestHeaders()  # immutable: one empty set of fields serves every request
_date_cache: tuple[int, str] = (0, "")


def _http_date() -> str:
    """Now as an HTTP date, made once a second."""
    global _date_cache
    now = int(time.time())
    second, text = _date_cache
    if second != now:
        text = email.utils.formatdate(now, usegmt=True)
        _date_cache = (now, text)
    return text


class _PeerGone(BrokenPipeError):
    """A write failed earlier on this connection; nothing more is written."""


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


class RequestHandler:
    """Base handler: subclass it and define ``do_GET`` and friends.

    ``self.owner`` is the ``LocalHTTPServer`` that runs
    the handler; one handler object serves one connection, request after request
    (keep-alive and pipelining), so per-connection state can live on ``self``. For
    each request, ``command``, ``path``, ``request_version`` and ``headers``
    (``RequestHeaders``) describe it. Read
    bodies with ``iter_body`` / ``read_body``; answer with ``send_body``,
    ``send_json``, ``start_chunked`` / ``write_chunk`` /
    ``end_chunked``, or ``send_response`` / ``send_header`` /
    ``end_headers`` / ``write_body``. Set ``close_connection`` to close after
    the response; ``abort_connection`` drops it at once.

    A handler that returns without answering gets ``500`` (and a close) from the core,
    unless it closed the connection, or a write to the peer failed earlier (then the
    peer is taken as gone or not reading: later answers are not written, but requests
    already on the wire are still read and handled).
    """

    protocol_version = "HTTP/1.1"
    #: The ``Server`` header value.
    server_version = "mediastore-ingest-local"
    #: TCP_NODELAY: a response head and body are separate writes; with Nagle's
    #: algorithm the second waits for the peer's delayed ACK (~40 ms per request).
    disable_nagle_algorithm = True
    #: When set, caps every wait of this handler class (the server's limits otherwise).
    timeout: float | None = None
    #: Unread request bodies up to this size are drained to keep the connection;
    #: larger ones close it.
    drain_limit = 1024 * 1024
    #: How long a closing connection waits for the peer to stop sending.
    linger_timeout = 2.0

    def __init__(self, request: socket.socket, client_address: Any, server: Listener) -> None:
        self.request = request
        self.client_address = client_address
        self.server = server
        self.tls = False
        self.close_connection = True
        self.trailers = _NO_FIELDS
        self._limits: ServerLimits = server.limits
        self._clock = time.monotonic
        self._accepted_at = self._clock()
        self._protocol = ServerProtocol(max_head_bytes=self._limits.max_head_bytes)
        self._peer_gone = False
        self._timeout_set: float | None = None
        self._aborted = False
        self._wrote = False  # something was written in this request/response cycle
        connection = server.connection_of(request)
        if connection is not None:
            connection.pending_input = lambda: self._protocol.buffered
        self._reset_request_state()
        self.setup()
        try:
            self.handle()
        finally:
            self.finish()

    # --- connection set-up and tear-down ---------------------------------------------

    def setup(self) -> None:
        """Set TCP_NODELAY and do the TLS handshake (in this connection's thread)."""
        raw = self.request
        if self.disable_nagle_algorithm:
            with contextlib.suppress(OSError):
                raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        context = self.server.ssl_context
        self.tls = context is not None
        if context is None:
            return
        # The handshake is part of the first head's time (header_timeout).
        raw.settimeout(max(self._head_deadline(first=True) - self._clock(), 0.001))
        secure = context.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
        self.server.swap_connection(raw, secure)  # so stop() can reach it mid-handshake
        self.request = secure
        try:
            secure.do_handshake()
        except BaseException:
            self.server.forget_connection(secure)
            secure.close()
            raise

    def finish(self) -> None:
        """Linger after a last response, then close a TLS socket (the listener closes
        the plain one)."""
        try:
            if self._wrote and not self._aborted and not self._peer_gone:
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
            deadline = self._clock() + self.linger_timeout
            discarded = 0
            while discarded <= self.drain_limit:
                remaining = deadline - self._clock()
                if remaining <= 0:
                    break
                self._set_timeout(remaining)
                data = self.request.recv(_READ_SIZE)
                if not data:
                    break
                discarded += len(data)

    @property
    def owner(self) -> LocalHTTPServer:
        """The ``LocalHTTPServer`` running this handler."""
        return self.server.owner

    @property
    def peer(self) -> str:
        """The peer's IP address."""
        return str(self.client_address[0])

    # --- the request loop -----------------------------------------------------------------

    def _reset_request_state(self) -> None:
        self.command = ""
        self.path = ""
        self.request_version = ""
        self.requestline = ""
        self.headers = _NO_FIELDS
        self.trailers = _NO_FIELDS
        self._status: int | None = None
        self._bytes_in = 0
        self._bytes_out = 0
        self._body_state: Literal["unread", "reading", "read", "broken"] = "unread"
        self._expect_continue = False
        self._continue_sent = False
        self._record: RecordedRequest | None = None
        self._close_announced = False
        self._head: tuple[int, str, list[tuple[bytes, bytes]]] | None = None
        self._hold_head = False
        self._out: list[bytes] = []
        self._response_chunked = False
        self._chunked_ended = False
        self._wrote = False

    def handle(self) -> None:
        """Serve requests until the connection closes."""
        first = True
        while True:
            request = self._read_head(first=first)
            if request is None:
                return
            first = False
            self._serve_request(request)
            if self.close_connection or not self._next_cycle():
                return

    def _head_deadline(self, *, first: bool) -> float:
        start = self._accepted_at if first else self._clock()
        return start + self._limits.header_timeout

    def _read_head(self, *, first: bool) -> h11.Request | None:
        """The next request head, or None when the connection is over (closed by the
        peer, idle too long, or a head refused: answered here)."""
        self._reset_request_state()
        proto = self._protocol
        limits = self._limits
        head_deadline = self._head_deadline(first=True) if first else None
        idle_deadline = self._clock() + limits.idle_timeout
        while True:
            try:
                event = proto.next_event()
            except ProtocolError as exc:
                self._refuse_head(exc)
                return None
            if type(event) is h11.Request:
                return event
            if event is not h11.NEED_DATA:  # ConnectionClosed (PAUSED cannot be here)
                return None
            started = proto.head_bytes > 0
            if started and head_deadline is None:
                head_deadline = self._head_deadline(first=False)
            deadline = head_deadline if head_deadline is not None else idle_deadline
            try:
                data = self._recv(deadline)
            except TimeoutError:
                if started or first:
                    self.owner._count("header_timeout")
                    if started:  # no lingering for a peer this slow
                        self._answer_error(408, "the request head took too long",
                                           linger=False)
                else:
                    self.owner._count("idle_timeout")
                return None
            except OSError:
                return None
            proto.receive(data)

    def _recv(self, deadline: float, size: int = _READ_SIZE) -> bytes:
        """One read of at most ``size`` bytes, waiting until ``deadline`` at most
        (TimeoutError after it); ``b""`` at the end of the stream."""
        remaining = deadline - self._clock()
        if self.timeout is not None:
            remaining = min(remaining, self.timeout)
        sock = self.request
        if remaining <= 0:
            # Late: take what is already there (the peer is not slow if the bytes
            # waited for us), else it is a timeout.
            self._set_timeout(0.0)
            try:
                return sock.recv(size)
            except (BlockingIOError, InterruptedError, ssl.SSLWantReadError) as exc:
                raise TimeoutError from exc
        self._set_timeout(remaining)
        return sock.recv(size)

    def _set_timeout(self, seconds: float) -> None:
        # settimeout is a system call: the one set is kept while it is at most 5 %
        # longer (a wait may end that much after its deadline, never before).
        current = self._timeout_set
        if current is None or not seconds <= current <= seconds * 1.05:
            self.request.settimeout(seconds)
            self._timeout_set = seconds

    def _refuse_head(self, exc: ProtocolError) -> None:
        if exc.incomplete:
            self.owner._count("incomplete_head")
            logger.debug("%s %s: head cut off: %s", type(self.owner).__name__, self.peer, exc)
            return
        self.owner._count({431: "head_too_large", 505: "bad_version"}.get(exc.status,
                                                                          "bad_request"))
        logger.debug("%s %s: refused a request: %s", type(self.owner).__name__, self.peer, exc)
        self._answer_error(exc.status, str(exc))

    def _answer_error(self, status: int, message: str, *, linger: bool = True) -> None:
        """Answer ``status`` from the core and close (the head is not usable); with
        ``linger``, the close waits for the peer to stop sending (see ``finish``)."""
        self.close_connection = True
        if self._peer_gone:
            return
        body = (message + "\n").encode("ascii", "replace")
        head = (
            f"HTTP/1.1 {status} {_phrase(status)}\r\nServer: {self.version_string()}\r\n"
            f"Date: {self.date_time_string()}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode("latin-1")
        with contextlib.suppress(OSError):
            self._set_timeout(_ERROR_WRITE_TIMEOUT)
            self.request.sendall(head + body)
            self._wrote = linger

    def _serve_request(self, request: h11.Request) -> None:
        self.command = request.method.decode("ascii")
        self.path = request.target.decode("latin-1")
        self.request_version = "HTTP/" + request.http_version.decode("ascii")
        self.requestline = f"{self.command} {self.path} {self.request_version}"
        self.headers = RequestHeaders(
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in request.headers.raw_items()
        )
        connection = [v.strip().lower() for v in ",".join(
            self.headers.get_all("Connection") or []).split(",")]
        self.close_connection = request.http_version == b"1.0" or "close" in connection
        self._expect_continue = self._protocol.waiting_for_100_continue
        method = getattr(self, "do_" + self.command, None)
        try:
            if method is None:
                self.owner._count("unsupported_method")
                self._answer_error(501, f"unsupported method {self.command!r}")
                return
            try:
                method()
            except RequestBodyError as exc:  # not handled: answer it, if nothing was sent
                if self._status is None and exc.reason != "incomplete":
                    self._answer_body_error(exc)
                self.close_connection = True
            except OSError:  # the peer went away (a failed write is remembered)
                self.close_connection = True
            except Exception:
                if self._status is None and not self._peer_gone:
                    self._answer_error(500, "internal error")
                self.close_connection = True
                raise
            self._complete_response()
            if not self.close_connection:
                self._drain_unread_body()
        finally:
            if self.command:
                self._update_record()

    def _answer_body_error(self, exc: RequestBodyError) -> None:
        status = 413 if exc.reason == "too_large" else 400
        with contextlib.suppress(OSError, _PeerGone, h11.LocalProtocolError):
            self.send_body(status, (str(exc) + "\n").encode(), content_type="text/plain")

    def _complete_response(self) -> None:
        """After the handler: end its response, or make up for the one it did not send."""
        if self._aborted:
            self.close_connection = True
            return
        if self._head is not None:  # a head never ended: a half-built response
            self.close_connection = True
            return
        proto = self._protocol
        state = proto.our_state
        if state is h11.SEND_RESPONSE:  # no final response
            if self._peer_gone and not self.close_connection:
                # Keep the cycle going without writing: the requests already sent
                # are still read (see the class docstring).
                proto.send(h11.Response(status_code=500, headers=[("Content-Length", "0")]))
                proto.send(h11.EndOfMessage())
            elif not self.close_connection:
                logger.warning("%s: %s %s was not answered", type(self.owner).__name__,
                               self.command, redact_query(self.path[:200]))
                self._answer_error(500, "the request was not answered")
            else:
                self.close_connection = True
        elif state is h11.SEND_BODY:
            if self._response_chunked and not self._chunked_ended:
                self.close_connection = True  # unfinished: the peer must see it cut off
                return
            try:
                proto.send(h11.EndOfMessage())
            except h11.LocalProtocolError:  # less than the declared Content-Length
                self.close_connection = True

    def _next_cycle(self) -> bool:
        proto = self._protocol
        if proto.our_state is not h11.DONE or not proto.request_complete:
            return False
        proto.start_next_cycle()
        return True

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

    # --- logging -------------------------------------------------------------------------

    def version_string(self) -> str:
        """The ``Server`` header value."""
        return self.server_version

    def date_time_string(self) -> str:
        """The ``Date`` header value, now."""
        return _http_date()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log the request line and the status (DEBUG)."""
        self.log_message('"%s" %s %s', self.requestline, str(code), str(size))

    def log_message(self, format: str, *args: Any) -> None:
        """Log through ``logging`` (DEBUG) instead of writing to stderr."""
        if logger.isEnabledFor(logging.DEBUG):  # every response logs: format only if shown
            line = redact_query(format % args)  # request lines carry signed URLs
            logger.debug("%s %s - %s", type(self.owner).__name__, self.peer, line)

    # --- request bodies ---------------------------------------------------------------------

    @property
    def is_chunked(self) -> bool:
        """True when the request declares ``Transfer-Encoding`` (only chunked is accepted)."""
        return self.headers.get("Transfer-Encoding") is not None

    def content_length(self) -> int | None:
        """The declared ``Content-Length``, ``None`` if absent.

        The core has checked it (digits only; repeated values equal); the value
        ``RequestBodyError`` is kept for callers that catch it.
        """
        values = self.headers.get_all("Content-Length")
        if not values:
            return None
        try:
            lengths = {int(part) for value in values for part in value.split(",")}
        except ValueError:
            lengths = set()
        if len(lengths) != 1:
            self._body_state = "broken"
            raise RequestBodyError("invalid Content-Length", reason="malformed")
        return lengths.pop()

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
        if (
            self._expect_continue
            and not self._continue_sent
            and self._protocol.our_state is h11.SEND_RESPONSE  # not after a final answer
        ):
            self._continue_sent = True
            self._write(self._protocol.send(
                h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue")
            ))

    def iter_body(
        self, *, max_size: int | None = None, within: float | None = None
    ) -> Generator[bytes, None, None]:
        """Yield the request body piece by piece as it arrives.

        Handles ``Content-Length`` and ``Transfer-Encoding: chunked`` (trailers are
        read into ``trailers``). Raises ``RequestBodyError`` when the body
        exceeds ``max_size`` (``"too_large"``, checked before reading when the length
        is declared), is badly framed (``"malformed"``), ends early or arrives too
        slowly (``"incomplete"``: under the server's minimum rate, or not all within
        ``within`` seconds of this call); after that the connection closes once the
        response is sent.
        """
        if self._body_state != "unread":
            raise self.owner.error_class("the request body was already read")
        try:
            length = 0
            if not self.is_chunked:
                length = self.content_length() or 0
                if max_size is not None and length > max_size:
                    raise RequestBodyError(
                        f"body of {length} bytes is over the limit of {max_size}",
                        reason="too_large",
                    )
            self._body_state = "reading"
            if self.is_chunked or length:
                self.send_continue()
            yield from self._body_pieces(max_size, within)
        except RequestBodyError:
            self._body_state = "broken"
            self.close_connection = True
            raise
        except OSError as exc:  # resets, a socket shut down by stop()
            self._body_state = "broken"
            self.close_connection = True
            raise RequestBodyError(
                "the connection failed while reading the body", reason="incomplete"
            ) from exc
        self._body_state = "read"

    def read_body(self, *, max_size: int | None = None, within: float | None = None) -> bytes:
        """The whole request body (see ``iter_body``)."""
        return b"".join(self.iter_body(max_size=max_size, within=within))

    def _body_pieces(self, max_size: int | None, within: float | None) -> Iterator[bytes]:
        proto = self._protocol
        next_event = proto.next_event
        limits = self._limits
        clock = self._clock
        start = clock()
        hard = None if within is None else start + within
        total = 0
        event: Event | None = None
        try:
            while True:
                if event is None:
                    event = next_event()
                if type(event) is h11.Data:
                    # One piece per read: the chunks (or parts of chunks) already
                    # received are joined, so a handler (and an upload behind it)
                    # handles a few large pieces, not one per chunk of the encoder's.
                    parts = [event.data]
                    event = next_event()
                    while type(event) is h11.Data:
                        parts.append(event.data)
                        event = next_event()
                    piece = bytes(parts[0]) if len(parts) == 1 else b"".join(parts)
                    total += len(piece)
                    if max_size is not None and total > max_size:
                        raise RequestBodyError(
                            f"body is over the limit of {max_size} bytes", reason="too_large"
                        )
                    self._bytes_in += len(piece)
                    yield piece
                    continue  # ``event`` is the one after the piece
                if type(event) is h11.EndOfMessage:
                    if event.headers:
                        self.trailers = RequestHeaders(
                            (n.decode("latin-1"), v.decode("latin-1"))
                            for n, v in event.headers.raw_items()
                        )
                    return
                if event is not h11.NEED_DATA:  # cannot be inside a body: h11 ends it first
                    raise RequestBodyError(f"unexpected {event!r} in a body", reason="malformed")
                event = None
                deadline = clock() + limits.io_timeout
                if limits.body_min_rate:
                    behind = start + limits.body_grace + total / limits.body_min_rate
                    deadline = min(deadline, behind)
                if hard is not None:
                    deadline = min(deadline, hard)
                try:
                    data = self._recv(deadline)
                except TimeoutError as exc:
                    self.owner._count("body_timeout")
                    raise RequestBodyError(
                        f"body too slow: {total} bytes in {clock() - start:.1f} s",
                        reason="incomplete",
                    ) from exc
                proto.receive(data)
        except ProtocolError as exc:
            if not exc.incomplete:
                self.owner._count("bad_body")
            raise RequestBodyError(
                str(exc), reason="incomplete" if exc.incomplete else "malformed"
            ) from exc

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
        if self._protocol.request_complete:
            return
        if self._body_state == "unread":
            try:
                for _ in self.iter_body(max_size=self.drain_limit):
                    pass
            except RequestBodyError:
                self.close_connection = True
        else:
            self.close_connection = True

    # --- responses ----------------------------------------------------------------------

    def send_response(self, code: int, message: str | None = None) -> None:
        """Start a response head (``Server`` and ``Date`` included); add
        ``Connection: close`` when the connection cannot be kept. A status under 200
        is sent at once (``100 Continue``: prefer ``send_continue``)."""
        if code < 200:
            self._write(self._protocol.send(h11.InformationalResponse(
                status_code=code, headers=[], reason=(message or _phrase(code)).encode("latin-1")
            )))
            if code == 100:
                self._continue_sent = True
            return
        if self._head is not None:
            raise self.owner.error_class("a response head is already being sent")
        self._close_announced = False
        self._head = (code, message if message is not None else _phrase(code), [])
        self._status = code
        self.log_request(code)
        self.send_header("Server", self.version_string())
        self.send_header("Date", self.date_time_string())
        if self.close_connection or self._must_close_after_response():
            self.send_header("Connection", "close")

    def send_header(self, keyword: str, value: str) -> None:
        """Add one header line (``Connection: close`` at most once per response)."""
        if self._head is None:
            raise self.owner.error_class("send_header() before send_response()")
        lowered = keyword.lower()
        if lowered == "connection":
            option = value.strip().lower()
            if option == "close":
                if self._close_announced:
                    return
                self._close_announced = True
                self.close_connection = True
            elif option == "keep-alive":
                self.close_connection = False
        self._head[2].append((keyword.encode("latin-1"), value.strip().encode("latin-1")))

    def end_headers(self) -> None:
        """Finish the response head and send it (the first final one puts the request
        in the log)."""
        if self._head is None:
            raise self.owner.error_class("end_headers() before send_response()")
        status, reason, fields = self._head
        self._head = None
        if self._record is None and self.command:
            self._update_record()
        # h11 gets the fields that frame the message (it checks them, keeps the body
        # to them, and adds Transfer-Encoding or Connection: close as needed); the
        # other fields are checked here and written after them, in order.
        framing: list[tuple[bytes, bytes]] = []
        other: list[bytes] = []
        for name, value in fields:
            if name.lower() in _FRAMING_FIELDS:
                framing.append((name, value))
            elif _TOKEN_RE.fullmatch(name) is None or _BAD_VALUE_RE.search(value) is not None:
                raise self.owner.error_class(
                    f"cannot send the response header {name.decode('latin-1')!r}: "
                    "not a field name, or CR, LF or NUL in its value"
                )
            else:
                other.append(b"%s: %s\r\n" % (name, value))
        bodiless = self.command == "HEAD" or status in (204, 304)
        self._response_chunked = not bodiless and not any(
            name.lower() == b"content-length" for name, _ in framing
        )
        try:
            data = self._protocol.send(h11.Response(
                status_code=status, headers=framing, reason=reason.encode("latin-1")
            ))
        except h11.LocalProtocolError as exc:
            raise self.owner.error_class(f"cannot send this response head: {exc}") from exc
        if other:  # h11's head ends with the empty line: the other fields go before it
            data = data[:-2] + b"".join(other) + b"\r\n"
        self._out.append(data)
        if not self._hold_head:
            self.flush_headers()

    def flush_headers(self) -> None:
        """Write what is buffered (the head, and a small body queued with it)."""
        out, self._out = self._out, []
        if out:
            self._write(b"".join(out))

    def _write(self, data: bytes) -> None:
        if self._peer_gone:
            raise _PeerGone
        if not data:
            return
        sock = self.request
        try:
            self._set_timeout(self._limits.io_timeout if self.timeout is None else self.timeout)
            sock.sendall(data)
        except OSError:
            self._peer_gone = True
            raise
        self._wrote = True

    def _send_data(self, data: bytes) -> bytes:
        try:
            return self._protocol.send(h11.Data(data=data))
        except h11.LocalProtocolError as exc:
            raise self.owner.error_class(f"cannot send this body: {exc}") from exc

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
        send_now = not head and body
        # A small body leaves in the same write as the head: one TLS record and one
        # wake-up of the peer instead of two.
        self._hold_head = True
        try:
            self.end_headers()
        finally:
            self._hold_head = False
        if send_now and len(body) > _ONE_WRITE:
            self.flush_headers()
        if send_now:
            self._out.append(self._send_data(body))
            self._bytes_out += len(body)
        try:
            self._out.append(self._protocol.send(h11.EndOfMessage()))
        except h11.LocalProtocolError:  # a HEAD-style answer to a GET: the length lied
            self.close_connection = True
        self.flush_headers()

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
        """Send part of a response body whose head is sent (framed as the head says)."""
        if data:
            self._write(self._send_data(data))
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
        """Send one chunk (empty data sends nothing)."""
        self.write_body(data)

    def end_chunked(self) -> None:
        """Send the last chunk, ending a chunked response."""
        try:
            data = self._protocol.send(h11.EndOfMessage())
        except h11.LocalProtocolError as exc:
            raise self.owner.error_class(f"cannot end this response: {exc}") from exc
        self._chunked_ended = True
        self._write(data)

    def abort_connection(self) -> None:
        """Give up on this connection: nothing more is sent, the socket closes."""
        self.close_connection = True
        self._aborted = True
        with contextlib.suppress(OSError, _PeerGone):
            self.flush_headers()
        with contextlib.suppress(OSError):
            socket.socket.shutdown(self.request, socket.SHUT_RDWR)
