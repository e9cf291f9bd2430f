"""LongLink (delay, handshake, bandwidth, jitter, flights) and Geography, and the
LocalStack paths a geography puts them on.

The only timing assertions are the link's own accuracy against what it was given,
with delays large next to loopback noise and generous tolerances."""

from __future__ import annotations

import http.client
import random
import socket
import time
from collections.abc import Iterator

import pytest

from mediastore_ingest.errors import InvalidInputError, LocalStackError
from mediastore_ingest.server.base import LocalHTTPServer, RequestHandler
from mediastore_ingest.testing import (
    GEOGRAPHIES,
    Geography,
    LinkCounters,
    LocalStack,
    LongLink,
)

RTT = 0.08


class _Echo(RequestHandler):
    def do_PUT(self) -> None:
        body = self.read_body()
        self.send_body(200, str(len(body)).encode(), content_type="text/plain")

    def do_GET(self) -> None:
        self.send_body(200, b"ok", content_type="text/plain")


class _EchoServer(LocalHTTPServer):
    handler_class = _Echo


@pytest.fixture
def server() -> Iterator[_EchoServer]:
    with _EchoServer() as running:
        yield running


def _timed(conn: http.client.HTTPConnection, method: str, body: bytes | None = None) -> float:
    start = time.perf_counter()
    conn.request(method, "/x", body=body)
    response = conn.getresponse()
    response.read()
    assert response.status == 200
    return time.perf_counter() - start


def test_a_fresh_connection_pays_the_handshake_then_one_round_trip_per_request(
    server: _EchoServer,
) -> None:
    with LongLink(server.base_url, rtt=RTT) as link:
        conn = http.client.HTTPConnection(link.host, link.port, timeout=10)
        try:
            first = _timed(conn, "GET")
            warm = [_timed(conn, "GET") for _ in range(3)]
        finally:
            conn.close()
    # TCP handshake (held as one round trip) + the request: 2 RTT; then 1 RTT each.
    assert 2 * RTT * 0.95 <= first <= 2 * RTT * 1.3 + 0.02
    assert RTT * 0.95 <= min(warm) <= RTT * 1.3 + 0.01
    counters = link.counters()
    assert counters.connections == 1
    assert counters.flights_up == counters.flights_down == 4
    assert counters.round_trips == 5


def test_bandwidth_cap_adds_serialisation(server: _EchoServer) -> None:
    size = 200_000
    with LongLink(server.base_url, rtt=RTT, bandwidth_up=8_000_000) as link:
        conn = http.client.HTTPConnection(link.host, link.port, timeout=10)
        try:
            _timed(conn, "GET")
            elapsed = _timed(conn, "PUT", b"x" * size)
        finally:
            conn.close()
    serialisation = 8 * size / 8_000_000  # 0.2 s
    assert RTT + serialisation * 0.95 <= elapsed <= (RTT + serialisation) * 1.3
    assert link.counters().bytes_up > size


def test_jitter_keeps_order_and_stays_within_bounds(server: _EchoServer) -> None:
    body = bytes(range(256)) * 800
    with LongLink(
        server.base_url, rtt=RTT, jitter=0.03, rng=random.Random(7)
    ) as link:
        conn = http.client.HTTPConnection(link.host, link.port, timeout=10)
        try:
            _timed(conn, "GET")
            times = [_timed(conn, "PUT", body) for _ in range(3)]
        finally:
            conn.close()
    assert all(RTT * 0.95 <= t <= RTT + 2 * 0.03 + 0.05 for t in times)


def test_counters_reset_and_subtract(server: _EchoServer) -> None:
    with LongLink(server.base_url, rtt=0.02) as link:
        conn = http.client.HTTPConnection(link.host, link.port, timeout=10)
        try:
            _timed(conn, "GET")
            before = link.counters()
            _timed(conn, "GET")
            span = link.counters() - before
            assert span == LinkCounters(0, 1, 1, span.bytes_up, span.bytes_down)
            assert span.round_trips == 1
            link.reset_counters()
            assert link.counters() == LinkCounters()
        finally:
            conn.close()


def test_stop_cuts_live_connections(server: _EchoServer) -> None:
    link = LongLink(server.base_url, rtt=0.02).start()
    conn = http.client.HTTPConnection(link.host, link.port, timeout=5)
    _timed(conn, "GET")
    link.stop()
    assert not link.running
    with pytest.raises((OSError, http.client.HTTPException)):
        _timed(conn, "GET")
    conn.close()
    with pytest.raises(LocalStackError):
        link.port  # noqa: B018


def test_an_unreachable_target_closes_the_client() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    with LongLink(("127.0.0.1", port), rtt=0.01) as link:
        sock = socket.create_connection((link.host, link.port), timeout=5)
        try:
            assert sock.recv(1) == b""
        finally:
            sock.close()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rtt": -1}, "rtt"),
        ({"rtt": 0.1, "jitter": float("nan")}, "jitter"),
        ({"rtt": 0.1, "bandwidth_up": 0}, "bandwidth_up"),
        ({"rtt": 0.1, "rng": 3}, "rng"),
        ({"rtt": 0.1, "max_buffer": 10}, "max_buffer"),
    ],
)
def test_link_arguments_are_checked(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        LongLink(("127.0.0.1", 80), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("target", ["ftp://x/", "http://", ("127.0.0.1",), ("h", 70000)])
def test_link_targets_are_checked(target: object) -> None:
    with pytest.raises(InvalidInputError):
        LongLink(target, rtt=0.1)  # type: ignore[arg-type]


def test_url_for_keeps_scheme_and_path(server: _EchoServer) -> None:
    with LongLink(server.base_url, rtt=0.0) as link:
        assert link.url_for("https://127.0.0.1:1/bucket/key") == (
            f"https://127.0.0.1:{link.port}/bucket/key"
        )
        assert "rtt=0 ms" in repr(link)
    assert "stopped" in repr(link)


# --- geography ---------------------------------------------------------------------------


def test_presets_and_the_floor() -> None:
    geo = Geography.named("sao-paulo-us-west-2")
    assert geo is GEOGRAPHIES["sao-paulo-us-west-2"]
    assert Geography.named(geo) is geo
    assert geo.encoder_origin_rtt == pytest.approx(0.180)
    assert geo.edge_path_rtt == pytest.approx(0.180)
    # one 180 ms round trip + 375 KB at 100 Mbit/s
    assert geo.floor(375_000) == pytest.approx(0.180 + 0.030)
    same = GEOGRAPHIES["same-region"]
    assert same.encoder_origin_rtt < same.edge_path_rtt  # the edge only adds a hop


def test_unknown_geography_lists_the_known_ones() -> None:
    with pytest.raises(InvalidInputError, match="sao-paulo-us-west-2"):
        Geography.named("atlantis")


@pytest.mark.parametrize(
    "kwargs",
    [{"encoder_edge_rtt": 180}, {"edge_origin_rtt": -0.1}, {"encoder_bandwidth": 0},
     {"name": ""}, {"seed": "1"}],
)
def test_geography_fields_are_checked(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "name": "x", "encoder_edge_rtt": 0.01, "edge_origin_rtt": 0.1,
        "encoder_origin_rtt": 0.1,
    }
    fields.update(kwargs)
    with pytest.raises(InvalidInputError):
        Geography(**fields)  # type: ignore[arg-type]


GEO = Geography("test", encoder_edge_rtt=0.04, edge_origin_rtt=0.06, encoder_origin_rtt=0.1)


@pytest.mark.parametrize("origin", ["mediastore", "s3"])
def test_a_geography_puts_a_link_on_each_path(origin: str) -> None:
    with LocalStack(geography=GEO, origin=origin) as stack:  # type: ignore[arg-type]
        links = stack.links
        assert set(links) == {"encoder_edge", "edge_origin", "encoder_origin"}
        assert stack.geography is GEO
        assert stack.ingest_base_url == f"http://{links['encoder_edge'].netloc}"
        assert stack.direct_origin_endpoint == f"https://{links['encoder_origin'].netloc}"
        assert links["edge_origin"].rtt == 0.06
        client = stack.ingest_client()
        client.put("live/seg1.ts", b"segment")
        assert stack.origin.read("live/seg1.ts") == b"segment"
        assert links["encoder_edge"].counters().connections == 1
        assert links["edge_origin"].counters().connections == 1
        client.close()


def test_a_stack_without_geography_has_no_links() -> None:
    with LocalStack() as stack:
        assert stack.geography is None
        assert stack.direct_origin_endpoint == stack.origin_endpoint
        assert stack.ingest_base_url == stack.ingest_edge.base_url
        with pytest.raises(LocalStackError, match="geography"):
            stack.links  # noqa: B018


def test_a_stack_refuses_an_unknown_geography() -> None:
    with pytest.raises(InvalidInputError, match="unknown geography"):
        LocalStack(geography="nowhere")
