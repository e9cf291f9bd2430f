"""LocalCA certificates and the LocalHTTPServer / RequestHandler base, over real sockets."""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator

import pytest
import urllib3
from cryptography import x509

from mediastore_ingest.errors import InvalidInputError, LocalStackError, RequestBodyError
from mediastore_ingest.testing import LocalCA, LocalHTTPServer, RequestHandler

NOW = datetime.datetime(2030, 6, 1, 12, 0, tzinfo=datetime.timezone.utc)


class Echo(RequestHandler):
    def do_PUT(self) -> None:
        try:
            body = self.read_body(max_size=100)
        except RequestBodyError as exc:
            self.send_json(413 if exc.reason == "too_large" else 400, {"reason": exc.reason})
            return
        self.send_json(200, {"length": len(body), "body": body.decode("latin-1")})

    def do_POST(self) -> None:
        # Answers without reading the body: the base drains it (small) or closes.
        self.send_body(204)

    def do_GET(self) -> None:
        if self.path == "/chunked":
            self.start_chunked(200, content_type="text/plain")
            self.write_chunk(b"ab")
            self.write_chunk(b"")
            self.write_chunk(b"cd")
            self.end_chunked()
        else:
            self.send_body(200, b"hello", content_type="text/plain")


class EchoServer(LocalHTTPServer):
    handler_class = Echo


@pytest.fixture
def server(ca: LocalCA) -> Iterator[EchoServer]:
    with EchoServer(ssl_context=ca.server_context()) as s:
        yield s  # type: ignore[misc]


@pytest.fixture
def plain() -> Iterator[EchoServer]:
    with EchoServer() as s:
        yield s  # type: ignore[misc]


def test_certificates_cover_loopback_and_follow_now(tmp_path: object) -> None:
    with LocalCA(now=lambda: NOW, validity=datetime.timedelta(hours=2)) as ca:
        cert_pem, key_pem = ca.issue_server_certificate()
        leaf = x509.load_pem_x509_certificates(cert_pem)[0]
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
        assert san.get_values_for_type(x509.DNSName) == ["localhost"]
        assert leaf.not_valid_after_utc == NOW + datetime.timedelta(hours=2)
        assert leaf.not_valid_before_utc < NOW
        assert leaf.issuer == ca.ca_certificate.subject
        assert ca.ca_certificate.not_valid_after_utc == NOW + datetime.timedelta(hours=2)
        assert b"PRIVATE KEY" in key_pem
        assert "PRIVATE" not in repr(ca)
        with open(ca.ca_bundle, "rb") as fh:
            assert fh.read() == ca.ca_pem


def test_ca_rejects_bad_input() -> None:
    with pytest.raises(InvalidInputError):
        LocalCA(validity=datetime.timedelta(0))
    with pytest.raises(InvalidInputError):
        LocalCA(now=lambda: datetime.datetime(2030, 1, 1))


def test_expired_certificate_is_refused_by_clients() -> None:
    # Certificates made for a moment long past: a verifying client refuses them.
    past = datetime.datetime(2001, 1, 1, tzinfo=datetime.timezone.utc)
    with (
        LocalCA(now=lambda: past) as old,
        EchoServer(ssl_context=old.server_context()) as s,
        socket.create_connection(("127.0.0.1", s.port), timeout=10) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        old.client_context().wrap_socket(raw, server_hostname="127.0.0.1")


def test_tls_round_trip_and_untrusted_client(ca: LocalCA, server: EchoServer) -> None:
    assert server.base_url == f"https://127.0.0.1:{server.port}"
    response = urllib3.PoolManager(ca_certs=ca.ca_bundle).request("GET", server.base_url + "/x")
    assert (response.status, response.data) == (200, b"hello")
    with LocalCA() as other, pytest.raises(urllib3.exceptions.SSLError):
        urllib3.PoolManager(ca_certs=other.ca_bundle, retries=False).request(
            "GET", server.base_url + "/x"
        )


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_accepts_the_ca_bundle(ca: LocalCA, server: EchoServer) -> None:
    for host in ("127.0.0.1", "localhost"):
        out = subprocess.run(
            ["curl", "-sS", "--cacert", ca.ca_bundle, f"https://{host}:{server.port}/x"],
            capture_output=True,
            check=True,
            timeout=30,
            # curl resolves localhost itself; it must stay on loopback
        )
        assert out.stdout == b"hello"


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
