"""The real ffmpeg (``-f hls -method PUT -http_persistent 1``) through the relay CLI (its
own process, as in production) while the edge misbehaves: 30% of requests answered
503 with ``Retry-After: 3``, then the edge down for ten seconds mid-stream.

Each encode also runs into a local directory (``-fflags +bitexact``: the same bytes):
every segment and the final playlist must be stored byte for byte. A watcher samples
the origin's playlist throughout: it must never go back (media sequence, last
segment, ``#EXT-X-ENDLIST``), and every segment it names must already be stored when
it is seen. The relay's counts must equal what the origin holds.
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from mediastore_ingest.ingest import IngestConfig
from mediastore_ingest.relay import RelayConfig, SigningRelay
from mediastore_ingest.relay.handler import RECEIVE_BUFFER
from mediastore_ingest.testing import FaultPlan, LocalStack
from tests._support.relay_e2e import (
    PLAYLIST,
    SECONDS,
    PlaylistWatch,
    RelayProcess,
    assert_complete,
    local_copy,
    needs_ffmpeg,
    push_args,
)


@pytest.fixture
def expected(tmp_path: Path) -> dict[str, bytes]:
    return local_copy(tmp_path)


@pytest.mark.slow
@needs_ffmpeg
def test_ffmpeg_while_the_edge_answers_30_percent_503(
    tmp_path: Path, expected: dict[str, bytes]
) -> None:
    plan = FaultPlan(seed=11, failure_rate=0.3, kinds=("http_503",), retry_after=3)
    with LocalStack(faults=plan) as stack, PlaylistWatch(stack) as watch, RelayProcess(
        stack, tmp_path, tmp_path / "journal", "--retry-after-cap", "0.3",
        "--max-attempts", "3", "--backoff-cap", "0.05",
    ) as relay:
        subprocess.run(push_args(relay.url, realtime=False), check=True, timeout=60)
        relay.wait_for("mediastore_relay_journaled_total", 4 * SECONDS)
        relay.wait_empty()
        assert relay.stop() == 0  # drains: whatever is still on the wire is read too
        counts = relay.summary()
        assert stack.ingest_edge.faults_injected.get("http_503", 0) > 0
        assert_complete(stack, counts["uploaded"], expected)
    assert counts["retries"] > 0  # Retry-After honoured, capped at 0.3 s
    assert (counts["failed"], counts["aborted"], counts["left"]) == (0, 0, 0)
    assert counts["superseded"] == counts["manifests"]  # only playlists are rewritten
    assert counts["journaled"] == counts["uploaded"] + counts["superseded"]
    assert watch.samples > 0
    assert watch.problems == []


@pytest.mark.slow
@needs_ffmpeg
def test_ffmpeg_while_the_edge_is_down_for_ten_seconds(
    tmp_path: Path, expected: dict[str, bytes]
) -> None:
    # From 2 s to 12 s after the stack starts, every request to the edge gets 503
    # (the relay starts within the first second): the encoder, pushing in real time
    # for 7 s, never notices.
    down = FaultPlan.always("http_503", active_from=2.0, active_until=12.0)
    with LocalStack(faults=down) as stack, PlaylistWatch(stack) as watch, RelayProcess(
        stack, tmp_path, tmp_path / "journal", "--max-attempts", "2", "--backoff-cap",
        "0.05",
    ) as relay:
        deepest = 0.0
        done = threading.Event()

        def depth() -> None:
            nonlocal deepest
            while not done.wait(0.2):
                deepest = max(deepest, relay.metrics()["mediastore_relay_journal_objects"])

        sampler = threading.Thread(target=depth, daemon=True)
        sampler.start()
        subprocess.run(push_args(relay.url, realtime=True), check=True, timeout=60)
        during = stack.ingest_edge.faults_injected.get("http_503", 0)
        relay.wait_for("mediastore_relay_journaled_total", 4 * SECONDS)
        relay.wait_empty()
        done.set()
        sampler.join(5)
        retried = relay.metrics()['mediastore_relay_uploads_total{outcome="retried"}']
        assert relay.stop() == 0
        counts = relay.summary()
        assert_complete(stack, counts["uploaded"], expected)
    assert during > 0  # ffmpeg finished while the edge was down, unhindered
    assert retried > 0  # upload rounds failed and went again after the outage
    assert deepest >= SECONDS  # the journal held the stream while the edge was down
    assert (counts["failed"], counts["aborted"], counts["left"]) == (0, 0, 0)
    assert counts["manifests"] > 0  # playlist versions waiting were dropped, not uploaded
    assert counts["journaled"] == counts["uploaded"] + counts["superseded"]
    assert watch.problems == []


def test_a_playlist_waits_for_a_segment_still_arriving(tmp_path: Path) -> None:
    """Deterministic, without ffmpeg: the playlist is journaled and answered at once,
    but reaches the origin only after the segment it names, still being received on
    another connection, is stored."""
    with LocalStack() as stack, SigningRelay(
        stack.ingest_base_url, signer=stack.signer,
        config=RelayConfig(journal_dir=str(tmp_path / "journal"), fsync="none"),
        ingest_config=IngestConfig(ca_bundle=stack.ca_bundle),
    ) as relay:
        segment = socket.create_connection(("127.0.0.1", relay.port), timeout=20)
        segment.sendall(b"PUT /live/seg0.ts HTTP/1.1\r\nHost: r\r\n"
                        b"Transfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        playlist = b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nseg0.ts\n"
        conn = http.client.HTTPConnection("127.0.0.1", relay.port, timeout=20)
        conn.request("PUT", "/" + PLAYLIST, body=playlist)
        response = conn.getresponse()
        assert response.status == 200  # journaled
        response.read()
        time.sleep(0.5)
        assert PLAYLIST not in stack.origin.paths()
        segment.sendall(b"4\r\nlast\r\n0\r\n\r\n")
        assert segment.recv(64).startswith(b"HTTP/1.1 200")
        assert relay.wait_uploaded(timeout=10)
        conn.close()
        segment.close()
        assert stack.origin.read("live/seg0.ts") == b"firstlast"
        assert stack.origin.read(PLAYLIST) == playlist
        order = [r.path for r in stack.container.requests if r.method == "PUT"]
        assert order.index("/live/seg0.ts") < order.index("/" + PLAYLIST)


def _accepted_buffer() -> int:
    probe = socket.socket()
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        return int(probe.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
    finally:
        probe.close()


def test_an_encoder_closing_with_unread_answers_loses_nothing_it_sent(tmp_path: Path) -> None:
    """What ffmpeg -http_persistent 1 does at the end of a stream: send its last
    request and close without reading the answers. The kernel resets the connection
    and drops what the encoder had not sent yet; the relay's large receive buffer
    takes a whole segment at once, so nothing sent is lost."""
    size = min(_accepted_buffer() // 4, 1024 * 1024)
    with LocalStack() as stack, SigningRelay(
        stack.ingest_base_url, signer=stack.signer,
        config=RelayConfig(journal_dir=str(tmp_path / "journal"), fsync="none"),
        ingest_config=IngestConfig(ca_bundle=stack.ca_bundle),
    ) as relay:
        bodies = {}
        for i in range(3):
            sock = socket.create_connection(("127.0.0.1", relay.port), timeout=20)
            sock.sendall(b"PUT /live/first.ts HTTP/1.1\r\nHost: r\r\nContent-Length: 1\r\n\r\nx")
            time.sleep(0.05)  # its answer arrives, and is never read
            bodies[i] = bytes([i]) * size
            sock.sendall(b"PUT /live/big%d.ts HTTP/1.1\r\nHost: r\r\nContent-Length: %d\r\n\r\n"
                         % (i, size) + bodies[i])
            sock.close()  # unread data: the kernel resets the connection
        deadline = time.monotonic() + 20
        while relay.stats().journaled < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert relay.wait_uploaded(timeout=20)
        for i, data in bodies.items():
            assert stack.origin.read(f"live/big{i}.ts") == data
