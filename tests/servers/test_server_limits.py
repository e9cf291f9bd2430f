"""The server core's limits over real sockets: head cap, header and keep-alive
deadlines, a body's minimum rate, connection caps, the allow-list on accept, the
listen backlog, and the memory 300 maximum heads take.

Deadlines are configured short here (fractions of a second); the assertions on time
are the limits themselves, with generous margins.
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mediastore_ingest.errors import InvalidInputError, RequestBodyError
from mediastore_ingest.server import LocalHTTPServer, RequestHandler, ServerLimits
from mediastore_ingest.testing import LocalContainer

ROOT = Path(__file__).resolve().parents[2]


class Store(RequestHandler):
    """PUT stores the body at the path; GET reads it back."""

    def do_PUT(self) -> None:
        try:
            body = self.read_body(max_size=8 * 1024 * 1024)
        except RequestBodyError as exc:
            if exc.reason == "incomplete":
                self.abort_connection()
            else:
                self.send_json(413 if exc.reason == "too_large" else 400, {"reason": exc.reason})
            return
        self.owner.stored[self.path] = body  # type: ignore[attr-defined]
        self.send_json(200, {"length": len(body)})

    def do_GET(self) -> None:
        body = self.owner.stored.get(self.path)  # type: ignore[attr-defined]
        if body is None:
            self.send_body(404)
        else:
            self.send_body(200, body)


class StoreServer(LocalHTTPServer):
    handler_class = Store

    def __init__(self, **limits: object) -> None:
        super().__init__(**limits)  # type: ignore[arg-type]
        self.stored: dict[str, bytes] = {}


@pytest.fixture
def make_server() -> Iterator[type[StoreServer]]:
    started: list[StoreServer] = []

    class Started(StoreServer):
        def __init__(self, **limits: object) -> None:
            super().__init__(**limits)
            self.start()
            started.append(self)

    yield Started
    for server in started:
        server.stop()


def connect(server: LocalHTTPServer, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=timeout)


def put(server: LocalHTTPServer, path: str, body: bytes) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("PUT", path, body=body)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a reset counts as closing)."""
    data = b""
    try:
        while more := sock.recv(65536):
            data += more
    except ConnectionResetError:
        pass
    return data


def wait_for(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


# --- the limits as values --------------------------------------------------------------


def test_defaults_suit_encoders_on_loopback() -> None:
    limits = ServerLimits()
    assert limits.max_head_bytes == 32 * 1024
    assert limits.header_timeout == 10.0
    assert limits.idle_timeout == 30.0
    assert (limits.body_grace, limits.body_min_rate) == (20.0, 500.0)
    assert limits.max_connections == 1024
    assert limits.max_connections_per_peer == 512
    assert limits.backlog >= 128
    assert LocalHTTPServer().limits == limits
    assert LocalHTTPServer(max_head_bytes=4096, backlog=200).limits == ServerLimits(
        max_head_bytes=4096, backlog=200
    )
    assert LocalContainer(tls=False, limits=ServerLimits(header_timeout=2.0)).limits == (
        ServerLimits(header_timeout=2.0)
    )


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("max_head_bytes", 10),
        ("max_head_bytes", 1.5),
        ("header_timeout", 0),
        ("idle_timeout", -1.0),
        ("body_grace", float("nan")),
        ("body_min_rate", -5),
        ("io_timeout", True),
        ("max_connections", 0),
        ("max_connections_per_peer", "8"),
        ("backlog", 0),
    ],
)
def test_limits_are_checked(name: str, bad: object) -> None:
    with pytest.raises(InvalidInputError, match=name):
        LocalHTTPServer(**{name: bad})  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["not-an-address", 42, b"127.0.0.1", ["10.0.0.0/33"]])
def test_allowed_peers_are_checked(bad: object) -> None:
    with pytest.raises(InvalidInputError, match="allowed_peers"):
        LocalHTTPServer(allowed_peers=bad)  # type: ignore[arg-type]


def test_peer_filter_takes_one_range_or_many() -> None:
    one = LocalHTTPServer(allowed_peers="127.0.0.0/8").peers
    assert one.admits("127.0.0.9")
    assert not one.admits("10.0.0.1")
    assert one.admits("::ffff:127.0.0.1")  # an IPv4 peer on a dual-stack socket
    many = LocalHTTPServer(allowed_peers=["10.0.0.0/8", "::1"]).peers
    assert many.admits("::1")
    assert many.admits("10.1.2.3")
    assert not many.admits("127.0.0.1")
    assert LocalHTTPServer().peers.admits("192.0.2.1")  # None: anyone
    assert not many.admits("not an address")


# --- the head ----------------------------------------------------------------------------


def _head_of(size: int) -> bytes:
    """A complete PUT head of exactly ``size`` bytes."""
    start = b"PUT /h HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nX-Pad: "
    return start + b"p" * (size - len(start) - 4) + b"\r\n\r\n"


def test_a_head_at_the_cap_is_served_one_byte_more_gets_431(make_server: type) -> None:
    server = make_server(max_head_bytes=1024)
    with connect(server) as sock:
        sock.sendall(_head_of(1024))
        assert read_until_closed_or_answer(sock).startswith(b"HTTP/1.1 200")
    with connect(server) as sock:
        sock.sendall(_head_of(1025))
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 431")
    assert b"Connection: close" in answer
    assert server.counters()["head_too_large"] == 1


def read_until_closed_or_answer(sock: socket.socket) -> bytes:
    response = http.client.HTTPResponse(sock)
    response.begin()
    response.read()
    return f"HTTP/1.1 {response.status}".encode()


def test_an_endless_head_is_refused_at_the_cap_not_at_its_end(make_server: type) -> None:
    server = make_server(max_head_bytes=2048)
    with connect(server) as sock:
        sock.sendall(b"PUT /h HTTP/1.1\r\nHost: x\r\nX-Long: ")
        try:
            for _ in range(100):  # 100 KiB of one header line, never ended
                sock.sendall(b"a" * 1024)
        except OSError:
            pass  # refused and closed while we were still sending: the point
        answer = read_until_closed(sock)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431")
    assert server.counters()["head_too_large"] == 1
    assert server.requests == []


def test_the_default_cap_takes_a_30_kib_head_not_a_40_kib_one(make_server: type) -> None:
    server = make_server()
    with connect(server) as sock:
        sock.sendall(_head_of(30 * 1024))
        assert read_until_closed_or_answer(sock).startswith(b"HTTP/1.1 200")
    with connect(server) as sock:
        sock.sendall(_head_of(40 * 1024))
        assert read_until_closed(sock).startswith(b"HTTP/1.1 431")


def test_a_slow_head_gets_408_at_the_header_deadline(make_server: type) -> None:
    server = make_server(header_timeout=0.5)
    with connect(server) as sock:
        started = time.monotonic()
        sock.sendall(b"PUT /slow HTTP/1.1\r\nHost: x\r\n")
        answer = read_until_closed(sock)
        took = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408")
    assert 0.4 <= took < 5.0
    assert server.counters()["header_timeout"] == 1
    assert server.stored == {}


def test_a_head_dripping_bytes_is_cut_at_the_deadline_too(make_server: type) -> None:
    # One byte every 0.1 s: each read is quick, the whole head is not (slowloris).
    server = make_server(header_timeout=0.6)
    with connect(server) as sock:
        started = time.monotonic()
        closed = False
        for byte in b"PUT /slow HTTP/1.1\r\nHost: x\r\nX-Drip: " + b"d" * 200:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                closed = True
                break
            time.sleep(0.1)
            if time.monotonic() - started > 6:
                break
        took = time.monotonic() - started
    assert closed or took < 6
    assert took < 6.0
    assert server.counters()["header_timeout"] == 1


def test_a_new_connection_that_sends_nothing_is_closed_at_the_header_deadline(
    make_server: type,
) -> None:
    server = make_server(header_timeout=0.3, idle_timeout=60.0)
    with connect(server) as sock:
        assert read_until_closed(sock) == b""  # no head, no answer: just closed
    assert server.counters()["header_timeout"] == 1


def test_a_keep_alive_connection_is_closed_after_the_idle_timeout(make_server: type) -> None:
    server = make_server(idle_timeout=0.4, header_timeout=5.0)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("PUT", "/a", body=b"one")
        assert conn.getresponse().read() == b'{"length":3}'
        first = conn.sock
        conn.request("PUT", "/b", body=b"two")  # within the idle timeout: same connection
        assert conn.getresponse().read() == b'{"length":3}'
        assert conn.sock is first
        assert read_until_closed(first) == b""  # then idle: closed, no answer
    finally:
        conn.close()
    assert server.counters()["idle_timeout"] == 1


# --- the body ----------------------------------------------------------------------------


def test_a_body_under_the_minimum_rate_is_cut_and_not_stored(make_server: type) -> None:
    server = make_server(body_grace=0.3, body_min_rate=1000.0)
    with connect(server) as sock:
        sock.sendall(b"PUT /drip HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
        started = time.monotonic()
        try:
            while time.monotonic() - started < 8:
                sock.sendall(b"0123456789")  # 100 bytes/s, far under 1000
                time.sleep(0.1)
        except OSError:
            pass
        took = time.monotonic() - started
        read_until_closed(sock)
    assert took < 5.0
    assert server.counters()["body_timeout"] == 1
    assert server.stored == {}
    assert [r.status for r in server.requests] == [None]


def test_a_body_at_a_fine_rate_may_take_longer_than_the_grace(make_server: type) -> None:
    # The rule is a rate, not a deadline: 1.2 s of body at ~320 KiB/s is fine.
    server = make_server(body_grace=0.2, body_min_rate=1000.0)
    piece = b"x" * 32768
    with connect(server) as sock:
        sock.sendall(b"PUT /steady HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: %d\r\n\r\n" % (len(piece) * 12))
        for _ in range(12):
            sock.sendall(piece)
            time.sleep(0.1)
        assert read_until_closed_or_answer(sock) == b"HTTP/1.1 200"
    assert server.stored["/steady"] == piece * 12


def test_a_body_waiting_for_a_slow_handler_is_not_too_slow(make_server: type) -> None:
    # The bytes were there; the handler was late to read them: not the peer's fault.
    class Late(Store):
        def do_PUT(self) -> None:
            time.sleep(0.6)
            super().do_PUT()

    class LateServer(StoreServer):
        handler_class = Late

    server = LateServer(body_grace=0.1, body_min_rate=100.0).start()
    try:
        assert put(server, "/late", b"y" * 200_000) == 200
        assert server.stored["/late"] == b"y" * 200_000
    finally:
        server.stop()


# --- connections ---------------------------------------------------------------------------


def test_over_the_connection_cap_is_closed_on_accept_then_served_once_room(
    make_server: type,
) -> None:
    server = make_server(max_connections=3, header_timeout=30.0)
    held = [connect(server) for _ in range(3)]
    try:
        wait_for(lambda: server.active_connections() == 3)
        with connect(server) as extra:  # the kernel accepts; the server closes at once
            extra.sendall(b"PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx")
            assert read_until_closed(extra) == b""
        assert server.counters()["refused.too_many_connections"] == 1
        assert server.active_connections() == 3
        held.pop().close()
        wait_for(lambda: server.active_connections() == 2)
        assert put(server, "/x", b"x") == 200
        assert server.stored == {"/x": b"x"}
    finally:
        for sock in held:
            sock.close()


def test_over_the_per_peer_cap_is_closed_on_accept(make_server: type) -> None:
    server = make_server(max_connections=10, max_connections_per_peer=2, header_timeout=30.0)
    held = [connect(server) for _ in range(2)]
    try:
        wait_for(lambda: server.active_connections() == 2)
        with connect(server) as extra:
            assert read_until_closed(extra) == b""
        assert server.counters()["refused.too_many_from_peer"] == 1
    finally:
        for sock in held:
            sock.close()


def test_threads_are_bounded_by_the_cap(make_server: type) -> None:
    server = make_server(max_connections=5, header_timeout=30.0)
    before = threading.active_count()
    socks = []
    try:
        for _ in range(40):
            socks.append(connect(server))
        wait_for(lambda: server.counters().get("refused.too_many_connections", 0) == 35)
        assert server.active_connections() == 5
        assert threading.active_count() - before <= 5
    finally:
        for sock in socks:
            sock.close()


def test_a_peer_outside_the_allow_list_is_closed_before_its_head_is_read(
    make_server: type,
) -> None:
    server = make_server(allowed_peers=["192.0.2.0/24"])
    with connect(server) as sock:  # nothing sent: the refusal cannot depend on a head
        assert read_until_closed(sock) == b""
    with connect(server) as sock:
        sock.sendall(b"PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx")
        assert read_until_closed(sock) == b""
    assert server.counters()["refused.peer_not_allowed"] == 2
    assert server.requests == []
    assert server.stored == {}
    admitted = make_server(allowed_peers=["127.0.0.0/8"])
    assert put(admitted, "/ok", b"ok") == 200


def test_the_listen_backlog_takes_a_burst_of_200_connects(make_server: type) -> None:
    server = make_server(header_timeout=30.0)
    assert server.limits.backlog >= 128
    socks = []
    try:
        for _ in range(200):
            socks.append(connect(server))  # each connect must complete: none waits out
        wait_for(lambda: server.active_connections() == 200)
    finally:
        for sock in socks:
            sock.close()
    assert "refused.too_many_connections" not in server.counters()


# --- memory: 300 connections holding maximum heads ----------------------------------------

_SERVER_SCRIPT = textwrap.dedent(
    """
    import sys
    from mediastore_ingest.server import LocalHTTPServer, RequestHandler

    class Sink(RequestHandler):
        def do_PUT(self):
            n = sum(len(p) for p in self.iter_body())
            self.send_json(200, {"length": n})

    class SinkServer(LocalHTTPServer):
        handler_class = Sink

    server = SinkServer(header_timeout=60.0, max_connections=400,
                        max_connections_per_peer=400).start()
    print(server.port, flush=True)
    sys.stdin.read()
    server.stop()
    """
)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.slow
def test_300_connections_holding_maximum_heads_stay_under_200_mb() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER_SCRIPT], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, text=True,
    )
    socks: list[socket.socket] = []
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        baseline = _rss_mb(proc.pid)
        limit = ServerLimits().max_head_bytes
        # a head one line short of complete, 64-byte lines up to just under the cap
        start = b"PUT /big HTTP/1.1\r\nHost: x\r\n"
        line = b"X-Fill: " + b"f" * 54 + b"\r\n"
        almost = start + line * ((limit - len(start) - 2) // len(line))
        assert limit - 100 < len(almost) < limit
        for _ in range(300):
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            sock.sendall(almost)
            socks.append(sock)
        time.sleep(1.0)  # let every connection thread read its head so far
        rss = _rss_mb(proc.pid)
        # every connection is still held (none refused, none answered)
        for sock in socks[::30]:
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):
                sock.recv(1)
            sock.setblocking(True)
        print(f"server RSS: {baseline:.1f} MB idle, {rss:.1f} MB with 300 maximum heads")
        assert rss < 200, rss
        # and it still serves
        with socket.create_connection(("127.0.0.1", port), timeout=30) as ok:
            ok.sendall(b"PUT /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok")
            assert ok.recv(100).startswith(b"HTTP/1.1 200")
    finally:
        for sock in socks:
            sock.close()
        proc.communicate("", timeout=30)
