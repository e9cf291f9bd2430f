"""Progress subscribers: s3transfer's shape (its subscribers work unchanged), a public
``Subscriber`` protocol, and a console line that knows whether it is on a terminal.

Before: subscribers were typed ``Sequence[object]``, the docstring pointed at a
private module, an s3transfer subscriber (``on_progress(self, future,
bytes_transferred, **kwargs)``) failed on every call for want of ``future``, and
``ProgressLine`` wrote ``\\r…\\x1b[K`` into logs with no total, percent or ETA.
"""

from __future__ import annotations

import inspect
import io
import threading
from typing import Any

import pytest

import mediastore_ingest.ingest as ingest
from mediastore_ingest.errors import InvalidPathError
from mediastore_ingest.ingest import (
    IngestClient,
    MockTransport,
    ProgressLine,
    PutFuture,
    PutResult,
    Response,
    Subscriber,
)
from mediastore_ingest.testing import LocalStack


def ok(request: Any) -> Response:
    return Response(200, {}, b"{}")


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# --- the protocol ----------------------------------------------------------------------


def test_subscriber_is_public_and_types_the_parameter() -> None:
    assert "Subscriber" in ingest.__all__
    assert "PutFuture" in ingest.__all__
    hints = inspect.signature(IngestClient).parameters["subscribers"].annotation
    assert "Subscriber" in str(hints)
    assert "_progress" not in (IngestClient.__doc__ or "")
    assert "Subscriber" in (IngestClient.__doc__ or "")


def test_subclassing_subscriber_gives_do_nothing_methods() -> None:
    seen: list[int] = []

    class OnlyBytes(Subscriber):
        def on_progress(self, *, bytes_transferred: int, **kwargs: Any) -> None:
            seen.append(bytes_transferred)

    client = IngestClient("https://d1.example.net", transport=MockTransport(ok),
                          subscribers=[OnlyBytes()])
    client.put("live/a.ts", b"x" * 10)
    assert seen == [10]
    assert isinstance(OnlyBytes(), Subscriber)
    assert isinstance(ProgressLine(io.StringIO()), Subscriber)


def test_an_s3transfer_subscriber_works_unchanged(mediastore_stack: LocalStack) -> None:
    base = pytest.importorskip("s3transfer.subscribers").BaseSubscriber

    class Recorder(base):  # type: ignore[misc, valid-type]
        """Written for boto3's transfer manager, as its docs show."""

        def __init__(self) -> None:
            self.lock = threading.Lock()
            self.events: list[tuple[str, Any]] = []

        def on_queued(self, future: Any, **kwargs: Any) -> None:
            with self.lock:
                self.events.append(("queued", (future.meta.call_args.key, future.meta.size)))

        def on_progress(self, future: Any, bytes_transferred: int, **kwargs: Any) -> None:
            with self.lock:
                future.meta.user_context.setdefault("sent", 0)
                future.meta.user_context["sent"] += bytes_transferred

        def on_done(self, future: Any, **kwargs: Any) -> None:
            try:
                result = future.result()
            except Exception as exc:
                outcome: Any = type(exc).__name__
            else:
                outcome = (result.status, future.meta.user_context["sent"])
            with self.lock:
                self.events.append(("done", (future.meta.call_args.key, outcome)))

    recorder = Recorder()
    client = mediastore_stack.ingest_client(subscribers=[recorder])
    client.put("live/a.ts", b"a" * 3000)
    client.put_many([("live/b.ts", b"b" * 10), ("live/bad path.ts", b"c")], max_concurrency=2)
    events = sorted(recorder.events, key=repr)
    assert ("queued", ("live/a.ts", 3000)) in events
    assert ("done", ("live/a.ts", (200, 3000))) in events
    assert ("done", ("live/b.ts", (200, 10))) in events
    assert ("done", ("live/bad path.ts", "InvalidPathError")) in events
    assert len(events) == 6


def test_a_future_carries_the_upload() -> None:
    futures: list[PutFuture] = []
    kwargs_seen: list[dict[str, Any]] = []

    class Keep(Subscriber):
        def on_done(self, **kwargs: Any) -> None:
            futures.append(kwargs["future"])
            kwargs_seen.append(kwargs)

    client = IngestClient("https://d1.example.net", transport=MockTransport(ok),
                          subscribers=[Keep()])
    client.put("live/a.ts", b"x", content_type="video/MP2T")
    with pytest.raises(InvalidPathError):
        client.put("bad path", b"x")
    first, second = futures
    assert first.done()
    assert isinstance(first.result(), PutResult)
    assert first.path == "live/a.ts"
    assert first.meta.call_args.key == "live/a.ts"
    assert first.meta.call_args.extra_args == {"content_type": "video/MP2T"}
    assert first.meta.transfer_id != second.meta.transfer_id
    assert isinstance(second.exception(), InvalidPathError)
    with pytest.raises(InvalidPathError):
        second.result()
    # the documented keywords, beside future
    assert {"future", "path", "result", "exception"} <= set(kwargs_seen[0])
    assert kwargs_seen[1]["exception"] is second.exception()


# --- the console line ------------------------------------------------------------------


def test_not_a_tty_writes_no_escape_codes() -> None:
    out = io.StringIO()
    line = ProgressLine(out, interval=0)
    assert not line.tty
    client = IngestClient("https://d1.example.net", transport=MockTransport(ok),
                          subscribers=[line])
    for i in range(5):
        client.put(f"live/s{i}.ts", b"x" * 1000)
    line.finish()
    text = out.getvalue()
    assert "\r" not in text
    assert "\x1b" not in text
    assert text.endswith("\n")
    assert text.splitlines()[-1].startswith("5/5 files  4.9 KiB of 4.9 KiB  100%  ")


def test_not_a_tty_writes_a_plain_line_now_and_then() -> None:
    out = io.StringIO()
    clock = Clock()
    line = ProgressLine(out, interval=0, clock=clock, log_interval=30)
    line.on_queued(size=100)
    clock.now = 10
    line.on_progress(bytes_transferred=50)
    assert out.getvalue() == ""  # not yet: a log gets a line every 30 s at most
    clock.now = 31
    line.on_progress(bytes_transferred=10)
    assert out.getvalue().count("\n") == 1
    line.finish()
    assert out.getvalue().count("\n") == 2


def test_a_tty_line_has_total_percent_rate_and_eta() -> None:
    out = Tty()
    clock = Clock()
    line = ProgressLine(out, interval=0, clock=clock)
    assert line.tty
    line.on_queued(size=4 * 1024 * 1024)
    line.on_queued(size=4 * 1024 * 1024)
    clock.now = 2.0
    line.on_progress(bytes_transferred=2 * 1024 * 1024)
    text = line.line()
    assert text == "0/2 files  2.0 MiB of 8.0 MiB  25%  1.0 MiB/s  ETA 0:06"
    assert out.getvalue().startswith("\r")
    assert out.getvalue().endswith("\x1b[K")
    line.on_done(exception=RuntimeError("x"))
    assert line.line().endswith("1 failed")
    line.finish()
    assert out.getvalue().endswith("\n")


def test_unknown_sizes_show_bytes_and_rate_only() -> None:
    clock = Clock()
    line = ProgressLine(io.StringIO(), clock=clock)
    line.on_queued(size=None)
    clock.now = 1.0
    line.on_progress(bytes_transferred=2048)
    assert line.line() == "0/1 files  2.0 KiB  2.0 KiB/s"


def test_tty_can_be_forced_either_way() -> None:
    assert ProgressLine(io.StringIO(), tty=True).tty
    assert not ProgressLine(Tty(), tty=False).tty


def test_file_paths_count_towards_the_total(tmp_path: Any) -> None:
    f = tmp_path / "seg.ts"
    f.write_bytes(b"x" * 1234)
    line = ProgressLine(io.StringIO())
    client = IngestClient("https://d1.example.net", transport=MockTransport(ok),
                          subscribers=[line])
    client.put_many([("live/a.ts", f), ("live/b.m3u8", "#EXTM3U\n")])
    assert line.total == 1234 + 8
    assert line.bytes == line.total
