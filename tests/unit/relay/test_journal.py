"""The relay's journal on a real directory: permissions, the lock, bounds, commit and
replay (half-written, damaged and superseded entries), following a body as it is
written, setting refused objects aside, and a writer killed with SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mediastore_ingest.errors import RelayError
from mediastore_ingest.relay.journal import (
    FSYNC_MODES,
    Entry,
    FsyncMode,
    Journal,
    JournalFull,
    WriterGone,
    entry_headers,
    is_journal,
)

MiB = 1024 * 1024


def journal(root: Path, **kwargs: object) -> Journal:
    options: dict[str, object] = {"max_bytes": 10 * MiB, "max_objects": 100, "fsync": "none"}
    options.update(kwargs)
    return Journal(root, **options)  # type: ignore[arg-type]


def put(j: Journal, path: str, data: bytes, **kwargs: object) -> Entry:
    writer = j.begin(path, declared=len(data), **kwargs)  # type: ignore[arg-type]
    for i in range(0, len(data), 1000):
        writer.write(data[i:i + 1000])
    return writer.commit()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("fsync", FSYNC_MODES)
def test_entries_are_private_committed_and_replayed(tmp_path: Path, fsync: FsyncMode) -> None:
    root = tmp_path / "journal"
    j = journal(root, fsync=fsync)
    replay = j.open()
    assert replay.entries == ()
    assert is_journal(root)
    assert mode(root) == 0o700
    entry = put(j, "live/seg1.ts", b"x" * 2500, target="/seg1.ts",
                headers=(("Content-Type", "video/MP2T"),), content_type="video/MP2T",
                cache_control="max-age=1", availability="streaming")
    assert Path(entry.data).read_bytes() == b"x" * 2500
    for item in (root / "entries").iterdir():
        assert mode(item) == 0o600
    for sub in ("tmp", "entries", "failed"):
        assert mode(root / sub) == 0o700
    assert j.depth() == (1, 2500)
    j.close()

    again = journal(root, fsync=fsync)
    replay = again.open()
    (found,) = replay.entries
    assert found == entry
    assert found.path_seq == 1
    assert (replay.incomplete, replay.corrupt, replay.failed) == (0, 0, 0)
    meta = json.loads((root / "entries" / f"{entry.arrival:020d}.meta").read_text())
    assert meta["headers"] == [["Content-Type", "video/MP2T"]]
    assert meta["availability"] == "streaming"
    # arrivals and per-path sequences go on from what was found
    nxt = put(again, "live/seg1.ts", b"y")
    assert nxt.arrival == entry.arrival + 1
    assert nxt.path_seq == 2
    again.remove(found)
    again.remove(nxt)
    assert again.depth() == (0, 0)
    assert list((root / "entries").iterdir()) == []
    again.close()


def test_one_relay_per_journal(tmp_path: Path) -> None:
    first = journal(tmp_path / "j")
    first.open()
    with pytest.raises(RelayError, match="in use by another relay"):
        journal(tmp_path / "j").open()
    first.close()
    second = journal(tmp_path / "j")
    second.open()  # the lock is free again
    second.close()


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root writes anywhere")
def test_an_unwritable_directory_is_refused_with_a_hint(tmp_path: Path) -> None:
    root = tmp_path / "ro"
    root.mkdir(mode=0o500)
    try:
        with pytest.raises(RelayError, match="Hint: give --journal-dir"):
            journal(root).open()
        with pytest.raises(RelayError, match="cannot use the journal directory"):
            journal(root / "below").open()
    finally:
        root.chmod(0o700)


def test_a_directory_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    (tmp_path / "media.ts").write_bytes(b"x")
    with pytest.raises(RelayError, match="not a relay journal"):
        journal(tmp_path).open()
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(RelayError, match=r"cannot use the journal directory .*Hint"):
        journal(tmp_path / "file").open()
    with pytest.raises(RelayError, match=r"cannot use the journal directory .*Hint"):
        journal(tmp_path / "file" / "below").open()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="needs root to give a directory away")
def test_a_directory_of_another_user_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "theirs"
    root.mkdir(mode=0o700)
    os.chown(root, 65534, 65534)
    with pytest.raises(RelayError, match="owned by another user"):
        journal(root).open()


def test_a_loose_directory_is_made_private(tmp_path: Path) -> None:
    root = tmp_path / "loose"
    root.mkdir()
    root.chmod(0o755)
    j = journal(root)
    j.open()
    assert mode(root) == 0o700
    j.close()


def test_bounds_in_objects_and_bytes(tmp_path: Path) -> None:
    j = journal(tmp_path / "j", max_bytes=5000, max_objects=2)
    j.open()
    put(j, "a.ts", b"a" * 3000)
    with pytest.raises(JournalFull) as declared:
        j.begin("b.ts", declared=2001)
    assert declared.value.reason == "bytes"
    growing = j.begin("b.ts")  # chunked: checked as it grows
    growing.write(b"b" * 2000)
    with pytest.raises(JournalFull):
        growing.write(b"b")
    growing.abort()
    assert j.depth() == (1, 3000)
    put(j, "c.ts", b"c" * 10)
    with pytest.raises(JournalFull) as objects:
        j.begin("d.ts", declared=1)
    assert objects.value.reason == "objects"
    j.close()


def test_replay_discards_half_written_and_damaged_entries(tmp_path: Path) -> None:
    root = tmp_path / "j"
    j = journal(root)
    j.open()
    good = put(j, "live/good.ts", b"good")
    damaged = put(j, "live/damaged.ts", b"damaged")
    no_meta = put(j, "live/no-meta.ts", b"x")
    no_data = put(j, "live/no-data.ts", b"y")
    receiving = j.begin("live/receiving.ts")
    receiving.write(b"half")  # never committed: a kill -9 mid-body
    j.close()
    Path(damaged.data).write_bytes(b"DAMAGED")  # same size, other bytes
    (root / "entries" / f"{no_meta.arrival:020d}.meta").unlink()
    Path(no_data.data).unlink()

    replay = journal(root).open()
    assert [e.path for e in replay.entries] == [good.path]
    assert replay.incomplete == 3  # the body being received, data alone, meta alone
    assert replay.corrupt == 1
    assert sorted(p.name for p in (root / "entries").iterdir()) == [
        f"{good.arrival:020d}.data", f"{good.arrival:020d}.meta"]
    assert list((root / "tmp").iterdir()) == []


def test_replay_keeps_only_the_newest_version_of_a_path(tmp_path: Path) -> None:
    root = tmp_path / "j"
    j = journal(root)
    j.open()
    v1 = put(j, "live/index.m3u8", b"#EXTM3U\n1")
    put(j, "live/seg.ts", b"s")
    v2 = put(j, "live/index.m3u8", b"#EXTM3U\n2")
    j.close()
    replay = journal(root).open()
    assert [(e.path, e.arrival) for e in replay.entries] == [
        ("live/seg.ts", v1.arrival + 1), ("live/index.m3u8", v2.arrival)]
    assert [e.arrival for e in replay.superseded] == [v1.arrival]
    assert not Path(v1.data).exists()


def test_follow_reads_the_body_as_it_is_written(tmp_path: Path) -> None:
    j = journal(tmp_path / "j")
    j.open()
    writer = j.begin("live/s.ts")
    follower = writer.follow(piece_size=4)
    got: list[bytes] = []
    done = threading.Event()

    def read() -> None:
        got.extend(follower)
        done.set()

    thread = threading.Thread(target=read)
    thread.start()
    writer.write(b"abcdef")
    writer.write(b"gh")
    assert not done.wait(0.2)  # waits for more until the body is complete
    entry = writer.commit()
    thread.join(5)
    assert b"".join(got) == b"abcdefgh"
    assert writer.wait_settled(1) == entry

    broken = j.begin("live/t.ts")
    follower = broken.follow()
    broken.write(b"xy")
    assert next(follower) == b"xy"
    broken.abort()
    with pytest.raises(WriterGone):
        next(follower)
    assert broken.wait_settled(1) is None
    assert j.depth() == (1, 8)
    j.close()


def test_quarantine_sets_a_refused_object_aside(tmp_path: Path) -> None:
    root = tmp_path / "j"
    j = journal(root)
    j.open()
    entry = put(j, "live/bad.ts", b"refused")
    kept = j.quarantine(entry, "HTTP 400")
    assert Path(kept).read_bytes() == b"refused"
    assert j.depth() == (0, 0)
    assert j.failed_count() == 1
    meta = json.loads((root / "failed" / f"{entry.arrival:020d}.meta").read_text())
    assert meta["refused"] == "HTTP 400"
    j.close()
    replay = journal(root).open()
    assert replay.entries == ()
    assert replay.failed == 1


def test_entry_headers_keeps_what_matters() -> None:
    headers = {"Content-Type": "video/MP2T", "Cache-Control": "no-cache",
               "Authorization": "secret", "X-Relay-Token": "secret"}
    assert entry_headers(headers) == (("Content-Type", "video/MP2T"),
                                      ("Cache-Control", "no-cache"))


_WRITER = """
import sys
from mediastore_ingest.relay.journal import Journal
j = Journal(sys.argv[1], max_bytes=1 << 30, max_objects=10**6, fsync="none")
j.open()
print("ready", flush=True)
n = 0
while True:
    w = j.begin(f"live/seg{n}.ts")
    for _ in range(8):
        w.write(bytes([n % 256]) * 4096)
    w.commit()
    n += 1
"""


def test_a_writer_killed_with_sigkill_leaves_only_complete_entries(tmp_path: Path) -> None:
    root = tmp_path / "j"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    for _ in range(2):
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(root)], env=env,
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        with proc.stdout:
            assert proc.stdout.readline() == "ready\n"
            time.sleep(0.3)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        j = journal(root, max_bytes=1 << 30, max_objects=10**6)
        replay = j.open()
        assert replay.entries
        assert replay.corrupt == 0
        for entry in replay.entries:
            n = int(entry.path.removeprefix("live/seg").removesuffix(".ts"))
            assert Path(entry.data).read_bytes() == bytes([n % 256]) * 4096 * 8
        j.close()


def test_a_full_journal_answers_503_with_retry_after(tmp_path: Path) -> None:
    """The bound as the encoder sees it: 503 and Retry-After, never a silent drop."""
    import http.client

    from mediastore_ingest.ingest import IngestClient, MockTransport, Request, Response
    from mediastore_ingest.relay import RelayConfig, SigningRelay

    def down(request: Request) -> Response:
        return Response(503, {}, b"{}")  # nothing leaves the journal

    client = IngestClient("http://127.0.0.1:9", transport=MockTransport(down))
    config = RelayConfig(journal_dir=str(tmp_path / "j"), journal_max_bytes=1000,
                         max_segment_bytes=1000, journal_max_objects=3, retry_after=7,
                         shutdown_timeout=0.5)
    with SigningRelay(client=client, config=config) as relay:
        def put(path: str, body: bytes) -> tuple[int, str | None]:
            conn = http.client.HTTPConnection("127.0.0.1", relay.port, timeout=10)
            try:
                conn.request("PUT", path, body=body)
                response = conn.getresponse()
                response.read()
                return response.status, response.getheader("Retry-After")
            finally:
                conn.close()

        assert put("/a.ts", b"a" * 600) == (200, None)
        assert put("/b.ts", b"b" * 600) == (503, "7")  # 1200 bytes would not fit
        assert put("/c.ts", b"c" * 100) == (200, None)
        assert put("/d.ts", b"d" * 100) == (200, None)
        assert put("/e.ts", b"e") == (503, "7")  # three objects: the limit
        metrics = relay.metrics_text()
        assert 'mediastore_relay_refused_total{reason="journal_full"} 2' in metrics
        assert relay.stats().journal_objects == 3
    assert relay.drain() == 3  # kept for the next start
