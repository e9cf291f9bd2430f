"""The LocalHTTPServer / RequestHandler base over real sockets: keep-alive, chunked bodies
both ways, framing and size limits, a quiet stderr, start/stop errors; TLS clients that
stall do not block others."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator

import pytest
import urllib3

from mediastore_ingest.errors import InvalidInputError, LocalStackError
from mediastore_ingest.testing import LocalCA, LocalHTTPServer
from tests._support.echo import EchoServer


@pytest.fixture
def plain() -> Iterator[EchoServer]:
    with EchoServer() as s:
        yield s  # type: ignore[misc]


def test_slow_tls_client_does_not_block_others(ca: LocalCA) -> None:
    s = EchoServer(ssl_context=ca.server_context()).start()
    idle = socket.create_connection(("127.0.0.1", s.port), timeout=10)  # never handshakes
    try:
        response = urllib3.PoolManager(ca_certs=ca.ca_bundle).request("GET", s.base_url + "/")
        assert response.data == b"hello"
    finally:
        s.stop()  # must not wait for the idle client's handshake
        assert idle.recv(1) == b""  # the server closed it
        idle.close()


def test_keep_alive_chunked_response_and_request_log(plain: EchoServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", plain.port, timeout=10)
    try:
        conn.request("GET", "/chunked", headers={"User-Agent": "probe/1"})
        first = conn.getresponse()
        assert first.getheader("Transfer-Encoding") == "chunked"
        assert first.read() == b"abcd"
        conn.request("PUT", "/p", body=b"xyz")
        assert conn.getresponse().read() == b'{"length":3,"body":"xyz"}'
        # The POST body is not read by the handler; the base drains it: same connection.
        conn.request("POST", "/ignored", body=b"z" * 5000)
        ignored = conn.getresponse()
        assert (ignored.status, ignored.read()) == (204, b"")
        conn.request("GET", "/again")
        assert conn.getresponse().read() == b"hello"
    finally:
        conn.close()
    log = plain.requests
    assert [(r.method, r.path, r.status) for r in log] == [
        ("GET", "/chunked", 200),
        ("PUT", "/p", 200),
        ("POST", "/ignored", 204),
        ("GET", "/again", 200),
    ]
    assert log[0].user_agent == "probe/1"
    assert log[0].bytes_sent == 4
    assert log[1].bytes_received == 3
    assert log[2].bytes_received == 5000  # drained by the base, not by the handler
    assert not log[0].tls
    assert len({r.peer for r in log}) == 1
    plain.clear_requests()
    assert plain.requests == []


def _exchange(server: LocalHTTPServer, raw: bytes) -> tuple[int, bytes, str | None]:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(raw)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.read(), response.getheader("Connection")


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: x\r\n\r\n", 200, None),
        (b"3\r\nabc\r\n0\r\n\r\n", 200, None),
        (b"g\r\nabc\r\n0\r\n\r\n", 400, "malformed"),
        (b"3\r\nabcXX0\r\n\r\n", 400, "malformed"),
        (b"-1\r\nabc\r\n0\r\n\r\n", 400, "malformed"),
        (b"3\nabc\r\n0\r\n\r\n", 400, "malformed"),
        (b"65\r\n" + b"a" * 101 + b"\r\n0\r\n\r\n", 413, "too_large"),
    ],
)
def test_chunked_request_parsing(
    plain: EchoServer, body: bytes, status: int, reason: str | None
) -> None:
    head = b"PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    got_status, got_body, connection = _exchange(plain, head + body)
    assert got_status == status
    if reason is None:
        assert got_body == b'{"length":5,"body":"abcde"}' or got_body.startswith(b'{"length":3')
    else:
        assert reason.encode() in got_body
        assert connection == "close"


@pytest.mark.parametrize(
    "headers",
    [
        b"Content-Length: abc\r\n",
        b"Content-Length: 3\r\nContent-Length: 4\r\n",
        b"Transfer-Encoding: gzip\r\n",
        b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n",
    ],
)
def test_bad_framing_headers_are_refused(plain: EchoServer, headers: bytes) -> None:
    request = b"PUT /c HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\nabc"
    status, _, connection = _exchange(plain, request)
    assert status == 400
    assert connection == "close"


def test_declared_length_over_limit_is_refused_before_reading(plain: EchoServer) -> None:
    status, body, connection = _exchange(
        plain,
        b"PUT /c HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n",
    )
    assert (status, connection) == (413, "close")
    assert b"too_large" in body


def test_nothing_is_written_to_stderr(plain: EchoServer, capfd: pytest.CaptureFixture[str]) -> None:
    _exchange(plain, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    with socket.create_connection(("127.0.0.1", plain.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/9.9\r\n\r\n")
        assert sock.recv(100)  # an error page, logged through logging only
    plain.stop()
    captured = capfd.readouterr()
    assert captured.err == ""


def test_lifecycle_errors() -> None:
    s = EchoServer()
    with pytest.raises(LocalStackError):
        _ = s.port
    s.start()
    try:
        with pytest.raises(LocalStackError):
            s.start()
    finally:
        s.stop()
    s.stop()  # idempotent
    assert not s.running
    with pytest.raises(InvalidInputError):
        EchoServer(host="192.0.2.1")
    with pytest.raises(InvalidInputError):
        EchoServer(port=70000)
