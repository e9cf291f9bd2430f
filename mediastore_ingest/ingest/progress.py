"""Progress of uploads: the [`Subscriber`][mediastore_ingest.ingest.Subscriber] protocol
and [`ProgressLine`][mediastore_ingest.ingest.ProgressLine], the command line's display.

Give subscribers to the client (`IngestClient(subscribers=[...])`, or per call
`put_many(..., subscribers=[...])`). A subscriber has the shape of s3transfer's
(`s3transfer.subscribers.BaseSubscriber`), so one written for boto3's transfer manager
works unchanged: every call is by keyword, and each method takes `**kwargs` so new
keywords can be added later without breaking it:

* `on_queued(future=, path=, size=)`: the upload was accepted (`size` is `None` when it
  is not known before reading the body: a generator, a pipe);
* `on_progress(future=, path=, bytes_transferred=)`: bytes went out; negative when a
  failed attempt is rewound before a retry;
* `on_done(future=, path=, result=, exception=)`: finished, with a
  [`PutResult`][mediastore_ingest.ingest.PutResult] or the exception (the same object
  as `PutOutcome.error`).

`future` is a [`PutFuture`][mediastore_ingest.ingest.PutFuture] shaped like s3transfer's
`TransferFuture`: `future.meta.size`, `future.meta.call_args.key` (the path),
`future.meta.user_context`, `future.done()`, `future.result()`.

A subscriber that raises is logged and ignored: progress display never breaks an upload.
Subscribers are called on the thread doing the upload (several at once under
`put_many`), so one shared between uploads must be thread-safe, as `ProgressLine` is.
"""

from __future__ import annotations

import itertools
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TextIO, runtime_checkable

import attrs

from mediastore_ingest._internal.validate import (
    Validator,
    check,
    check_callable,
    number,
    optional,
)
from mediastore_ingest.errors import InvalidInputError
from mediastore_ingest.ingest.models import PutRequest, PutResult

__all__ = ["ProgressLine", "PutCallArgs", "PutFuture", "PutMeta", "Subscriber", "Subscribers"]

logger = logging.getLogger(__name__)

_TEXT_STREAM = Validator("a text stream", lambda v: callable(getattr(v, "write", None)))
_TRANSFER_IDS = itertools.count(1)


# --- what a subscriber is told ---------------------------------------------------------


@attrs.frozen
class PutCallArgs:
    """The arguments of one upload, named as s3transfer names an upload's
    (`key` is the object path, `fileobj` the body as given, `bucket` always `None`;
    `extra_args` holds `content_type`, `cache_control`, `storage_class` and
    `upload_availability` when they were given)."""

    key: str
    fileobj: object = attrs.field(repr=False)
    extra_args: Mapping[str, str] = attrs.field(factory=dict)
    subscribers: tuple[object, ...] = attrs.field(default=(), repr=False)
    bucket: None = None


class PutMeta:
    """What is known of one upload (s3transfer's `TransferMeta`): `call_args`,
    `transfer_id` (unique in this process), `size` (`None` if unknown) and
    `user_context`, a dict subscribers may keep their own state in."""

    def __init__(self, call_args: PutCallArgs, size: int | None) -> None:
        self.call_args = call_args
        self.transfer_id = next(_TRANSFER_IDS)
        self.size = size
        self.user_context: dict[str, Any] = {}

    def provide_transfer_size(self, size: int) -> None:
        """Record the size (s3transfer's API; informational here)."""
        self.size = size

    def __repr__(self) -> str:
        return f"PutMeta({self.call_args.key!r}, size={self.size!r})"


class PutFuture:
    """One upload, as its subscribers see it (s3transfer's `TransferFuture` shape)."""

    def __init__(self, meta: PutMeta) -> None:
        self.meta = meta
        self._done = threading.Event()
        self._result: PutResult | None = None
        self._exception: BaseException | None = None

    @property
    def path(self) -> str:
        """The object path."""
        return self.meta.call_args.key

    def done(self) -> bool:
        """True once the upload finished (stored, or failed)."""
        return self._done.is_set()

    def result(self, timeout: float | None = None) -> PutResult:
        """The [`PutResult`][mediastore_ingest.ingest.PutResult], or raise the upload's
        exception. Waits for the end (up to ``timeout`` seconds; at once from
        ``on_done``); [`InvalidInputError`][mediastore_ingest.errors.InvalidInputError]
        if it has not ended by then."""
        if not self._done.wait(timeout):
            raise InvalidInputError(f"the upload of {self.path!r} has not finished")
        if self._exception is not None:
            raise self._exception
        assert self._result is not None
        return self._result

    def exception(self) -> BaseException | None:
        """The exception the upload ended with, or ``None`` (also while it runs)."""
        return self._exception

    def set_done(self, result: PutResult | None, exception: BaseException | None) -> None:
        """Record the end of the upload (the client calls it)."""
        self._result = result
        self._exception = exception
        self._done.set()

    def __repr__(self) -> str:
        state = "done" if self.done() else "running"
        return f"PutFuture({self.path!r}, {state})"


@runtime_checkable
class Subscriber(Protocol):
    """What the client calls as an upload goes: s3transfer's subscriber shape, so a
    subscriber written for boto3's transfer manager (`s3transfer.subscribers.BaseSubscriber`)
    works unchanged.

    Every call is by keyword, and each method takes `**kwargs` (new keywords may come):

    * `on_queued(future=, path=, size=)`: the upload was accepted; `size` is `None`
      when it is not known before reading the body (a generator, a pipe);
    * `on_progress(future=, path=, bytes_transferred=)`: bytes went out; negative when
      a failed attempt is rewound before a retry;
    * `on_done(future=, path=, result=, exception=)`: finished, with a
      [`PutResult`][mediastore_ingest.ingest.PutResult] or the exception (the same
      object as `PutOutcome.error`).

    `future` is a [`PutFuture`][mediastore_ingest.ingest.PutFuture]:
    `future.meta.size`, `future.meta.call_args.key` (the path),
    `future.meta.user_context`, `future.done()`, `future.result()`.

    Subclass it to get methods that do nothing and override the ones you need, or pass
    any object with these methods. They run on the uploading thread (several at once
    under `put_many`); one that raises is logged and ignored."""

    def on_queued(self, *, future: PutFuture, path: str, size: int | None, **kwargs: Any) -> None:
        """The upload was accepted."""

    def on_progress(
        self, *, future: PutFuture, path: str, bytes_transferred: int, **kwargs: Any
    ) -> None:
        """``bytes_transferred`` bytes went out (negative: rewound for a retry)."""

    def on_done(
        self,
        *,
        future: PutFuture,
        path: str,
        result: PutResult | None,
        exception: BaseException | None,
        **kwargs: Any,
    ) -> None:
        """The upload finished with ``result`` or ``exception``."""


# --- calling subscribers ---------------------------------------------------------------


def _subscriber_tuple(subscribers: object) -> tuple[object, ...]:
    if isinstance(subscribers, (str, bytes, bytearray)) or not isinstance(
        subscribers, Iterable
    ):
        raise InvalidInputError(
            "subscribers must be a sequence of subscriber objects, not "
            f"{type(subscribers).__name__}"
        )
    return tuple(subscribers)


def _extra_args(item: PutRequest) -> dict[str, str]:
    given = {
        "content_type": item.content_type,
        "cache_control": item.cache_control,
        "storage_class": item.storage_class,
        "upload_availability": item.upload_availability,
    }
    return {name: value for name, value in given.items() if isinstance(value, str)}


class Subscribers:
    """Calls the matching method on every subscriber, swallowing their errors."""

    def __init__(self, subscribers: Sequence[Subscriber | object] = ()) -> None:
        self._subscribers = _subscriber_tuple(subscribers)

    def __bool__(self) -> bool:
        return bool(self._subscribers)

    def extended(self, more: Sequence[Subscriber | object]) -> Subscribers:
        """A new set with ``more`` appended."""
        return Subscribers(self._subscribers + _subscriber_tuple(more))

    def _call(self, name: str, kwargs: dict[str, Any]) -> None:
        for subscriber in self._subscribers:
            method = getattr(subscriber, name, None)
            if method is None:
                continue
            try:
                method(**kwargs)
            except Exception:
                logger.warning(
                    "progress subscriber %r failed in %s", subscriber, name, exc_info=True
                )

    def queued(self, item: PutRequest, size: int | None) -> PutFuture:
        """Call ``on_queued`` for ``item``; the future its later events carry."""
        call_args = PutCallArgs(item.path, item.body, _extra_args(item), self._subscribers)
        future = PutFuture(PutMeta(call_args, size))
        self._call("on_queued", {"future": future, "path": item.path, "size": size})
        return future

    def progress(self, future: PutFuture, path: str, n: int) -> None:
        """Call ``on_progress``: ``n`` bytes of ``path`` went out."""
        self._call("on_progress", {"future": future, "path": path, "bytes_transferred": n})

    def done(
        self, future: PutFuture, result: PutResult | None, exception: BaseException | None
    ) -> None:
        """Record the end in ``future``, then call ``on_done``."""
        future.set_done(result, exception)
        self._call(
            "on_done",
            {"future": future, "path": future.path, "result": result, "exception": exception},
        )


# --- the command line's display -------------------------------------------------------


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _duration(seconds: float) -> str:
    whole = int(seconds + 0.5)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _is_tty(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except (OSError, ValueError):  # a closed stream
        return False


class ProgressLine:
    """A [`Subscriber`][mediastore_ingest.ingest.Subscriber] that shows how the uploads
    go on ``stream`` (default stderr): files done of queued, bytes sent, and when
    every size is known the total, percent and time left (ETA), the rate and the
    failures, e.g. ``3/10 files  1.2 MiB of 4.0 MiB  30%  512.0 KiB/s  ETA 0:06``.

    On a terminal (``stream.isatty()``, or ``tty=True``) it is one line redrawn in place
    at most every ``interval`` seconds. Anywhere else (a pipe, a CI log) it writes no
    escape codes: a plain line at most every ``log_interval`` seconds, and the last
    state at [`finish`][mediastore_ingest.ingest.ProgressLine.finish]. Thread-safe.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        interval: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
        tty: bool | None = None,
        log_interval: float = 30.0,
    ) -> None:
        check("stream", stream, optional(_TEXT_STREAM))
        check("interval", interval, number(zero=True))
        check("log_interval", log_interval, number(zero=True))
        check_callable("clock", clock)
        self._stream = stream if stream is not None else sys.stderr
        self._tty = _is_tty(self._stream) if tty is None else bool(tty)
        self._interval = interval if self._tty else log_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._start = clock()
        self._last_draw = self._start if not self._tty else -1e9
        self.queued = 0
        self.done = 0
        self.failed = 0
        self.bytes = 0
        self.total = 0
        self._unknown_sizes = 0

    @property
    def tty(self) -> bool:
        """True when the line is redrawn in place (a terminal)."""
        return self._tty

    def on_queued(self, size: int | None = None, **kwargs: Any) -> None:
        """Count a queued upload (and its size, when known)."""
        with self._lock:
            self.queued += 1
            if isinstance(size, int) and size >= 0:
                self.total += size
            else:
                self._unknown_sizes += 1
            self._draw(False)

    def on_progress(self, bytes_transferred: int = 0, **kwargs: Any) -> None:
        """Count bytes (negative on rewind)."""
        with self._lock:
            self.bytes += bytes_transferred
            self._draw(False)

    def on_done(self, exception: BaseException | None = None, **kwargs: Any) -> None:
        """Count a finished upload."""
        with self._lock:
            self.done += 1
            if exception is not None:
                self.failed += 1
            self._draw(False)

    def line(self) -> str:
        """The current status text (no escape codes)."""
        elapsed = max(self._clock() - self._start, 1e-9)
        rate = self.bytes / elapsed
        text = f"{self.done}/{self.queued} files  {_human(self.bytes)}"
        if self.queued and not self._unknown_sizes:
            text += f" of {_human(self.total)}"
            if self.total:
                percent = min(100.0, max(0.0, 100.0 * self.bytes / self.total))
                text += f"  {percent:.0f}%"
        text += f"  {_human(rate)}/s"
        left = self.total - self.bytes
        if self.queued and not self._unknown_sizes and left > 0 and rate > 0:
            text += f"  ETA {_duration(left / rate)}"
        if self.failed:
            text += f"  {self.failed} failed"
        return text

    def _write(self, text: str) -> None:
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):
            pass

    def _draw(self, force: bool) -> None:
        now = self._clock()
        if not force and now - self._last_draw < self._interval:
            return
        self._last_draw = now
        if self._tty:
            self._write("\r" + self.line() + "\x1b[K")
        else:
            self._write(self.line() + "\n")

    def finish(self) -> None:
        """Show the final state and end the line."""
        with self._lock:
            self._draw(True)
            if self._tty:
                self._write("\n")
