"""The server side of one HTTP/1.1 connection, sans I/O: bytes in, events out.

``ServerProtocol`` is `h11 <https://h11.readthedocs.io>`_'s server state machine
with the strictness this package wants where h11 is lenient, in one place that tests
can feed bytes to directly. The connection code (``mediastore_ingest.server.base``)
only moves bytes between the socket and this object.

h11 parses request heads and chunked trailers, decides keep-alive and
``100 Continue``, frames responses (``Content-Length``, chunked or close-delimited;
no body for HEAD, 204, 304) and holds each response to its framing, and refuses
most bad framing itself: a field name that is not a token (whitespace
before the colon, ``Content Length``), NUL, CR or LF inside a field value,
conflicting ``Content-Length`` values, a ``Transfer-Encoding`` other than ``chunked``
or a second one, a missing or repeated ``Host``. Around it, a ``_FrameScanner``
sees every byte first and refuses what h11 lets through (RFC 9112 allows some of it;
this package takes the strict choice, as :file:`DESIGN.md` says):

- a bare LF as a line end, in the head, in chunk framing and in trailers;
- obsolete line folding (a field line starting with a space or tab);
- control characters other than HTAB in the head (h11 allows ``\\x01``-``\\x1f``);
- a chunk-size line with anything but hex digits and well-formed extensions
  (h11 allows trailing whitespace: ``5 ``), more than 16 hex digits or over
  ``MAX_CHUNK_LINE`` bytes; chunk data not followed by CRLF; a trailer section
  over ``max_head_bytes``;
- a request with both ``Transfer-Encoding`` and ``Content-Length`` (h11 lets
  ``Transfer-Encoding`` win; RFC 9112 6.1 allows refusing it, and it is what request
  smuggling is made of);
- a head over ``max_head_bytes``, counted exactly, complete or not (h11 bounds only
  what it holds while a head is incomplete);
- an HTTP version other than 1.0 and 1.1 (505).

The scanner has to follow every byte to check it, so bodies are delimited and
handed on by it, one piece per read: a ``Content-Length`` body is counted against
the length h11 parsed; of a chunked body h11 is given the last chunk and the trailer
section, which it parses. Each request/response cycle has an h11 connection of its
own, so h11 never has to read a body the scanner has delimited. h11's body readers
would make an event of every chunk and every read, at some microseconds each, three
times over on the relay's path (encoder to relay, relay to edge, edge to origin):
measured, that made the relay benchmark a fifth slower.

Every refusal is a ``ProtocolError`` with the status to answer (400, 431 or 505);
``incomplete`` marks a head or body cut off by the end of the stream. After one, the
connection is unusable: answer (when there is a head to answer) and close.
"""

from __future__ import annotations

import re
from typing import Literal, cast

import h11

__all__ = ["Event", "ProtocolError", "ServerProtocol"]

#: What ``ServerProtocol.next_event`` returns.
Event = (
    h11.Request
    | h11.Data
    | h11.EndOfMessage
    | h11.ConnectionClosed
    | type[h11.NEED_DATA]
    | type[h11.PAUSED]
)

#: Longest chunk-size line (size and extensions) accepted.
MAX_CHUNK_LINE = 4096

_TOKEN = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+"
_QUOTED = rb'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"'
# RFC 9112 7.1: chunk-size [ chunk-ext ], chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] )
_CHUNK_LINE_RE = re.compile(
    rb"([0-9A-Fa-f]{1,16})(?:[ \t]*;[ \t]*%s(?:[ \t]*=[ \t]*(?:%s|%s))?)*"
    % (_TOKEN, _TOKEN, _QUOTED)
)
# Control characters a head may not hold; CR and LF are checked as line ends.
_CTL_RE = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HEAD_END = b"\r\n\r\n"
_BODY_STATES = frozenset({"fixed", "size", "data", "crlf", "trailer"})


class ProtocolError(Exception):
    """A request the server must refuse (``status``: 400, 431 or 505), or cut off by
    the end of the stream (``incomplete``). Internal: the server core answers it and
    closes the connection; a handler sees a body error as
    ``RequestBodyError``."""

    def __init__(self, message: str, *, status: int = 400, incomplete: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.incomplete = incomplete


_State = Literal[
    "head", "framing", "fixed", "size", "data", "crlf", "trailer", "done", "closed"
]


class _FrameScanner:
    """Follows the message framing over the raw byte stream, ahead of h11, and
    refuses what h11 would accept but this package does not.

    It scans each head up to its end and hands it to h11 (``to_h11``), then waits
    (state ``framing``) until h11 has parsed it and ``framed`` says how its body
    is delimited. Body data is taken out (``body``): a ``Content-Length`` body is
    counted, a chunked body checked line by line, and h11 gets its last chunk and
    trailer section. At the end of a message it stops (``done``):
    bytes pipelined after it belong to the next request, scanned once
    ``next_message`` starts it, so they cannot spoil this one. It holds what was
    received and not scanned yet, and one unfinished line (at most
    ``MAX_CHUNK_LINE``, or the head cap for trailers).
    """

    def __init__(self, max_head_bytes: int) -> None:
        self.max_head_bytes = max_head_bytes
        self.state: _State = "head"
        self.head_bytes = 0  # of the head being scanned
        self._tail = b""  # the head's last 3 bytes scanned (a CRLFCRLF may span reads)
        self._remaining = 0  # of a fixed body, a chunk, or a chunk's CRLF
        self._line = bytearray()  # an unfinished chunk-size or trailer line
        self._trailer_bytes = 0
        self._trailers = bytearray()  # the trailer section, for h11
        self._pending: list[tuple[bytes, int]] = []  # (data, offset) not scanned yet
        self.eof = False
        #: Bytes scanned that h11 is to parse (heads, fixed bodies, chunked endings).
        self.to_h11: list[bytes] = []
        #: Body data taken out, not handed on yet.
        self.body: list[bytes | memoryview] = []

    # --- feeding -----------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        if data:
            self._pending.append((data, 0))
        else:
            self.eof = True

    def scan(self) -> None:
        """Scan what was fed, up to the end of a head whose framing is not known yet."""
        if not self._pending and not self.eof:
            return
        while self._pending and self.state not in ("framing", "done", "closed"):
            data, pos = self._pending[0]
            pos = self._step(data, pos)
            if pos >= len(data):
                self._pending.pop(0)
            else:
                self._pending[0] = (data, pos)
        if self.eof and not self._pending and self.mid_message:
            what = "head" if self.state == "head" else "body"
            raise ProtocolError(f"the connection ended inside a request {what}",
                                incomplete=True)

    @property
    def mid_message(self) -> bool:
        """True when a request has begun and not ended (its head waiting for h11 aside)."""
        if self.state == "head":
            return self.head_bytes > 0
        return self.state not in ("framing", "done", "closed")

    def framed(self, kind: Literal["fixed", "chunked", "close"], length: int = 0) -> None:
        """The head just scanned has been parsed: its body is ``length`` bytes,
        chunked, or the connection closes after it (nothing more is scanned)."""
        assert self.state == "framing"
        if kind == "close":
            self.state = "closed"
        elif kind == "chunked":
            self.state = "size"
        else:
            self._remaining = length
            self.state = "fixed" if length else "done"

    def next_message(self) -> None:
        """The request/response cycle is over: scan the next request's head."""
        if self.state == "done":
            self.state = "head"
            self.head_bytes = 0
            self._tail = b""

    # --- the states ----------------------------------------------------------------------

    def _step(self, data: bytes, pos: int) -> int:
        """Scan ``data`` from ``pos``; where the scan stopped (its end, or a head's)."""
        size = len(data)
        while pos < size:
            state = self.state
            if state == "head":
                return self._scan_head(data, pos)
            if state in ("framing", "done", "closed"):
                return pos
            if state == "size" or state == "trailer":
                pos = self._scan_line(data, pos)
                continue
            take = min(self._remaining, size - pos)
            if state == "crlf":
                expected = b"\r\n"[2 - self._remaining : 2 - self._remaining + take]
                if data[pos : pos + take] != expected:
                    raise ProtocolError("chunk data not followed by CRLF")
            elif pos == 0 and take == size:  # body data, handed on (copied once at most)
                self.body.append(data)
            else:
                self.body.append(memoryview(data)[pos : pos + take])
            pos += take
            self._remaining -= take
            if self._remaining:
                return pos
            if state == "fixed":
                self.state = "done"
            elif state == "crlf":
                self.state = "size"
            elif data[pos : pos + 2] == b"\r\n":  # the chunk's CRLF, read with it
                pos += 2
                self.state = "size"
            else:
                self.state, self._remaining = "crlf", 2
        return pos

    def _scan_line(self, data: bytes, pos: int) -> int:
        """One chunk-size or trailer line (or part of it); where the scan stopped."""
        state = self.state
        end = data.find(b"\n", pos)
        limit = MAX_CHUNK_LINE if state == "size" else self.max_head_bytes
        if end == -1:
            self._line += data[pos:]
            if len(self._line) + self._trailer_bytes > limit:
                raise ProtocolError(f"chunked framing line over {limit} bytes")
            return len(data)
        if self._line:
            self._line += data[pos : end + 1]
            line, self._line = bytes(self._line), bytearray()
        else:
            line = data[pos : end + 1]
        if len(line) + self._trailer_bytes > limit:
            raise ProtocolError(f"chunked framing line over {limit} bytes")
        if line[-2:-1] != b"\r" or b"\r" in line[:-2]:
            raise ProtocolError("chunked framing line not ended by CRLF")
        if state == "size":
            self._chunk_size(line[:-2])
        else:
            self._trailer(line[:-2])
        return end + 1

    def _scan_head(self, data: bytes, pos: int) -> int:
        tail = self._tail
        # where the head ends: a CRLFCRLF across the previous read, or inside this one
        joined = tail + data[pos : pos + 3]
        at = joined.find(_HEAD_END)
        if at != -1:
            end = pos + at + 4 - len(tail)
        else:
            found = data.find(_HEAD_END, pos)
            end = -1 if found == -1 else found + 4
        stop = len(data) if end == -1 else end
        first = data[pos : pos + 1]
        # every LF ends a CRLF, and no line starts with whitespace (obsolete folding)
        lf = data.count(b"\n", pos, stop)
        if lf:
            crlf = data.count(b"\r\n", pos, stop) + (tail[-1:] == b"\r" and first == b"\n")
            if crlf != lf:
                raise ProtocolError("bare LF line end in the request head")
        if (
            data.find(b"\n ", pos, stop) != -1
            or data.find(b"\n\t", pos, stop) != -1
            or (tail[-1:] == b"\n" and first in (b" ", b"\t"))
        ):
            raise ProtocolError("obsolete line folding in the request head")
        if _CTL_RE.search(data, pos, stop) is not None:
            raise ProtocolError("control character in the request head")
        self.head_bytes += stop - pos
        if self.head_bytes > self.max_head_bytes:
            raise ProtocolError(
                f"request head over {self.max_head_bytes} bytes", status=431
            )
        self.to_h11.append(data if pos == 0 and stop == len(data) else data[pos:stop])
        if end == -1:
            self._tail = (tail + data[max(pos, len(data) - 3) :])[-3:]
            return len(data)
        self.state = "framing"
        return end

    def _chunk_size(self, line: bytes) -> None:
        match = _CHUNK_LINE_RE.fullmatch(line)
        if match is None:
            raise ProtocolError("invalid chunk-size line")
        size = int(match.group(1), 16)
        if size:
            self.state, self._remaining = "data", size
        else:
            self.state, self._trailer_bytes = "trailer", 0

    def _trailer(self, line: bytes) -> None:
        if not line:  # the empty line: the message ends; h11 reads its end
            self.to_h11.append(b"0\r\n" + bytes(self._trailers) + b"\r\n")
            self._trailers = bytearray()
            self.state = "done"
            return
        self._trailers += line + b"\r\n"
        self._trailer_bytes += len(line) + 2
        if line[:1] in (b" ", b"\t"):
            raise ProtocolError("obsolete line folding in the trailer section")
        if _CTL_RE.search(line) is not None:
            raise ProtocolError("control character in the trailer section")


class ServerProtocol:
    """One server connection's HTTP/1.1 state: ``receive`` the bytes read,
    take ``next_event`` until ``NEED_DATA``, ``send`` responses.

    ``max_head_bytes`` caps each request head (and the trailer section), exactly.
    ``next_event`` raises ``ProtocolError`` for a request to refuse. Each
    request/response cycle has an h11 connection of its own (made in a microsecond),
    so h11 need not read a body that the scanner delimits.
    """

    def __init__(self, *, max_head_bytes: int) -> None:
        self.max_head_bytes = max_head_bytes
        self._scanner = _FrameScanner(max_head_bytes)
        self._new_cycle()

    def _new_cycle(self) -> None:
        # h11 bounds what it buffers of an incomplete head too; the scanner's exact
        # count refuses first, so h11's bound is one byte larger.
        self._h11 = h11.Connection(
            h11.SERVER, max_incomplete_event_size=self.max_head_bytes + 1
        )
        self._eof_passed = False
        self._fixed_length = 0  # of the request being read, when it is not chunked
        self._request_complete = False

    # --- receiving -----------------------------------------------------------------------

    def receive(self, data: bytes) -> None:
        """Add bytes read from the peer (``b""``: the peer closed its side)."""
        self._scanner.feed(data)

    def next_event(self) -> Event:
        """The next request, body piece, end of message, or ``NEED_DATA``/``PAUSED``."""
        scanner = self._scanner
        if scanner._pending or scanner.eof:
            scanner.scan()
        if scanner.body:  # body data: all there is, in one piece
            body = scanner.body
            first = body[0]
            data = first if len(body) == 1 and type(first) is bytes else b"".join(body)
            body.clear()
            return h11.Data(data=data)
        state = scanner.state
        if not scanner.to_h11:
            if state in _BODY_STATES or (state == "head" and not scanner.eof):
                return h11.NEED_DATA  # inside a body or a head, h11 has nothing to say yet
            if state == "done" and self._fixed_length and not self._request_complete:
                self._request_complete = True  # the scanner counted the declared length
                return h11.EndOfMessage()
            if self._request_complete:
                return h11.PAUSED  # the next request waits for the next cycle
        connection = self._h11
        for piece in scanner.to_h11:
            connection.receive_data(piece)
        scanner.to_h11.clear()
        if scanner.eof and not scanner._pending and not self._eof_passed:
            connection.receive_data(b"")
            self._eof_passed = True
        try:
            event = connection.next_event()
        except h11.RemoteProtocolError as exc:
            # what h11 refuses that the scanner let through: 400 (h11 hints 501 for a
            # transfer coding it does not know; DESIGN.md asks 400 for every framing error)
            raise ProtocolError(str(exc)) from exc
        if type(event) is h11.Request:
            self._check_request(event)
        elif type(event) is h11.EndOfMessage:  # of a bodiless or a chunked request
            self._request_complete = True
        # a server's h11 connection receives nothing but these
        return cast(Event, event)

    def _check_request(self, request: h11.Request) -> None:
        if request.http_version not in (b"1.0", b"1.1"):
            self._scanner.framed("close")
            raise ProtocolError(
                f"HTTP/{request.http_version.decode('ascii')} is not supported", status=505
            )
        chunked = content_length = False
        length = 0
        for name, value in request.headers:
            if name == b"transfer-encoding":
                chunked = True  # h11 took only "chunked", once
            elif name == b"content-length":
                content_length = True
                length = int(value)
        if chunked and content_length:
            self._scanner.framed("close")
            raise ProtocolError("both Transfer-Encoding and Content-Length")
        if chunked:
            self._scanner.framed("chunked")
        else:
            self._fixed_length = length  # 0: h11 ends the message itself
            self._scanner.framed("fixed", length)

    @property
    def head_bytes(self) -> int:
        """Bytes of the next request's head received so far (0: none yet)."""
        return self._scanner.head_bytes if self._scanner.state == "head" else 0

    @property
    def buffered(self) -> bool:
        """True when bytes are received but not turned into events yet."""
        scanner = self._scanner
        return bool(
            scanner._pending or scanner.body or scanner.to_h11 or self._h11.trailing_data[0]
        )

    @property
    def request_complete(self) -> bool:
        """True once the request's end of message was returned."""
        return self._request_complete

    # --- sending and the cycle -------------------------------------------------------------

    def send(self, event: h11.InformationalResponse | h11.Response | h11.Data | h11.EndOfMessage
             ) -> bytes:
        """The bytes of ``event`` (h11's ``LocalProtocolError`` for one the
        cycle does not allow: a body for HEAD, more than ``Content-Length``...)."""
        return self._h11.send(event)

    def start_next_cycle(self) -> None:
        """The request was read to its end and answered: get ready for the next one."""
        if not self._request_complete or self._h11.our_state is not h11.DONE:
            raise h11.LocalProtocolError("the request/response cycle is not over")
        self._new_cycle()
        self._scanner.next_message()

    @property
    def our_state(self) -> type:
        """h11's state of the response side (``h11.SEND_RESPONSE``, ``h11.DONE``...)."""
        return self._h11.our_state

    @property
    def waiting_for_100_continue(self) -> bool:
        """True when the client waits for ``100 Continue`` before sending its body."""
        return self._h11.they_are_waiting_for_100_continue
