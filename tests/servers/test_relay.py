"""SigningRelay: real sockets on loopback, through LocalStack (edge + container), and on
MockTransport where the upstream must fail in a way a real one cannot be made to."""

from __future__ import annotations

import http.client
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from mediastore_ingest.ingest import (
    IngestClient,
    IngestConfig,
    MockTransport,
    Request,
    Response,
    RetryPolicy,
)
from mediastore_ingest.relay.relay import RelayConfig, SigningRelay
from mediastore_ingest.testing import FaultPlan, LocalStack
from tests._support.sockets import chunked_put, read_status
from tests._support.stack import private_pem

FAST_RETRY = RetryPolicy(max_attempts=6, backoff_base=0.001, backoff_cap=0.01)


def make_relay(stack: LocalStack, **config: object) -> SigningRelay:
    return SigningRelay(
        stack.ingest_base_url,
        signer=stack.signer,
        config=RelayConfig(**config),  # type: ignore[arg-type]
        ingest_config=IngestConfig(ca_bundle=stack.ca_bundle, retry=FAST_RETRY),
    )


def request(
    relay: SigningRelay, method: str, path: str, body: bytes | None = None,
    headers: dict[str, str] | None = None, conn: http.client.HTTPConnection | None = None,
) -> tuple[int, bytes]:
    """One request; on ``conn`` (kept open) or on a new connection (closed)."""
    own = conn is None
    c = conn or http.client.HTTPConnection("127.0.0.1", relay.port, timeout=20)
    try:
        c.request(method, path, body=body, headers=headers or {})
        response = c.getresponse()
        return response.status, response.read()
    finally:
        if own:
            c.close()


def connect(relay: SigningRelay) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", relay.port, timeout=20)


# --- the relay on real sockets ----------------------------------------------------------


def test_put_post_keepalive_headers_and_metrics(mediastore_stack: LocalStack) -> None:
    with make_relay(mediastore_stack, prefix="ch1/") as relay:
        conn = connect(relay)
        status, body = request(relay, "PUT", "/live/seg1.ts", b"segment-1" * 1000, conn=conn)
        assert status == 200, body
        assert json.loads(body)["Path"] == "ch1/live/seg1.ts"
        # same connection (keep-alive), POST mapped to PUT, fixed-length body
        sock = conn.sock
        status, _ = request(relay, "POST", "/live/index.m3u8", b"#EXTM3U\n", conn=conn)
        assert status == 200
        assert conn.sock is sock
        conn.close()
        # 200 means "journaled": the uploads follow
        assert relay.wait_uploaded(timeout=10)
        assert mediastore_stack.container.read("ch1/live/seg1.ts") == b"segment-1" * 1000
        assert mediastore_stack.container.read("ch1/live/index.m3u8") == b"#EXTM3U\n"
        seg = mediastore_stack.container.describe("ch1/live/seg1.ts")
        manifest = mediastore_stack.container.describe("ch1/live/index.m3u8")
        assert seg.content_type == "video/MP2T"
        assert seg.cache_control == "max-age=31536000"
        assert manifest.content_type == "application/vnd.apple.mpegurl"
        assert manifest.cache_control == "max-age=1"
        forwarded = mediastore_stack.ingest_edge.forwarded
        seg_fwd = next(f for f in forwarded if f.path.endswith("seg1.ts"))
        assert seg_fwd.header("x-amz-upload-availability") == "STREAMING"
        # /metrics in Prometheus text
        status, text = request(relay, "GET", "/metrics")
        assert status == 200
        metrics = text.decode()
        assert 'mediastore_relay_requests_total{method="PUT",status="200"} 2' in metrics
        assert 'mediastore_relay_uploads_total{outcome="stored"} 2' in metrics
        assert "mediastore_relay_journaled_total 2" in metrics
        assert "mediastore_relay_journal_objects 0" in metrics
        assert "mediastore_relay_upload_seconds_count 2" in metrics
        assert 'mediastore_relay_upload_seconds_bucket{le="+Inf"} 2' in metrics
        assert f"mediastore_relay_received_bytes_total {9000 + 8}" in metrics
        stats = relay.stats()
        assert (stats.uploaded, stats.failed, stats.in_flight) == (2, 0, 0)


def test_chunked_body_streams_before_the_encoder_finishes(mediastore_stack: LocalStack) -> None:
    """The first piece reaches the origin while the encoder still holds the rest."""
    with make_relay(mediastore_stack) as relay:
        sock = chunked_put(relay.port, "/live/stream.ts", [b"first-piece"])
        upload = mediastore_stack.container.wait_for_streaming_upload("live/stream.ts", timeout=10)
        assert upload == b"first-piece"
        sock.sendall(b"5\r\nlater\r\n0\r\n\r\n")
        assert read_status(sock) == 200
        sock.close()
        assert mediastore_stack.container.read("live/stream.ts") == b"first-piecelater"


def test_delete_passthrough_only_when_allowed(mediastore_stack: LocalStack) -> None:
    mediastore_stack.container.write("live/old.ts", b"old")
    with make_relay(mediastore_stack) as relay:
        status, _ = request(relay, "DELETE", "/live/old.ts")
        assert status == 405
    assert mediastore_stack.container.read("live/old.ts") == b"old"
    with make_relay(mediastore_stack, allow_delete=True) as relay:
        # a deletion is journaled (200) and forwarded in its path's order
        status, _ = request(relay, "PUT", "/live/old.ts", b"newer")
        assert status == 200
        status, body = request(relay, "DELETE", "/live/old.ts")
        assert status == 200
        assert json.loads(body)["Journaled"] is True
        status, _ = request(relay, "DELETE", "/live/old.ts")  # already gone: fine
        assert status == 200
        assert relay.wait_uploaded(timeout=10)
        assert relay.stats().deleted in (1, 2)  # a waiting deletion may supersede the other
    assert "live/old.ts" not in mediastore_stack.container.paths()


def test_peer_allow_list_and_token(mediastore_stack: LocalStack) -> None:
    token = "s3cret-token-0123456789"
    # loopback not in the allowed set: refused on accept, before its head is read
    with (
        make_relay(mediastore_stack, allowed_peers=("192.0.2.0/24",), token=token) as relay,
        pytest.raises((ConnectionError, http.client.HTTPException)),
    ):
        request(relay, "PUT", "/live/a.ts", b"x", {"X-Relay-Token": token})
    with make_relay(mediastore_stack, allowed_peers=("127.0.0.1/32", "192.0.2.0/24"), token=token) as relay:
        status, _ = request(relay, "PUT", "/live/a.ts", b"x")
        assert status == 403
        status, _ = request(relay, "PUT", "/live/a.ts", b"x", {"X-Relay-Token": "wrong"})
        assert status == 403
        status, _ = request(relay, "PUT", "/live/a.ts", b"x", {"X-Relay-Token": token})
        assert status == 200
    assert mediastore_stack.container.read("live/a.ts") == b"x"
    assert mediastore_stack.container.put_count("live/a.ts") == 1


def test_too_large_and_bad_path(mediastore_stack: LocalStack) -> None:
    with make_relay(mediastore_stack, max_segment_bytes=1000) as relay:
        status, _ = request(relay, "PUT", "/live/big.ts", b"x" * 1001)
        assert status == 413
        sock = chunked_put(relay.port, "/live/big2.ts", [b"y" * 600, b"y" * 600])
        sock.sendall(b"0\r\n\r\n")
        assert read_status(sock) == 413
        sock.close()
        status, _ = request(relay, "PUT", "/live/bad%20name.ts", b"x")
        assert status == 400
    assert mediastore_stack.container.paths() == []


def test_encoder_breaking_off_stores_nothing(mediastore_stack: LocalStack) -> None:
    with make_relay(mediastore_stack) as relay:
        sock = chunked_put(relay.port, "/live/cut.ts", [b"partial" * 100])
        mediastore_stack.container.wait_for_streaming_upload("live/cut.ts", timeout=10)
        sock.close()
        # the relay notices, aborts the upload and counts it
        mediastore_stack.container.wait_for_request(
            lambda r: r.path.startswith("/live/cut.ts") and r.method == "PUT", timeout=10
        )
    assert relay.stats().aborted == 1
    assert relay.stats().failed == 0
    assert "live/cut.ts" not in mediastore_stack.container.paths()


def test_faults_are_retried_and_nothing_is_lost() -> None:
    plan = FaultPlan(seed=7, failure_rate=0.3)
    with LocalStack(faults=plan) as stack, make_relay(stack) as relay:
        expected = {}
        for i in range(30):
            data = os.urandom(5000 + i)
            expected[f"live/s{i}.ts"] = data
            status, _ = request(relay, "PUT", f"/live/s{i}.ts", data)
            assert status == 200
        assert relay.wait_uploaded(timeout=30)
        assert sum(stack.ingest_edge.faults_injected.values()) > 0
        assert relay.stats().retries > 0
        for path, data in expected.items():
            assert stack.container.read(path) == data


def test_an_object_the_edge_keeps_refusing_stays_journaled(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = tmp_path / "journal"
    with LocalStack(faults=FaultPlan.always("http_503")) as stack:
        relay = make_relay(stack, journal_dir=str(journal), prefix="ch9",
                           requeue_cap=0.05, shutdown_timeout=0.5)
        with relay:
            caplog.set_level("INFO", logger="mediastore_ingest.relay.relay")
            status, body = request(relay, "PUT", "/live/lost.ts", b"precious")
            assert status == 200  # durable in the journal
            assert json.loads(body)["Journaled"] is True
            assert not relay.wait_uploaded(timeout=0.5)
            stats = relay.stats()
            assert stats.uploaded == 0
            assert stats.failed == 0
            assert stats.retried >= 1
            assert stats.retries >= FAST_RETRY.max_attempts - 1
            assert stats.journal_objects == 1
            assert 'mediastore_relay_uploads_total{outcome="retried"}' in relay.metrics_text()
        assert relay.drain() == 1  # left for the next start
    data = [p for p in (journal / "entries").iterdir() if p.suffix == ".data"]
    assert [p.read_bytes() for p in data] == [b"precious"]
    assert any("upload of ch9/live/lost.ts failed" in r.getMessage() for r in caplog.records)


def test_sync_refuses_a_relay_journal(mediastore_stack: LocalStack, tmp_path: Path) -> None:
    from mediastore_ingest.cli import main

    stack = mediastore_stack
    journal = tmp_path / "journal"
    with make_relay(stack, journal_dir=str(journal)):
        pass
    key = tmp_path / "key.pem"
    key.write_bytes(private_pem(stack))
    args = ["--to", "", "--base-url", stack.ingest_base_url, "--key-id", stack.key_id,
            "--private-key", str(key), "--hash-algorithm", "SHA256", "--quiet"]
    assert main(["sync", str(journal), *args]) == 2
    plain = tmp_path / "plain" / "live"
    plain.mkdir(parents=True)
    (plain / "x.ts").write_bytes(b"late")
    assert main(["sync", str(plain.parent), *args]) == 0
    assert stack.container.read("live/x.ts") == b"late"


# --- the relay never loses a segment to an unexpected exception --------------------------------


def relay_put(relay: SigningRelay, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
    """One PUT on a new connection; the status and the JSON the relay answered."""
    status, answer = request(relay, "PUT", path, body)
    return status, json.loads(answer)


def test_relay_keeps_an_object_after_an_unreadable_retry_after(tmp_path: Path) -> None:
    client = IngestClient(
        "http://127.0.0.1:9",
        transport=MockTransport(lambda r: Response(503, {"Retry-After": "\u00b2"})),
        config=IngestConfig(retry=RetryPolicy(max_attempts=2)),
        sleep=lambda s: None,
    )
    journal = tmp_path / "journal"
    config = RelayConfig(journal_dir=str(journal), streaming_segments=False,
                         requeue_cap=0.05, shutdown_timeout=0.5)
    with SigningRelay(client=client, config=config) as relay:
        status, doc = relay_put(relay, "/live/seg1.ts", b"precious")
        assert not relay.wait_uploaded(timeout=0.3)
        stats = relay.stats()
    assert status == 200  # journaled; the upload goes on failing and is tried again
    assert doc["Journaled"] is True
    assert (stats.failed, stats.uploaded) == (0, 0)
    assert stats.retried >= 1
    kept = [p.read_bytes() for p in (journal / "entries").glob("*.data")]
    assert kept == [b"precious"]


def test_relay_unexpected_upload_exception_is_logged_and_the_object_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def handler(request: Request) -> Response:
        raise RuntimeError("a bug in a transport")

    client = IngestClient("http://127.0.0.1:9", transport=MockTransport(handler))
    journal = tmp_path / "journal"
    config = RelayConfig(journal_dir=str(journal), streaming_segments=False,
                         requeue_cap=0.05, shutdown_timeout=0.5)
    caplog.set_level(logging.INFO, logger="mediastore_ingest.relay.relay")
    with SigningRelay(client=client, config=config) as relay:
        status, _ = relay_put(relay, "/live/seg1.ts", b"precious")
        # the connection handler and the workers survived: the next request is taken too
        status2, _ = relay_put(relay, "/live/seg2.ts", b"more")
        assert not relay.wait_uploaded(timeout=0.3)
        stats = relay.stats()
    assert (status, status2) == (200, 200)
    assert "a bug in a transport" in caplog.text
    assert (stats.failed, stats.uploaded, stats.journal_objects) == (0, 0, 2)
    kept = sorted(p.read_bytes() for p in (journal / "entries").glob("*.data"))
    assert kept == [b"more", b"precious"]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and "seg1.ts" in r.getMessage()]
    assert errors
    assert errors[0].exc_info is not None
    assert isinstance(errors[0].exc_info[1], RuntimeError)


@pytest.mark.parametrize("breaks_at", [1, 2], ids=["before-upload", "after-upload"])
def test_relay_survives_a_clock_that_breaks_in_an_upload_task(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, breaks_at: int
) -> None:
    """A clock that breaks before or after the PUT is logged; the object is uploaded
    all the same and not counted as failed (the clock only times the upload)."""

    class Clock:
        def __init__(self) -> None:
            self.calls = 0

        def __call__(self) -> float:
            if threading.current_thread().name.startswith("relay-upload"):
                self.calls += 1
                if self.calls >= breaks_at:
                    raise RuntimeError("clock broke")
            return 0.0

    client = IngestClient("http://127.0.0.1:9",
                          transport=MockTransport(lambda r: Response(200, {}, b"{}")))
    config = RelayConfig(journal_dir=str(tmp_path / "journal"), streaming_segments=False,
                         shutdown_timeout=5)
    caplog.set_level(logging.INFO, logger="mediastore_ingest.relay.relay")
    with SigningRelay(client=client, config=config, clock=Clock()) as relay:
        status, doc = relay_put(relay, "/live/seg1.ts", b"precious")
        assert relay.wait_uploaded(timeout=10)
        stats = relay.stats()
    assert any(r.levelno >= logging.ERROR and r.exc_info for r in caplog.records)
    assert "the clock failed" in caplog.text
    assert (status, doc["Path"]) == (200, "live/seg1.ts")
    assert (stats.failed, stats.uploaded, stats.journal_objects) == (0, 1, 0)
