"""SigningRelay: real sockets on loopback, through LocalStack (edge + container)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from mediastore_ingest.errors import InvalidInputError
from mediastore_ingest.ingest import IngestConfig, RetryPolicy
from mediastore_ingest.relay.relay import RelayConfig, SigningRelay
from mediastore_ingest.testing import FaultPlan, LocalStack

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


def chunked_put(port: int, path: str, pieces: list[bytes], extra: str = "") -> socket.socket:
    """Send the head and the pieces of a chunked PUT; the caller ends it."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    head = f"PUT {path} HTTP/1.1\r\nHost: relay\r\nTransfer-Encoding: chunked\r\n{extra}\r\n"
    sock.sendall(head.encode())
    for piece in pieces:
        sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
    return sock


def read_status(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        more = sock.recv(4096)
        if not more:
            break
        data += more
    return int(data.split(b" ", 2)[1])


# --- configuration -------------------------------------------------------------------


def test_config_rules_and_paths() -> None:
    config = RelayConfig(
        prefix="live/channel1/",
        content_types=(("*.ts", "video/MP2T"), ("*.weird", "application/x-weird")),
    )
    assert config.object_path("/index.m3u8?x=1") == "live/channel1/index.m3u8"
    assert config.object_path("/a%2Db.ts") == "live/channel1/a-b.ts"
    assert config.content_type_for("live/a.weird") == "application/x-weird"
    assert config.content_type_for("live/a.m3u8") == "application/vnd.apple.mpegurl"
    assert config.content_type_for("live/a.unknown", "image/x-mine") == "image/x-mine"
    assert config.content_type_for("live/a.unknown", "bad type;") == "application/octet-stream"
    assert config.cache_control_for("live/a.m3u8") == "max-age=1"
    assert config.cache_control_for("live/a.mpd") == "max-age=1"
    assert config.cache_control_for("live/a.ts") == "max-age=31536000"
    assert config.availability_for("live/a.ts") == "streaming"
    assert config.availability_for("live/a.m3u8") is None
    with pytest.raises(ValueError):
        config.object_path("/../etc/passwd")


def test_config_refuses_remote_peers_without_token() -> None:
    with pytest.raises(InvalidInputError, match="requires a token"):
        RelayConfig(allowed_peers=("127.0.0.0/8", "10.0.0.0/8"))
    with pytest.raises(InvalidInputError):
        RelayConfig(allowed_peers=("not-an-address",))
    with pytest.raises(ValueError):
        RelayConfig(prefix="bad prefix/")
    config = RelayConfig(allowed_peers=("10.0.0.0/8",), token="t" * 32)
    assert "t" * 32 not in repr(config)


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
        assert "mediastore_relay_uploads_total 2" in metrics
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
        status, _ = request(relay, "DELETE", "/live/old.ts")
        assert status == 200
        status, _ = request(relay, "DELETE", "/live/old.ts")
        assert status == 404
        assert relay.stats().deleted == 1
    assert "live/old.ts" not in mediastore_stack.container.paths()


def test_peer_allow_list_and_token(mediastore_stack: LocalStack) -> None:
    token = "s3cret-token-0123456789"
    # loopback not in the allowed set: refused
    with make_relay(mediastore_stack, allowed_peers=("192.0.2.0/24",), token=token) as relay:
        status, _ = request(relay, "PUT", "/live/a.ts", b"x", {"X-Relay-Token": token})
        assert status == 403
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
        assert sum(stack.ingest_edge.faults_injected.values()) > 0
        assert relay.stats().retries > 0
        for path, data in expected.items():
            assert stack.container.read(path) == data


def test_final_failure_is_counted_logged_and_spooled(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = tmp_path / "spool"
    with LocalStack(faults=FaultPlan.always("http_503")) as stack, make_relay(
        stack, spool_dir=str(spool), prefix="ch9"
    ) as relay:
        caplog.set_level("INFO", logger="mediastore_ingest.relay.relay")
        status, body = request(relay, "PUT", "/live/lost.ts", b"precious")
        assert status == 502
        assert json.loads(body)["Spooled"] == str(spool / "ch9" / "live" / "lost.ts")
        stats = relay.stats()
        assert (stats.failed, stats.spooled, stats.retries) == (1, 1, FAST_RETRY.max_attempts - 1)
        assert "mediastore_relay_failures_total 1" in relay.metrics_text()
    assert (spool / "ch9" / "live" / "lost.ts").read_bytes() == b"precious"
    assert any("FAILED PUT ch9/live/lost.ts" in r.getMessage() for r in caplog.records)


def test_spooled_segments_are_re_uploaded_by_sync(mediastore_stack: LocalStack, tmp_path: Path) -> None:
    from mediastore_ingest.cli import main

    spool = tmp_path / "spool"
    (spool / "live").mkdir(parents=True)
    (spool / "live" / "x.ts").write_bytes(b"late")
    key = tmp_path / "key.pem"
    key.write_bytes(private_pem(mediastore_stack))
    code = main(["sync", str(spool), "--to", "", "--base-url", mediastore_stack.ingest_base_url,
                 "--key-id", mediastore_stack.key_id, "--private-key", str(key),
                 "--hash-algorithm", "SHA256", "--quiet"])
    assert code == 0
    assert mediastore_stack.container.read("live/x.ts") == b"late"


# --- the CLI in a subprocess: graceful shutdown ---------------------------------------------


def private_pem(stack: LocalStack) -> bytes:
    return stack.key_pair.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_finishes_in_flight_upload_on_signal(tmp_path: Path, sig: signal.Signals) -> None:
    with LocalStack(edge_tls=True) as stack:
        key = tmp_path / "key.pem"
        key.write_bytes(private_pem(stack))
        proc = subprocess.Popen(
            [sys.executable, "-m", "mediastore_ingest", "relay", "--listen", "127.0.0.1:0",
             "--to", stack.ingest_base_url, "--key-id", stack.key_id, "--private-key", str(key),
             "--hash-algorithm", "SHA256", "--ca-bundle", stack.ca_bundle,
             "--prefix", "cli/"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.startswith("relay listening on http://127.0.0.1:"), line
            port = int(line.split()[3].rsplit(":", 1)[1])
            sock = chunked_put(port, "/live/inflight.ts", [b"begin-"])
            stack.container.wait_for_streaming_upload("cli/live/inflight.ts", timeout=10)
            proc.send_signal(sig)
            assert proc.stderr is not None
            seen = []
            for err_line in proc.stderr:  # wait until the relay is shutting down
                seen.append(err_line)
                if "finishing in-flight uploads" in err_line:
                    break
            assert f"{sig.name} received" in seen[-1], seen
            # the relay keeps the upload going: the rest of the body gets through
            sock.sendall(b"3\r\nend\r\n0\r\n\r\n")
            assert read_status(sock) == 200
            sock.close()
            out, rest = proc.communicate(timeout=30)
            err = "".join(seen) + rest
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 0, err
        assert "1 uploaded, 0 failed" in out
        assert "PUT cli/live/inflight.ts 9 bytes" in err
        assert stack.container.read("cli/live/inflight.ts") == b"begin-end"
        # new connections are refused once it has exited
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()


@pytest.mark.parametrize(("origin", "sha256", "streaming"), [("mediastore", False, True),
                                                               ("s3", True, False)])
def test_cli_origin_selects_the_upload_profile(origin: str, sha256: bool, streaming: bool) -> None:
    from mediastore_ingest.cli import build_parser
    from mediastore_ingest.cli._relay import _build

    args = build_parser().parse_args(
        ["relay", "--listen", "127.0.0.1:0", "--to", "https://d111111abcdef8.cloudfront.net",
         "--unsigned", "--origin", origin]
    )
    relay = _build(args)
    try:
        assert relay.config.streaming_segments is streaming
        assert relay._client.config.sends_content_sha256 is sha256
        assert relay._client.config.origin == origin
    finally:
        relay.close()
