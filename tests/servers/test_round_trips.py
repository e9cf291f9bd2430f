"""Round trips counted on the long links: the client's PUT path (and the relay's
upstream side, which is the same client) costs the protocol minimum.

* a PUT on a warm connection is one round trip to the next hop, and the edge's
  forward to the origin one more on its own warm connection;
* no ``Expect: 100-continue``, one request per segment;
* a connection re-opened to a TLS server resumes its session (TLS 1.2: one round
  trip less; TLS 1.3: no certificate chain sent again).
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Iterator

import pytest
import urllib3

from mediastore_ingest.ingest import Request, Urllib3Transport
from mediastore_ingest.relay.relay import SigningRelay
from mediastore_ingest.server.base import LocalHTTPServer, RequestHandler
from mediastore_ingest.testing import Geography, LinkCounters, LocalCA, LocalStack, LongLink

GEO = Geography("round-trips", encoder_edge_rtt=0.04, edge_origin_rtt=0.06, encoder_origin_rtt=0.1)
SEGMENT = bytes(range(256)) * 1500  # 384 KB


@pytest.fixture(scope="module")
def geo_stack() -> Iterator[LocalStack]:
    with LocalStack(geography=GEO) as running:
        yield running


def _span(link: LongLink, before: LinkCounters) -> LinkCounters:
    return link.counters() - before


@pytest.mark.parametrize("body", ["bytes", "chunks"])
def test_a_put_on_a_warm_connection_costs_one_round_trip_per_hop(
    geo_stack: LocalStack, body: str
) -> None:
    links = geo_stack.links
    with geo_stack.ingest_client() as client:
        client.put("live/warm.ts", SEGMENT)  # opens the connections
        before = {name: link.counters() for name, link in links.items()}
        requests_before = len(geo_stack.ingest_edge.requests)
        data: object = SEGMENT if body == "bytes" else iter([SEGMENT[:100_000], SEGMENT[100_000:]])
        client.put("live/seg1.ts", data)  # type: ignore[arg-type]
    encoder_edge = _span(links["encoder_edge"], before["encoder_edge"])
    edge_origin = _span(links["edge_origin"], before["edge_origin"])
    assert (encoder_edge.connections, encoder_edge.round_trips) == (0, 1)
    assert (edge_origin.connections, edge_origin.round_trips) == (0, 1)
    assert encoder_edge.flights_down == 1
    # one request per segment, no Expect: 100-continue
    seen = geo_stack.ingest_edge.requests[requests_before:]
    assert [r.method for r in seen] == ["PUT"]
    assert seen[0].header("Expect") is None
    assert geo_stack.container.read("live/seg1.ts") == SEGMENT


def test_the_relays_upstream_side_costs_one_round_trip_per_segment(geo_stack: LocalStack) -> None:
    link = geo_stack.links["encoder_edge"]
    with SigningRelay(client=geo_stack.ingest_client()) as relay:
        conn = http.client.HTTPConnection("127.0.0.1", relay.port, timeout=30)
        try:
            spans = []
            for n in range(3):
                before = link.counters()
                conn.request(
                    "PUT", f"/live/relayed{n}.ts", body=iter([SEGMENT]), encode_chunked=True,
                    headers={"Transfer-Encoding": "chunked", "Content-Type": "video/mp2t"},
                )
                response = conn.getresponse()
                response.read()
                assert response.status == 200
                assert relay.wait_uploaded(timeout=30)  # 200 is journaled: the upload follows
                spans.append(_span(link, before))
        finally:
            conn.close()
    # the first opens the relay's connection (handshake + request), the others reuse it
    assert [s.round_trips for s in spans] == [2, 1, 1]
    assert [s.connections for s in spans] == [1, 0, 0]


class _Ok(RequestHandler):
    def do_PUT(self) -> None:
        self.read_body()
        self.send_body(200, b"ok", content_type="text/plain")


class _OkServer(LocalHTTPServer):
    handler_class = _Ok


def _tls_server(ca: LocalCA, maximum: ssl.TLSVersion | None) -> _OkServer:
    context = ca.server_context()
    if maximum is not None:
        context.maximum_version = maximum
    return _OkServer(ssl_context=context)


def _reopened(
    ca: LocalCA, maximum: ssl.TLSVersion | None, times: int
) -> tuple[LinkCounters, list[LinkCounters]]:
    """What the first PUT on a new TLS connection cost, and each PUT after it on a
    connection opened again (the pool emptied in between)."""
    with _tls_server(ca, maximum) as server, LongLink(server.base_url, rtt=0.03) as link:
        transport = Urllib3Transport(ca_bundle=ca.ca_bundle)
        url = link.url_for(server.base_url) + "/x"
        spans = []
        try:
            for _ in range(times + 1):
                transport.close()  # drop pooled connections: the next request connects
                before = link.counters()
                response = transport.handle(
                    Request("PUT", url, headers={"Content-Length": "2"}, body=b"hi", path="x")
                )
                assert response.status == 200
                spans.append(link.counters() - before)
        finally:
            transport.close()
    return spans[0], spans[1:]


def test_a_reopened_tls_12_connection_resumes_one_round_trip_cheaper(ca: LocalCA) -> None:
    full, resumed = _reopened(ca, ssl.TLSVersion.TLSv1_2, 3)
    # TCP + ClientHello + key exchange/Finished + request; resumed: no key exchange
    assert full.round_trips == 4
    assert [r.round_trips for r in resumed] == [3, 3, 3]


def test_a_reopened_tls_13_connection_resumes_without_the_certificates(ca: LocalCA) -> None:
    full, resumed = _reopened(ca, None, 2)
    assert full.round_trips == 3
    assert [r.round_trips for r in resumed] == [3, 3]
    # a resumed TLS 1.3 handshake sends no certificate chain (the full one's ~1 KB+)
    assert all(r.bytes_down < full.bytes_down - 300 for r in resumed)


def test_the_transport_relies_on_urllib3_setting_tcp_nodelay() -> None:
    # Urllib3Transport passes no socket_options: urllib3's default must keep Nagle off.
    option = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    assert option in urllib3.connection.HTTPConnection.default_socket_options
