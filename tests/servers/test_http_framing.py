"""The strict HTTP/1.1 front end: malformed framing gets 400 and the connection closes;
a request cut off anywhere stores nothing.

Raw sockets send the exact bytes, to a LocalContainer and through the signing relay
(edge and container behind it); the sans-I/O protocol core is also fed the same bytes
directly, split every way, so the framing rules are shown where they live.
"""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator
from typing import BinaryIO

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediastore_ingest.ingest import IngestConfig, RetryPolicy
from mediastore_ingest.relay.relay import RelayConfig, SigningRelay
from mediastore_ingest.server.protocol import ProtocolError, ServerProtocol
from mediastore_ingest.testing import LocalContainer, LocalStack

#: Anyone may do anything, over plain HTTP too: framing is what is tested here.
OPEN = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Open",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "mediastore:*",
            "Resource": "arn:aws:mediastore:us-west-2:111122223333:container/live/*",
        }
    ],
}

KEPT = b"version-1 of the object"


@pytest.fixture(scope="module")
def container() -> Iterator[LocalContainer]:
    with LocalContainer(tls=False, policy=OPEN) as c:
        yield c


@pytest.fixture(scope="module")
def relay_stack() -> Iterator[tuple[LocalStack, SigningRelay]]:
    retry = RetryPolicy(max_attempts=2, backoff_base=0.001, backoff_cap=0.01)
    with LocalStack() as stack, SigningRelay(
        stack.ingest_base_url,
        signer=stack.signer,
        config=RelayConfig(),
        ingest_config=IngestConfig(ca_bundle=stack.ca_bundle, retry=retry),
    ) as relay:
        yield stack, relay


class Target:
    """Where raw requests go, and what the origin behind it holds. ``relay``: the
    relay in front, whose journal is waited for before the origin is read (it answers
    once an object is journaled and uploads it after)."""

    def __init__(
        self, port: int, origin: LocalContainer, prefix: str, relay: SigningRelay | None = None
    ) -> None:
        self.port, self.origin, self.prefix, self.relay = port, origin, prefix, relay

    def settle(self) -> None:
        """Wait until what the target acknowledged has reached the origin."""
        if self.relay is not None:
            assert self.relay.wait_uploaded(10)

    def put_kept(self, name: str) -> str:
        """Store KEPT at ``name`` through this target; the object path."""
        path = f"live/{name}"
        status, _, _ = exchange(
            self.port,
            f"PUT /{path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(KEPT)}\r\n"
            "Connection: close\r\n\r\n".encode() + KEPT,
        )
        assert status == 200
        self.settle()
        assert self.origin.read(self.prefix + path) == KEPT
        return path


@pytest.fixture(params=["container", "relay"])
def target(request: pytest.FixtureRequest) -> Target:
    if request.param == "container":
        c = request.getfixturevalue("container")
        return Target(c.port, c, "")
    stack, relay = request.getfixturevalue("relay_stack")
    return Target(relay.port, stack.container, "", relay)


def exchange(port: int, raw: bytes, *, timeout: float = 10.0) -> tuple[int | None, bytes, bool]:
    """Send ``raw``; (status or None, body, whether the server then closed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        response = http.client.HTTPResponse(sock)
        try:
            response.begin()
        except (http.client.RemoteDisconnected, ConnectionResetError):
            return None, b"", True
        body = response.read()
        status = response.status
        try:
            closed = sock.recv(1) == b""
        except ConnectionResetError:
            closed = True
        except TimeoutError:
            closed = False
        return status, body, closed


def read_response(stream: BinaryIO) -> tuple[int, dict[str, str], bytes]:
    """One ``Content-Length`` response from ``stream`` (responses in a row share it)."""
    status = int(stream.readline().split(b" ", 2)[1])
    headers = {}
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.lower()] = value.strip()
    return status, headers, stream.read(int(headers.get("content-length", "0")))


def head(path: str, *lines: str, version: str = "HTTP/1.1") -> bytes:
    return (f"PUT /{path} {version}\r\nHost: x\r\n" + "".join(f"{line}\r\n" for line in lines)
            + "\r\n").encode()


CHUNKED_HELLO = b"5\r\nhello\r\n0\r\n\r\n"

#: (id, request bytes for object path {p}): each one malformed, each 400 and a close.
MALFORMED: list[tuple[str, bytes]] = [
    ("te-and-content-length",
     head("{p}", "Transfer-Encoding: chunked", "Content-Length: 15") + CHUNKED_HELLO),
    ("content-length-and-te",
     head("{p}", "Content-Length: 15", "Transfer-Encoding: chunked") + CHUNKED_HELLO),
    ("space-before-colon",
     head("{p}", "Content-Length: 15", "Transfer-Encoding : chunked") + CHUNKED_HELLO),
    ("tab-before-colon", head("{p}", "Content-Length\t: 5") + b"hello"),
    ("space-in-field-name", head("{p}", "Content Length: 5") + b"hello"),
    ("nul-in-value", head("{p}", "X-Note: a\x00b", "Content-Length: 5") + b"hello"),
    ("cr-in-value", head("{p}", "X-Note: a\rb", "Content-Length: 5") + b"hello"),
    ("ctl-in-value", head("{p}", "X-Note: a\x01b", "Content-Length: 5") + b"hello"),
    ("del-in-value", head("{p}", "X-Note: a\x7fb", "Content-Length: 5") + b"hello"),
    ("obs-fold", head("{p}", "X-Note: a", " folded", "Content-Length: 5") + b"hello"),
    ("space-before-first-field",
     b"PUT /{p} HTTP/1.1\r\n Host: x\r\nContent-Length: 5\r\n\r\nhello"),
    ("te-gzip", head("{p}", "Transfer-Encoding: gzip", "Content-Length: 5") + b"hello"),
    ("te-not-final-chunked",
     head("{p}", "Transfer-Encoding: chunked, gzip") + CHUNKED_HELLO),
    ("te-gzip-then-chunked",
     head("{p}", "Transfer-Encoding: gzip, chunked") + CHUNKED_HELLO),
    ("te-identity", head("{p}", "Transfer-Encoding: identity") + b"hello"),
    ("te-twice",
     head("{p}", "Transfer-Encoding: chunked", "Transfer-Encoding: chunked") + CHUNKED_HELLO),
    ("chunk-size-trailing-space", head("{p}", "Transfer-Encoding: chunked")
     + b"5 \r\nhello\r\n0\r\n\r\n"),
    ("chunk-size-trailing-tab", head("{p}", "Transfer-Encoding: chunked")
     + b"5\t\r\nhello\r\n0\r\n\r\n"),
    ("chunk-size-junk", head("{p}", "Transfer-Encoding: chunked")
     + b"5x\r\nhello\r\n0\r\n\r\n"),
    ("chunk-size-not-hex", head("{p}", "Transfer-Encoding: chunked")
     + b"zz\r\nhello\r\n0\r\n\r\n"),
    ("chunk-size-negative", head("{p}", "Transfer-Encoding: chunked")
     + b"-5\r\nhello\r\n0\r\n\r\n"),
    ("chunk-size-too-long", head("{p}", "Transfer-Encoding: chunked")
     + b"00000000000000005\r\nhello\r\n0\r\n\r\n"),
    ("chunk-ext-empty", head("{p}", "Transfer-Encoding: chunked")
     + b"5;\r\nhello\r\n0\r\n\r\n"),
    ("chunk-data-not-crlf", head("{p}", "Transfer-Encoding: chunked")
     + b"5\r\nhelloXX0\r\n\r\n"),
    ("chunk-data-too-long", head("{p}", "Transfer-Encoding: chunked")
     + b"3\r\nhello\r\n0\r\n\r\n"),
    ("bare-lf-head", b"PUT /{p} HTTP/1.1\nHost: x\nContent-Length: 5\n\nhello"),
    ("one-bare-lf-in-head", b"PUT /{p} HTTP/1.1\r\nHost: x\nContent-Length: 5\r\n\r\nhello"),
    ("bare-lf-end-of-head", b"PUT /{p} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\nhello"),
    ("bare-lf-chunk-size", head("{p}", "Transfer-Encoding: chunked")
     + b"5\nhello\r\n0\r\n\r\n"),
    ("bare-lf-after-chunk", head("{p}", "Transfer-Encoding: chunked")
     + b"5\r\nhello\n0\r\n\r\n"),
    ("bare-lf-last-chunk", head("{p}", "Transfer-Encoding: chunked") + b"5\r\nhello\r\n0\n\n"),
    ("bare-lf-trailer", head("{p}", "Transfer-Encoding: chunked")
     + b"5\r\nhello\r\n0\r\nX-T: 1\n\r\n"),
    ("obs-fold-trailer", head("{p}", "Transfer-Encoding: chunked")
     + b"5\r\nhello\r\n0\r\nX-T: 1\r\n 2\r\n\r\n"),
    ("content-length-junk", head("{p}", "Content-Length: 5x") + b"hello"),
    ("content-length-negative", head("{p}", "Content-Length: -5") + b"hello"),
    ("content-length-plus", head("{p}", "Content-Length: +5") + b"hello"),
    ("content-length-twice-differ", head("{p}", "Content-Length: 5", "Content-Length: 6")
     + b"hello!"),
    ("content-length-list-differ", head("{p}", "Content-Length: 5, 6") + b"hello!"),
    ("two-spaces-in-request-line", b"PUT  /{p} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"
     b"hello"),
    ("no-version", b"PUT /{p}\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"),
    ("leading-empty-line", b"\r\n" + head("{p}", "Content-Length: 5") + b"hello"),
    ("no-host", b"PUT /{p} HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"),
    ("two-hosts", head("{p}", "Host: y", "Content-Length: 5") + b"hello"),
]


def _fill(raw: bytes, path: str) -> bytes:
    return raw.replace(b"{p}", path.encode())


@pytest.mark.parametrize(("case", "raw"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_framing_gets_400_closes_and_stores_nothing(
    target: Target, case: str, raw: bytes
) -> None:
    path = target.put_kept(f"{case}.ts")
    status, _, closed = exchange(target.port, _fill(raw, path))
    assert status == 400, case
    assert closed, "the connection must close after a framing error"
    target.settle()
    assert target.origin.read(path) == KEPT


def test_other_http_versions_get_505(target: Target) -> None:
    path = target.put_kept("version.ts")
    status, _, closed = exchange(
        target.port, head(path, "Content-Length: 5", version="HTTP/2.0") + b"hello"
    )
    assert (status, closed) == (505, True)
    target.settle()
    assert target.origin.read(path) == KEPT


@pytest.mark.parametrize(
    "body",
    [
        b"5\r\nhello\r\n0\r\n\r\n",
        b"5;name=value\r\nhello\r\n0\r\n\r\n",
        b'5;name="quoted ; value"\r\nhello\r\n0\r\n\r\n',
        b"3\r\nhel\r\n2\r\nlo\r\n0\r\nX-Trailer: ignored\r\n\r\n",
        b"00005\r\nhello\r\n0000\r\n\r\n",
    ],
)
def test_well_formed_chunked_bodies_are_stored(container: LocalContainer, body: bytes) -> None:
    status, _, _ = exchange(
        container.port,
        head("live/good.ts", "Transfer-Encoding: chunked", "Connection: close") + body,
    )
    assert status == 200
    assert container.read("live/good.ts") == b"hello"


def test_identical_content_lengths_are_one(container: LocalContainer) -> None:
    # RFC 9112 6.3: a list of identical values may be taken as one.
    status, _, _ = exchange(
        container.port, head("live/cl.ts", "Content-Length: 5, 5", "Connection: close") + b"hello"
    )
    assert status == 200
    assert container.read("live/cl.ts") == b"hello"


def test_pipelined_requests_are_each_answered(container: LocalContainer) -> None:
    raw = (head("live/p1.ts", "Content-Length: 3") + b"one"
           + head("live/p2.ts", "Transfer-Encoding: chunked") + b"3\r\ntwo\r\n0\r\n\r\n"
           + b"GET /live/p1.ts HTTP/1.1\r\nHost: x\r\n\r\n")
    with socket.create_connection(("127.0.0.1", container.port), timeout=10) as sock:
        sock.sendall(raw)
        stream = sock.makefile("rb")
        answers = [read_response(stream) for _ in range(3)]
    statuses = [status for status, _, _ in answers]
    bodies = [body for _, _, body in answers]
    assert statuses == [200, 200, 200]
    assert bodies[2] == b"one"
    assert container.read("live/p2.ts") == b"two"


# --- cut off at every offset: nothing stored, the acknowledged object unchanged ----------


def _send_cut(port: int, data: bytes) -> bytes:
    """Send ``data``, then EOF (half-close); everything the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        try:
            while more := sock.recv(65536):
                answer += more
        except ConnectionResetError:
            pass
        return answer


def _requests(path: str) -> dict[str, tuple[bytes, bytes]]:
    new = b"version-2, never complete"
    return {
        "content-length": (
            f"PUT /{path} HTTP/1.1\r\nHost: x\r\nContent-Type: video/MP2T\r\n"
            f"Content-Length: {len(new)}\r\n\r\n".encode(),
            new,
        ),
        "chunked": (
            f"PUT /{path} HTTP/1.1\r\nHost: x\r\nContent-Type: video/MP2T\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode(),
            b"9\r\nversion-2\r\n10\r\n, never complete\r\n0\r\nX-End: 1\r\n\r\n",
        ),
    }


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_request_cut_at_any_offset_leaves_the_object_unchanged(
    container: LocalContainer, framing: str
) -> None:
    path = Target(container.port, container, "").put_kept(f"cut-{framing}.ts")
    request_head, body = _requests(path)[framing]
    whole = request_head + body
    for offset in range(len(whole)):  # every offset of the head and of the body
        answer = _send_cut(container.port, whole[:offset])
        assert not answer.startswith(b"HTTP/1.1 2"), (offset, answer)
        assert container.read(path) == KEPT, offset
    # the whole request (the control) is stored
    assert _send_cut(container.port, whole).startswith(b"HTTP/1.1 200")
    assert container.read(path) != KEPT


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_request_cut_anywhere_through_the_relay_stores_nothing(
    relay_stack: tuple[LocalStack, SigningRelay], framing: str
) -> None:
    stack, relay = relay_stack
    target = Target(relay.port, stack.container, "", relay)
    path = target.put_kept(f"relay-cut-{framing}.ts")
    request_head, body = _requests(path)[framing]
    whole = request_head + body
    body_offsets = sorted({1, 2, 3, len(body) // 2, len(body) - 2, len(body) - 1})
    for offset in [*range(len(request_head) + 1), *(len(request_head) + b for b in body_offsets)]:
        answer = _send_cut(relay.port, whole[:offset])
        assert not answer.startswith(b"HTTP/1.1 2"), (offset, answer)
        target.settle()
        assert stack.container.read(path) == KEPT, offset
    assert _send_cut(relay.port, whole).startswith(b"HTTP/1.1 200")
    target.settle()
    assert stack.container.read(path) != KEPT


def test_a_cut_off_head_is_never_seen_by_the_handler(container: LocalContainer) -> None:
    container.clear_requests()
    raw = head("live/never.ts", "Content-Length: 0")
    for offset in range(1, len(raw)):
        _send_cut(container.port, raw[:offset])
    assert container.requests == []
    assert "live/never.ts" not in container.paths()


# --- the protocol core, fed bytes directly -------------------------------------------------


def _events(data: bytes, splits: list[int]) -> list[object]:
    """Feed ``data`` cut at ``splits`` then EOF; the events up to the request's end."""
    proto = ServerProtocol(max_head_bytes=4096)
    bounds = zip([0, *splits], [*splits, len(data)], strict=True)
    pieces = [data[a:b] for a, b in bounds if b > a]  # b"" would mean EOF
    out: list[object] = []
    for piece in [*pieces, b""]:
        proto.receive(piece)
        while True:
            event = proto.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED:
                break
            if isinstance(event, h11.Data):
                out.append(bytes(event.data))
            else:
                out.append(type(event).__name__)
            if isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                return out
    return out


def _splits(size: int) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(0, size), max_size=8).map(sorted)


GOOD_CHUNKED = head("live/a.ts", "Transfer-Encoding: chunked") + (
    b"3;x=y\r\nhel\r\n2\r\nlo\r\n0\r\nX-T: 1\r\n\r\n"
)


@settings(max_examples=200, deadline=None)
@given(splits=_splits(len(GOOD_CHUNKED)))
def test_any_split_of_a_good_request_gives_the_same_request(splits: list[int]) -> None:
    events = _events(GOOD_CHUNKED, splits)
    assert events[0] == "Request"
    assert b"".join(e for e in events if isinstance(e, bytes)) == b"hello"
    assert events[-1] == "EndOfMessage"


PIPELINED = (
    head("live/a.ts", "Content-Length: 5") + b"hello"
    + head("live/b.ts", "Transfer-Encoding: chunked") + b"2\r\nwo\r\n3\r\nrld\r\n0\r\n\r\n"
    + b"GET /live/a.ts HTTP/1.1\r\nHost: x\r\n\r\n"
)


def _cycles(data: bytes, splits: list[int]) -> list[tuple[str, bytes]]:
    """Feed ``data`` cut at ``splits``, answering each request; (target, body) of each."""
    proto = ServerProtocol(max_head_bytes=4096)
    bounds = zip([0, *splits], [*splits, len(data)], strict=True)
    pieces = [data[a:b] for a, b in bounds if b > a]
    out: list[tuple[str, bytes]] = []
    target, body = "", b""
    for piece in [*pieces, b""]:
        proto.receive(piece)
        while True:
            event = proto.next_event()
            if event is h11.NEED_DATA or isinstance(event, h11.ConnectionClosed):
                break
            if isinstance(event, h11.Request):
                target, body = event.target.decode(), b""
            elif isinstance(event, h11.Data):
                body += bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                out.append((target, body))
                proto.send(h11.Response(status_code=200, headers=[("Content-Length", "0")]))
                proto.send(h11.EndOfMessage())
                proto.start_next_cycle()
    return out


@settings(max_examples=200, deadline=None)
@given(splits=_splits(len(PIPELINED)))
def test_any_split_of_pipelined_requests_gives_each_request_and_body(splits: list[int]) -> None:
    assert _cycles(PIPELINED, splits) == [
        ("/live/a.ts", b"hello"), ("/live/b.ts", b"world"), ("/live/a.ts", b"")
    ]


@settings(max_examples=30, deadline=None)
@given(case=st.sampled_from(MALFORMED), data=st.data())
def test_any_split_of_a_malformed_request_is_refused(
    case: tuple[str, bytes], data: st.DataObject
) -> None:
    raw = _fill(case[1], "live/a.ts")
    splits = data.draw(_splits(len(raw)))
    with pytest.raises(ProtocolError) as caught:
        _events(raw, splits)
    assert caught.value.status == 400


def test_the_head_cap_is_exact() -> None:
    base = head("live/a.ts", "Content-Length: 0")
    pad = 200 - len(base)
    fits = head("live/a.ts", "Content-Length: 0", "X-Pad: " + "p" * (pad - len("X-Pad: \r\n")))
    assert len(fits) == 200
    proto = ServerProtocol(max_head_bytes=200)
    proto.receive(fits)
    assert isinstance(proto.next_event(), h11.Request)
    over = ServerProtocol(max_head_bytes=199)
    over.receive(fits)
    with pytest.raises(ProtocolError) as caught:
        over.next_event()
    assert caught.value.status == 431
    # an incomplete head over the cap is refused without waiting for its end
    slow = ServerProtocol(max_head_bytes=150)
    slow.receive(fits[:-2])
    with pytest.raises(ProtocolError):
        slow.next_event()


@pytest.mark.parametrize("cut", [1, 10, 30])
def test_eof_inside_a_head_is_not_a_request(cut: int) -> None:
    proto = ServerProtocol(max_head_bytes=4096)
    proto.receive(head("live/a.ts", "Content-Length: 0")[:cut])
    assert proto.next_event() is h11.NEED_DATA
    proto.receive(b"")
    with pytest.raises(ProtocolError) as caught:
        proto.next_event()
    assert caught.value.incomplete
