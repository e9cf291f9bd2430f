"""Progress reporting: s3transfer-style subscribers and a one-line console display.

A subscriber is any object with some of these methods, each taking ``**kwargs``
(so new keywords can be added later without breaking it):

* ``on_queued(path=, size=)`` — the upload was accepted (``size`` ``None`` if unknown);
* ``on_progress(path=, bytes_transferred=)`` — bytes went out; negative when a
  failed attempt is rewound before a retry;
* ``on_done(path=, result=, exception=)`` — finished, with a ``PutResult`` or the
  exception.

A subscriber that raises is logged and ignored: progress display never breaks an
upload.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO

from mediastore_ingest._internal.validate import (
    Validator,
    check,
    check_callable,
    number,
    optional,
)
from mediastore_ingest.errors import InvalidInputError

__all__ = ["ProgressLine", "Subscribers"]

logger = logging.getLogger(__name__)

_TEXT_STREAM = Validator("a text stream", lambda v: callable(getattr(v, "write", None)))


def _subscriber_tuple(subscribers: object) -> tuple[object, ...]:
    if isinstance(subscribers, (str, bytes, bytearray)) or not isinstance(
        subscribers, Iterable
    ):
        raise InvalidInputError(
            "subscribers must be a sequence of subscriber objects, not "
            f"{type(subscribers).__name__}"
        )
    return tuple(subscribers)


class Subscribers:
    """Calls the matching method on every subscriber, swallowing their errors."""

    def __init__(self, subscribers: Sequence[object] = ()) -> None:
        self._subscribers = _subscriber_tuple(subscribers)

    def __bool__(self) -> bool:
        return bool(self._subscribers)

    def extended(self, more: Sequence[object]) -> Subscribers:
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

    def queued(self, **kwargs: Any) -> None:
        """Call ``on_queued``."""
        self._call("on_queued", kwargs)

    def progress(self, **kwargs: Any) -> None:
        """Call ``on_progress``."""
        self._call("on_progress", kwargs)

    def done(self, **kwargs: Any) -> None:
        """Call ``on_done``."""
        self._call("on_done", kwargs)


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


class ProgressLine:
    """A subscriber that keeps one status line up to date on a terminal (stderr):
    files done/queued, bytes, rate and failures. Thread-safe; redraws at most
    ``interval`` times a second."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        interval: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        check("stream", stream, optional(_TEXT_STREAM))
        check("interval", interval, number(zero=True))
        check_callable("clock", clock)
        self._stream = stream if stream is not None else sys.stderr
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._start = clock()
        self._last_draw = -1e9
        self.queued = 0
        self.done = 0
        self.failed = 0
        self.bytes = 0

    def on_queued(self, **kwargs: Any) -> None:
        """Count a queued upload."""
        with self._lock:
            self.queued += 1
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
        """The current status text."""
        elapsed = max(self._clock() - self._start, 1e-9)
        text = (
            f"{self.done}/{self.queued} files  {_human(self.bytes)}  "
            f"{_human(self.bytes / elapsed)}/s"
        )
        if self.failed:
            text += f"  {self.failed} failed"
        return text

    def _draw(self, force: bool) -> None:
        now = self._clock()
        if not force and now - self._last_draw < self._interval:
            return
        self._last_draw = now
        try:
            self._stream.write("\r" + self.line() + "\x1b[K")
            self._stream.flush()
        except (OSError, ValueError):
            pass

    def finish(self) -> None:
        """Draw the final state and end the line."""
        with self._lock:
            self._draw(True)
            try:
                self._stream.write("\n")
                self._stream.flush()
            except (OSError, ValueError):
                pass
