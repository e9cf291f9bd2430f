"""The relay's pieces on their own: config checks, the error family, the forwarder
asking the origin description, and the listener's bind policy."""

from __future__ import annotations

import math
import socket
from typing import Any

import pytest

from mediastore_ingest.errors import (
    InvalidInputError,
    LocalStackError,
    MediaStoreIngestError,
    RelayError,
)
from mediastore_ingest.ingest import IngestClient, IngestConfig, MockTransport, Request, Response
from mediastore_ingest.relay import RelayConfig, SigningRelay
from mediastore_ingest.relay import RelayError as ExportedRelayError
from mediastore_ingest.relay.forward import Forwarder, Segment
from mediastore_ingest.relay.handler import RelayServer
from mediastore_ingest.server.base import LocalHTTPServer


def test_relay_error_is_its_own_family() -> None:
    assert ExportedRelayError is RelayError
    assert issubclass(RelayError, MediaStoreIngestError)
    assert not issubclass(RelayError, LocalStackError)


def test_a_relay_that_cannot_bind_raises_relay_error() -> None:
    taken = socket.socket()
    try:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        client = IngestClient("http://127.0.0.1:9", transport=MockTransport(_never))
        relay = SigningRelay(client=client, config=RelayConfig(port=port))
        with pytest.raises(RelayError, match="cannot listen"):
            relay.start()
        relay.close()
    finally:
        taken.close()


def test_the_relay_listener_checks_its_own_address() -> None:
    # The local test servers refuse anything but loopback; the relay's listener
    # leaves that to RelayConfig (which requires a token for other peers).
    assert LocalHTTPServer.loopback_only is True
    assert RelayServer.loopback_only is False
    assert RelayServer.error_class is RelayError
    with pytest.raises(InvalidInputError, match="loopback"):
        LocalHTTPServer(host="192.0.2.1")
    with pytest.raises(InvalidInputError, match="token"):
        RelayConfig(host="192.0.2.1", allowed_peers=["192.0.2.0/24"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"shutdown_timeout": 0}, "shutdown_timeout"),
        ({"shutdown_timeout": math.nan}, "shutdown_timeout"),
        ({"shutdown_timeout": True}, "shutdown_timeout"),
        ({"max_in_flight": 0}, "max_in_flight"),
        ({"max_in_flight": 1.5}, "max_in_flight"),
        ({"max_segment_bytes": True}, "max_segment_bytes"),
        ({"port": 65536}, "port"),
        ({"port": True}, "port"),
        ({"prefix": 5}, "prefix"),
        ({"cache_control": [("*.ts", "max-age=1\r\nX-Injected: 1")]}, "rule"),
        ({"token": "short"}, "token"),
        ({"token": "a-long-enough-token\n"}, "token"),
    ],
)
def test_relay_config_refuses(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        RelayConfig(**kwargs)


def test_relay_config_token_is_never_shown() -> None:
    with pytest.raises(InvalidInputError) as info:
        RelayConfig(token="TopSecret\r\nvalue-0123456789")
    assert "TopSecret" not in str(info.value)


def test_relay_config_waits_forever_when_asked() -> None:
    assert RelayConfig(shutdown_timeout=math.inf).shutdown_timeout == math.inf


def _never(request: Request) -> Response:
    raise AssertionError("no request expected")


def _recording_client(origin: str) -> tuple[IngestClient, list[Request]]:
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        body = request.body
        if body is not None and not isinstance(body, bytes):
            b"".join(body)  # consume the streamed body, as a server would
        seen.append(request)
        return Response(200, {"ETag": '"e"'}, b"{}")

    config = IngestConfig(origin=origin)  # type: ignore[arg-type]
    return IngestClient("http://127.0.0.1:9", transport=MockTransport(handler), config=config), seen


@pytest.mark.parametrize(("origin", "availability"), [("mediastore", "STREAMING"), ("s3", None)])
def test_forwarder_streams_only_to_an_origin_that_takes_streaming_uploads(
    origin: str, availability: str | None
) -> None:
    client, seen = _recording_client(origin)
    forwarder = Forwarder(RelayConfig(), client)
    try:
        segment = Segment()
        segment.append(b"\x47" * 188)
        segment.finish()
        outcome = forwarder.upload("live/seg1.ts", segment, None)
    finally:
        forwarder.close()
    assert outcome.status == 200
    assert [r.headers.get("x-amz-upload-availability") for r in seen] == [availability]
    assert forwarder.metrics.stats().uploaded == 1
