"""The relay's pieces on their own: config checks, the error family, the forwarder
asking the origin description, and the listener's bind policy."""

from __future__ import annotations

import math
import socket
import time
from pathlib import Path
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
from mediastore_ingest.relay.forward import Forwarder
from mediastore_ingest.relay.handler import RelayServer
from mediastore_ingest.relay.journal import Journal
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
        ({"host": "192.0.2.1"}, "requires a token"),
        ({"fsync": "always"}, "fsync"),
        ({"journal_max_bytes": 0}, "journal_max_bytes"),
        ({"journal_max_bytes": 1000}, "must fit in journal_max_bytes"),
        ({"upload_workers": 0}, "upload_workers"),
        ({"journal_dir": ""}, "journal_dir"),
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
    tmp_path: Path, origin: str, availability: str | None
) -> None:
    client, seen = _recording_client(origin)
    journal = Journal(tmp_path / "j", max_bytes=1 << 20, max_objects=10)
    forwarder = Forwarder(RelayConfig(), client, journal)
    forwarder.start(journal.open())
    try:
        receipt = forwarder.begin("live/seg1.ts", method="PUT", target="/live/seg1.ts",
                                  headers={}, declared=188)
        forwarder.write(receipt, b"\x47" * 188)
        forwarder.commit(receipt)
        assert forwarder.wait_uploaded(time.monotonic() + 10)
    finally:
        forwarder.stop(5)
        journal.close()
    assert [r.headers.get("x-amz-upload-availability") for r in seen] == [availability]
    assert forwarder.metrics.stats().uploaded == 1


def test_metrics_render_the_journal_and_the_lag() -> None:
    from mediastore_ingest.relay.metrics import Gauges, Metrics

    metrics = Metrics(lambda: Gauges(
        journal_objects=3, journal_bytes=1200, failed_objects=1, receiving=2,
        oldest_age=1.5, manifest_lag=(('live/"odd".m3u8', 2.0), ("live/index.m3u8", 0.5)),
    ))
    metrics.outcome("stored", 4)
    metrics.outcome("superseded", 2, manifest=True)
    metrics.outcome("superseded")
    metrics.refused("journal_full")
    metrics.parse_error("manifest")
    metrics.observe(0.02)
    text = metrics.render()
    for line in (
        'mediastore_relay_uploads_total{outcome="stored"} 4',
        'mediastore_relay_uploads_total{outcome="superseded"} 3',
        "mediastore_relay_superseded_manifests_total 2",
        'mediastore_relay_refused_total{reason="journal_full"} 1',
        'mediastore_relay_parse_errors_total{what="manifest"} 1',
        "mediastore_relay_journal_objects 3",
        "mediastore_relay_journal_bytes 1200",
        "mediastore_relay_journal_failed_objects 1",
        "mediastore_relay_oldest_pending_seconds 1.5",
        'mediastore_relay_path_lag_seconds{path="live/\\"odd\\".m3u8"} 2.0',
        'mediastore_relay_upload_seconds_bucket{le="0.025"} 1',
    ):
        assert line in text, line
    stats = metrics.stats()
    assert (stats.uploaded, stats.superseded, stats.superseded_manifests) == (4, 3, 2)
    assert (stats.journal_objects, stats.journal_bytes, stats.refused) == (3, 1200, 1)


def test_the_relay_logger_redacts_signed_urls(caplog: pytest.LogCaptureFixture) -> None:
    from mediastore_ingest.relay.forward import logger

    caplog.set_level("INFO", logger=logger.name)
    logger.warning("relay: upload failed (%s)",
                   "https://d1.cloudfront.net/live/a.ts?Expires=1&Signature=abc~def&Key-Pair-Id=K")
    (record,) = [r for r in caplog.records if r.name == logger.name]
    assert "Signature=<redacted>" in record.getMessage()
    assert "abc~def" not in caplog.text
