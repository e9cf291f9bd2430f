"""The relay CLI (``python -m mediastore_ingest relay``) stopped and started again over
its journal: SIGTERM mid-stream while the real ffmpeg pushes, ``kill -9`` with
objects journaled but not uploaded (the edge down), ``kill -9`` in the middle of a
body; and what the CLI refuses at start.

After the restart every segment and the final playlist must be at the origin byte
for byte, the origin's playlist must never have gone back, and the runs' counts must
add up to what the origin holds.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from mediastore_ingest.cli import main
from mediastore_ingest.testing import FaultPlan, LocalStack
from tests._support.relay_e2e import (
    PLAYLIST,
    PlaylistWatch,
    RelayProcess,
    assert_complete,
    local_copy,
    needs_ffmpeg,
    push_args,
)

JOURNALED = "mediastore_relay_journaled_total"
OBJECTS = "mediastore_relay_journal_objects"


def dead_port() -> int:
    """A loopback port nothing listens on: an edge that is down."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


@pytest.mark.slow
@needs_ffmpeg
def test_sigterm_mid_stream_then_restart(tmp_path: Path) -> None:
    expected = local_copy(tmp_path)
    journal = tmp_path / "journal"
    # A slow edge for the first run (1 s per request, one upload at a time), so
    # SIGTERM leaves objects behind; the restart, after the window, finds it fast.
    slow = FaultPlan.always("delay", delay=1.0, active_until=14.0)
    with LocalStack(faults=slow) as stack, PlaylistWatch(stack) as watch:
        first = RelayProcess(stack, tmp_path, journal, "--upload-workers", "1",
                             "--shutdown-timeout", "9", name="first")
        with first:
            encoder = subprocess.Popen(push_args(first.url, realtime=True))
            try:
                first.wait_for(JOURNALED, 6, timeout=30)  # mid-stream
                assert encoder.poll() is None
                # the relay keeps reading ffmpeg's connection (its requests are on the
                # wire) until the stream ends, then uploads until the deadline
                assert first.stop(signal.SIGTERM, timeout=30) == 0
                assert encoder.wait(30) == 0
            finally:
                if encoder.poll() is None:
                    encoder.kill()
                    encoder.wait()
        one = first.summary()
        err = first.err.read_text()
        assert "SIGTERM received" in err
        assert one["left"] > 0, err[-3000:]  # some uploads were still to do
        assert one["uploaded"] > 0
        assert one["journaled"] == one["uploaded"] + one["superseded"] + one["left"]
        assert one["journaled"] >= 2 * len(expected) - 2  # ffmpeg's whole stream

        second = RelayProcess(stack, tmp_path, journal, name="second")
        with second:
            second.wait_empty(timeout=60)
            assert second.stop() == 0
        two = second.summary()
        found = re.search(r"(\d+) object\(s\) \(\d+ bytes\) from an earlier run to upload, "
                          r"(\d+) half-written discarded, (\d+) damaged discarded, (\d+) older "
                          r"version\(s\) superseded", second.err.read_text())
        assert found is not None
        replayed, half, damaged, older = map(int, found.groups())
        assert (replayed, half, damaged) == (two["replayed"], 0, 0)
        # the playlist version cut off in flight is superseded by the one waiting
        assert replayed + older == one["left"]
        assert older <= 1
        assert two["journaled"] == 0
        assert two["replayed"] == two["uploaded"] + two["superseded"]
        assert two["left"] == 0
        # the first run's one upload worker may have been cut off at its deadline
        assert_complete(stack, one["uploaded"] + two["uploaded"], expected, cut_off=1)
    assert watch.problems == []
    assert (one["failed"], two["failed"], one["aborted"]) == (0, 0, 0)


@pytest.mark.slow
@needs_ffmpeg
def test_kill_9_with_objects_journaled_then_restart(tmp_path: Path) -> None:
    expected = local_copy(tmp_path)
    journal = tmp_path / "journal"
    with LocalStack() as stack, PlaylistWatch(stack) as watch:
        down = f"https://127.0.0.1:{dead_port()}"  # nothing listens: the edge is down
        with RelayProcess(stack, tmp_path, journal, to=down, name="first") as first:
            subprocess.run(push_args(first.url, realtime=False), check=True, timeout=60)
            first.wait_for(JOURNALED, 2 * len(expected) - 2)
            time.sleep(0.3)  # anything still on the wire is read
            held = first.metrics()[OBJECTS]
            first.stop(signal.SIGKILL)
        assert held == len(expected)  # every segment and the newest playlist
        metas = list((journal / "entries").glob("*.meta"))
        assert len(metas) == held
        assert stack.origin.paths() == []

        second = RelayProcess(stack, tmp_path, journal, "--log-level", "DEBUG",
                              name="second")
        with second:
            second.wait_empty(timeout=60)
            assert second.stop() == 0
        two = second.summary()
        assert (two["replayed"], two["uploaded"], two["left"]) == (held, held, 0)
        assert_complete(stack, two["uploaded"], expected)
        err = second.err.read_text()
    assert watch.problems == []
    assert f"{int(held)} object(s)" in err
    # urllib3's DEBUG lines name each signed URL: never its Signature or Policy
    assert "Signature=<redacted>" in err
    assert not re.search(r"(Signature|Policy)=(?!<redacted>)", err)


def test_kill_9_in_the_middle_of_a_body_stores_nothing_of_it(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    with LocalStack() as stack:
        stack.container.write(PLAYLIST, b"#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:7\n")
        before = stack.container.read(PLAYLIST)
        down = f"https://127.0.0.1:{dead_port()}"
        with RelayProcess(stack, tmp_path, journal, to=down, name="first") as first:
            sock = socket.create_connection(("127.0.0.1", first.port), timeout=20)
            sock.sendall(b"PUT /live/seg0.ts HTTP/1.1\r\nHost: r\r\nContent-Length: 3\r\n\r\nabc")
            sock.sendall(b"PUT /" + PLAYLIST.encode() + b" HTTP/1.1\r\nHost: r\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n8\r\n#EXTM3U\n\r\n")
            first.wait_for(JOURNALED, 1)
            deadline = time.monotonic() + 10
            while first.metrics()["mediastore_relay_receiving"] < 1:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            first.stop(signal.SIGKILL)  # the playlist's body is half-written
            sock.close()
        second = RelayProcess(stack, tmp_path, journal, name="second")
        with second:
            second.wait_empty(timeout=30)
            assert second.stop() == 0
        err = second.err.read_text()
        assert "1 half-written discarded" in err
        assert stack.container.read("live/seg0.ts") == b"abc"  # the complete one
        assert stack.container.read(PLAYLIST) == before  # unchanged


def test_the_cli_refuses_what_it_cannot_do_safely(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["relay", "--to", "https://d111111abcdef8.cloudfront.net", "--unsigned"]
    # beyond loopback without a token
    assert main([*base, "--listen", "192.0.2.10:8080"]) == 2
    assert "requires a token" in capsys.readouterr().err
    # the spool is gone
    assert main([*base, "--listen", "127.0.0.1:0", "--spool", str(tmp_path)]) == 2
    assert "--journal-dir" in capsys.readouterr().err
    # a journal directory that cannot be used is refused at start, with a hint
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    assert main([*base, "--listen", "127.0.0.1:0", "--journal-dir",
                 str(blocker / "journal")]) == 1
    err = capsys.readouterr().err
    assert "cannot use the journal directory" in err
    assert "Hint:" in err
    assert main([*base, "--listen", "127.0.0.1:0", "--journal-max-bytes", "lots"]) == 2
    assert "--journal-max-bytes" in capsys.readouterr().err
