"""The relay runs its front end with the limits of its RelayConfig: a slow head is cut
at the header deadline while an encoder's PUT goes through, and a peer outside the
allow-list is refused when accepted, before any of its head is read."""

from __future__ import annotations

import contextlib
import http.client
import socket
import time
from collections.abc import Iterator

import pytest

from mediastore_ingest.ingest import IngestConfig, RetryPolicy
from mediastore_ingest.relay.relay import RelayConfig, SigningRelay
from mediastore_ingest.server.limits import ServerLimits
from mediastore_ingest.testing import LocalStack

RETRY = RetryPolicy(max_attempts=2, backoff_base=0.001, backoff_cap=0.01)


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack() as s:
        yield s


def _relay(stack: LocalStack, config: RelayConfig) -> SigningRelay:
    return SigningRelay(
        stack.ingest_base_url,
        signer=stack.signer,
        config=config,
        ingest_config=IngestConfig(ca_bundle=stack.ca_bundle, retry=RETRY),
    )


def test_relay_config_carries_the_front_end_limits() -> None:
    limits = ServerLimits(header_timeout=0.5, max_connections=8)
    assert RelayConfig(limits=limits).limits == limits
    assert RelayConfig().limits == ServerLimits()
    with pytest.raises(ValueError, match="limits"):
        RelayConfig(limits={"header_timeout": 1})  # type: ignore[arg-type]


def test_a_slow_head_is_cut_while_an_encoder_uploads(stack: LocalStack) -> None:
    config = RelayConfig(prefix="live/", limits=ServerLimits(header_timeout=0.5))
    with _relay(stack, config) as relay:
        slow = socket.create_connection(("127.0.0.1", relay.port), timeout=10)
        slow.sendall(b"PUT /live/slow.ts HTTP/1.1\r\nHost: x\r\n")  # and never the rest
        conn = http.client.HTTPConnection("127.0.0.1", relay.port, timeout=10)
        conn.request("PUT", "/seg1.ts", body=b"segment one")
        response = conn.getresponse()
        response.read()
        assert response.status == 200
        assert relay.wait_uploaded(10)
        assert stack.container.read("live/seg1.ts") == b"segment one"
        started = time.monotonic()
        answer = slow.recv(4096)
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert slow.recv(4096) == b""  # and closed
        assert time.monotonic() - started < 10
        slow.close()
        conn.close()
    assert "live/slow.ts" not in stack.container.paths()


def test_a_peer_outside_the_allow_list_is_refused_on_accept(stack: LocalStack) -> None:
    config = RelayConfig(allowed_peers=("127.0.0.2/32",))
    with _relay(stack, config) as relay:
        sock = socket.create_connection(("127.0.0.1", relay.port), timeout=10)
        with contextlib.suppress(OSError):  # closed already
            sock.sendall(b"PUT /x.ts HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx")
        try:
            answer = sock.recv(4096)
        except ConnectionResetError:
            answer = b""
        sock.close()
        assert answer == b""  # closed without an answer: its head was never read
    assert "x.ts" not in stack.container.paths()
