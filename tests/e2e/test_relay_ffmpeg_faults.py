"""The real ffmpeg (``-f hls -method PUT -http_persistent 1``) through the relay while
the edge misbehaves: 30% of requests answered 503 with ``Retry-After``, then the
edge down for ten seconds mid-stream.

Each encode also runs into a local directory (``-fflags +bitexact``: the same bytes):
every segment and the final playlist must be stored byte for byte. A watcher samples
the origin's playlist throughout: it must never go back (media sequence, last
segment, ``#EXT-X-ENDLIST``), and every segment it names must already be stored when
it is seen. The relay's counts must equal what the origin holds.
"""

from __future__ import annotations

import http.client
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from mediastore_ingest.errors import ObjectNotFoundError
from mediastore_ingest.ingest import IngestConfig, RetryPolicy
from mediastore_ingest.relay import RelayConfig, SigningRelay
from mediastore_ingest.testing import FaultPlan, LocalStack

FFMPEG = shutil.which("ffmpeg")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is not on PATH (CI installs it)")

SECONDS = 7  # 14 segments of 0.5 s
PLAYLIST = "live/index.m3u8"


def encode_args(*, realtime: bool) -> list[str]:
    assert FFMPEG is not None
    return [
        FFMPEG, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
        *(["-re"] if realtime else []),
        "-f", "lavfi", "-i", "testsrc=size=160x120:rate=24", "-t", str(SECONDS),
        "-c:v", "mpeg2video", "-g", "12", "-fflags", "+bitexact", "-flags", "+bitexact",
        "-f", "hls", "-hls_time", "0.5", "-hls_list_size", "0",
    ]


def local_copy(tmp_path: Path) -> dict[str, bytes]:
    out = tmp_path / "local"
    out.mkdir()
    subprocess.run([*encode_args(realtime=False), str(out / "index.m3u8")], check=True,
                   timeout=60)
    files = {p.name: p.read_bytes() for p in out.iterdir()}
    assert len(files) >= 2 * SECONDS, sorted(files)
    return files


def push(relay: SigningRelay, *, realtime: bool) -> None:
    subprocess.run(
        [*encode_args(realtime=realtime), "-method", "PUT", "-http_persistent", "1",
         f"{relay.url}/{PLAYLIST}"],
        check=True, timeout=60,
    )


def stored(stack: LocalStack, path: str) -> bytes | None:
    """The bytes the origin holds at ``path``, None if none."""
    try:
        return stack.origin.read(path)
    except ObjectNotFoundError:
        return None


class PlaylistWatch:
    """Samples the origin's playlist every few milliseconds in a thread; records every
    regression and every named segment missing at the origin."""

    def __init__(self, stack: LocalStack, path: str = PLAYLIST) -> None:
        self.stack = stack
        self.path = path
        self.problems: list[str] = []
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PlaylistWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        last: tuple[int, int, bool] | None = None
        directory = self.path.rpartition("/")[0]
        while not self._stop.wait(0.005):
            found = stored(self.stack, self.path)
            if found is None:  # not stored yet
                continue
            text = found.decode()
            self.samples += 1
            sequence = int(m.group(1)) if (
                m := re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", text)) else 0
            segments = [line for line in text.splitlines() if line and not line.startswith("#")]
            state = (sequence, sequence + len(segments), "#EXT-X-ENDLIST" in text)
            if last is not None and (state[0] < last[0] or state[1] < last[1]
                                     or (last[2] and not state[2])):
                self.problems.append(f"playlist went back: {last} -> {state}")
            last = state
            for name in segments:
                if stored(self.stack, f"{directory}/{name}") is None:
                    self.problems.append(f"playlist names {name} before it is stored")


def assert_complete(stack: LocalStack, relay_uploaded: int, expected: dict[str, bytes]) -> None:
    stored = sorted(p for p in stack.origin.paths() if p.startswith("live/"))
    assert stored == sorted(f"live/{name}" for name in expected)
    for name, data in expected.items():
        assert stack.origin.read(f"live/{name}") == data, name
    puts = sum(stack.container.put_count(path) for path in stored)
    assert relay_uploaded == puts  # the relay's count is what the origin holds


def relay_for(stack: LocalStack, tmp_path: Path, **config: object) -> SigningRelay:
    retry = RetryPolicy(max_attempts=3, backoff_base=0.01, backoff_cap=0.05,
                        retry_after_cap=0.3)
    return SigningRelay(
        stack.ingest_base_url, signer=stack.signer,
        config=RelayConfig(journal_dir=str(tmp_path / "journal"), fsync="none",
                           **config),  # type: ignore[arg-type]
        ingest_config=IngestConfig(ca_bundle=stack.ca_bundle, retry=retry),
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
    with LocalStack(faults=plan) as stack, PlaylistWatch(stack) as watch:
        with relay_for(stack, tmp_path, requeue_cap=0.2) as relay:
            push(relay, realtime=False)
            assert relay.wait_uploaded(timeout=60)
        stats = relay.stats()
        injected = stack.ingest_edge.faults_injected.get("http_503", 0)
        assert_complete(stack, stats.uploaded, expected)
    assert injected > 0
    assert stats.retries > 0  # the 503s were retried (Retry-After capped at 0.3 s)
    assert (stats.failed, stats.aborted, stats.journal_objects) == (0, 0, 0)
    assert stats.journaled == stats.uploaded + stats.superseded
    assert stats.superseded == stats.superseded_manifests  # only playlists are rewritten
    assert watch.samples > 0
    assert watch.problems == []


@pytest.mark.slow
@needs_ffmpeg
def test_ffmpeg_while_the_edge_is_down_for_ten_seconds(
    tmp_path: Path, expected: dict[str, bytes]
) -> None:
    # From 1 s to 11 s after the stack starts, every request to the edge gets 503:
    # the encoder, pushing in real time for 7 s, never notices.
    down = FaultPlan.always("http_503", active_from=1.0, active_until=11.0)
    with LocalStack(faults=down) as stack, PlaylistWatch(stack) as watch:
        started = time.monotonic()
        with relay_for(stack, tmp_path, requeue_cap=1.0) as relay:
            deepest = 0

            def depth() -> None:
                nonlocal deepest
                while not done.wait(0.05):
                    deepest = max(deepest, relay.stats().journal_objects)

            done = threading.Event()
            sampler = threading.Thread(target=depth, daemon=True)
            sampler.start()
            push(relay, realtime=True)
            pushed = time.monotonic() - started
            assert relay.wait_uploaded(timeout=60)
            done.set()
            sampler.join(5)
        stats = relay.stats()
        outage = stack.ingest_edge.faults_injected.get("http_503", 0)
        assert_complete(stack, stats.uploaded, expected)
    assert pushed < 11.0  # ffmpeg finished during the outage, unhindered
    assert outage > 0
    assert stats.retried > 0  # upload rounds failed and went again after the outage
    assert deepest >= SECONDS  # the journal held the stream while the edge was down
    assert (stats.failed, stats.aborted, stats.journal_objects) == (0, 0, 0)
    assert stats.journaled == stats.uploaded + stats.superseded
    assert stats.superseded_manifests > 0  # playlist versions waiting were dropped
    assert watch.problems == []


def test_a_playlist_waits_for_a_segment_still_arriving(tmp_path: Path) -> None:
    """Without ffmpeg, deterministic: the playlist is journaled and answered at once,
    but reaches the origin only after the segment it names, still being received on
    another connection, is stored."""
    with LocalStack() as stack, relay_for(stack, tmp_path) as relay:
        segment = socket.create_connection(("127.0.0.1", relay.port), timeout=20)
        segment.sendall(b"PUT /live/seg0.ts HTTP/1.1\r\nHost: r\r\n"
                        b"Transfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        playlist = b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nseg0.ts\n"
        conn = http.client.HTTPConnection("127.0.0.1", relay.port, timeout=20)
        conn.request("PUT", "/" + PLAYLIST, body=playlist)
        response = conn.getresponse()
        assert response.status == 200  # journaled
        response.read()
        assert not relay.wait_uploaded(timeout=0.5)
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
