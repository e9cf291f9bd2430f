"""The relay's upload order (mediastore_ingest.relay.order.Scheduler), without I/O:
per-path order, superseded versions, manifests waiting for what they name, retries,
streaming, deletions and the lag it reports."""

from __future__ import annotations

import itertools

from mediastore_ingest.ingest.manifests import ManifestRefs, manifest_references
from mediastore_ingest.relay.order import Job, Scheduler

_arrivals = itertools.count(1)


def arrive(s: Scheduler, path: str, now: float = 0.0, *, commit: bool = True,
           refs: ManifestRefs | None = None, delete: bool = False) -> tuple[Job, list[Job]]:
    manifest = path.endswith((".m3u8", ".mpd"))
    job = s.receive(next(_arrivals), path, now, manifest=manifest, delete=delete)
    dropped = s.commit(job, refs, now) if commit else []
    return job, dropped


def hls(*names: str) -> ManifestRefs:
    text = "#EXTM3U\n" + "".join(f"#EXTINF:1,\n{n}\n" for n in names)
    refs = manifest_references("live/index.m3u8", text.encode())
    assert refs is not None
    return refs


def take_all(s: Scheduler, now: float = 0.0) -> list[str]:
    out = []
    while (job := s.take(now)) is not None:
        out.append(job.path)
    return out


def test_first_come_first_served_and_one_upload_per_path() -> None:
    s = Scheduler()
    a, _ = arrive(s, "live/a.ts")
    v1, _ = arrive(s, "live/init.mp4")
    assert s.take(0) is a
    assert s.take(0) is v1
    v2, dropped = arrive(s, "live/init.mp4")  # v1 is uploading: v2 waits for it
    assert dropped == []
    assert s.take(0) is None
    assert s.finish(v1, "done", 0) == []
    assert s.take(0) is v2


def test_a_superseded_waiting_version_is_dropped() -> None:
    s = Scheduler()
    v1, _ = arrive(s, "live/index.m3u8")
    v2, dropped = arrive(s, "live/index.m3u8")
    assert dropped == [v1]
    assert take_all(s) == ["live/index.m3u8"]
    assert v1.state == "done"
    assert v2.state == "running"


def test_an_older_version_still_arriving_is_dropped_when_it_completes() -> None:
    s = Scheduler()
    old, _ = arrive(s, "live/index.m3u8", commit=False)  # a slow body
    new, _ = arrive(s, "live/index.m3u8")
    assert s.take(0) is new  # the older one is doomed, so the newer need not wait
    assert s.commit(old, None, 0) == [old]
    assert s.take(0) is None


def test_a_failed_upload_with_a_newer_version_in_hand_is_dropped() -> None:
    s = Scheduler()
    v1, _ = arrive(s, "live/index.m3u8")
    assert s.take(0) is v1
    v2, _ = arrive(s, "live/index.m3u8")
    assert s.finish(v1, "retry", 0) == [v1]  # never tried again over v2
    assert s.take(0) is v2


def test_failures_wait_and_go_again() -> None:
    s = Scheduler(backoff_base=1.0, backoff_cap=4.0)
    job, _ = arrive(s, "live/a.ts")
    for failures, wait in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 4.0)):
        now = float(failures * 10)
        assert s.take(now) is job
        assert s.finish(job, "retry", now) == []
        assert job.failures == failures
        assert s.next_wake() == now + wait
        assert s.take(now + wait - 0.01) is None
    assert s.take(100) is job


def test_a_manifest_waits_for_the_segments_in_hand_it_names() -> None:
    s = Scheduler()
    seg0, _ = arrive(s, "live/seg0.ts")
    seg1, _ = arrive(s, "live/seg1.ts", commit=False)  # still arriving
    playlist, _ = arrive(s, "live/index.m3u8",
                         refs=hls("seg0.ts", "seg1.ts", "earlier-run.ts"))
    later, _ = arrive(s, "live/seg0.ts", commit=False)  # re-sent after the playlist
    assert s.blocked(playlist)
    assert take_all(s) == ["live/seg0.ts"]  # not the playlist
    s.finish(seg0, "done", 0)
    assert s.take(0) is None  # seg1 is still arriving
    s.commit(seg1, None, 0)
    assert s.take(0) is seg1
    assert s.take(0) is None  # uploading is not stored yet
    s.finish(seg1, "done", 0)
    # earlier-run.ts was never received: it cannot block; the later seg0 is newer
    assert s.take(0) is playlist
    assert later.state == "receiving"


def test_what_a_manifest_does_not_wait_for() -> None:
    s = Scheduler()
    hint, _ = arrive(s, "live/part2.mp4", commit=False)
    other, _ = arrive(s, "live/720p.m3u8")
    gone, _ = arrive(s, "live/gone.ts", commit=False)
    text = (b'#EXTM3U\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part2.mp4"\n'
            b"#EXTINF:1,\n720p.m3u8\n#EXTINF:1,\ngone.ts\n")
    refs = manifest_references("live/index.m3u8", text)
    playlist, _ = arrive(s, "live/index.m3u8", refs=refs)
    assert s.blocked(playlist)
    s.abort(gone)  # broken off: nothing will be stored, stop waiting
    assert not s.blocked(playlist)
    assert set(take_all(s)) == {"live/720p.m3u8", "live/index.m3u8"}
    assert hint.state == "receiving"
    assert other.state == "running"


def test_a_segment_set_aside_stops_blocking() -> None:
    s = Scheduler()
    seg, _ = arrive(s, "live/bad.ts")
    playlist, _ = arrive(s, "live/index.m3u8", refs=hls("bad.ts"))
    assert s.take(0) is seg
    s.finish(seg, "done", 0)  # refused for good: set aside by the caller
    assert s.take(0) is playlist


def test_an_unreadable_manifest_goes_in_arrival_order() -> None:
    s = Scheduler()
    arrive(s, "live/seg0.ts", commit=False)
    playlist, _ = arrive(s, "live/index.m3u8", refs=None)
    assert not s.blocked(playlist)
    assert s.take(0) is playlist


def test_a_dash_pattern_waits_for_matching_objects_that_arrived_before() -> None:
    mpd = (b'<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="dynamic"><Period>'
           b'<AdaptationSet><SegmentTemplate media="v/seg-$Number$.m4s" duration="2"/>'
           b'<Representation id="a"/></AdaptationSet></Period></MPD>')
    refs = manifest_references("live/x.mpd", mpd)
    s = Scheduler()
    seg, _ = arrive(s, "live/v/seg-7.m4s")
    arrive(s, "live/v/other.m4s", commit=False)
    manifest, _ = arrive(s, "live/x.mpd", refs=refs)
    assert s.blocked(manifest)
    assert s.take(0) is seg
    s.finish(seg, "done", 0)
    assert s.take(0) is manifest


def test_streaming_only_when_the_path_is_alone() -> None:
    s = Scheduler()
    busy, _ = arrive(s, "live/a.ts")
    again, _ = arrive(s, "live/a.ts", commit=False)
    assert not s.stream(again)  # another version of the path is in hand
    fresh, _ = arrive(s, "live/b.ts", commit=False)
    assert s.stream(fresh)
    assert s.take(0) is fresh  # streams first
    assert fresh.state == "running"
    # the streaming upload fails while the body still arrives: it goes again once
    # the body is complete, from the journal
    assert s.finish(fresh, "retry", 0) == []
    assert fresh.state == "receiving"
    s.commit(fresh, None, 0)
    assert fresh.state == "pending"
    assert take_all(s, now=10) == ["live/a.ts", "live/b.ts"]
    assert busy.state == "running"


def test_a_stream_completing_after_a_newer_version_is_dropped() -> None:
    s = Scheduler()
    old, _ = arrive(s, "live/a.ts", commit=False)
    assert s.stream(old)
    assert s.take(0) is old
    new, _ = arrive(s, "live/a.ts")
    assert old.doomed
    assert s.take(0) is None  # the older upload is still running
    assert s.commit(old, None, 0) == []  # finish() settles it
    assert s.finish(old, "retry", 0) == [old]
    assert s.take(0) is new


def test_a_deletion_supersedes_waiting_uploads_and_is_not_waited_for() -> None:
    s = Scheduler()
    put, _ = arrive(s, "live/old.ts")
    delete, dropped = arrive(s, "live/old.ts", delete=True)
    assert dropped == [put]
    playlist, _ = arrive(s, "live/index.m3u8", refs=hls("old.ts"))
    assert not s.blocked(playlist)
    assert take_all(s) == ["live/old.ts", "live/index.m3u8"]
    assert delete.state == "running"


def test_backlog_age_and_lag() -> None:
    s = Scheduler()
    arrive(s, "live/seg0.ts", now=1.0)
    arrive(s, "live/index.m3u8", now=2.0, refs=hls("seg0.ts"))
    arrive(s, "live/index.m3u8", now=3.0, refs=hls("seg0.ts"))  # supersedes
    arrive(s, "live/seg1.ts", now=4.0, commit=False)
    assert s.backlog() == 2
    assert s.receiving == 1
    assert s.oldest_age(10.0) == 9.0
    assert s.manifest_lag(10.0) == {"live/index.m3u8": 7.0}
    assert len(s.jobs()) == 3
