"""An origin's size limits, applied to an upload before and while its body is sent.

A body of known size over the limit is refused before any request; a streamed body
(a generator, a pipe) is stopped as soon as it passes the limit, so nothing past it
is sent and the origin, seeing a cut-off body, stores nothing. Either way the error
is an [`ObjectTooLargeError`][mediastore_ingest.errors.ObjectTooLargeError] naming the
limit that was hit, and it is never retried.
"""

from __future__ import annotations

import attrs

from mediastore_ingest.errors import ObjectTooLargeError
from mediastore_ingest.origins import Origin

__all__ = ["SizeLimit", "limits_hint"]


def limits_hint(origin: Origin) -> str:
    """What ``origin`` takes, in one sentence (the hint of a too-large error or a 413)."""
    text = f"{origin.label} takes at most {origin.max_object_bytes:,} bytes per object"
    if origin.max_streaming_bytes is not None and (
        origin.max_streaming_bytes != origin.max_object_bytes
    ):
        text += f" ({origin.max_streaming_bytes:,} in a streaming upload)"
    return text + ": cut shorter segments, or split the object"


@attrs.frozen
class SizeLimit:
    """The largest object ``origin`` stores at ``path`` for one kind of upload
    (``streaming``: chunked, readable while it is written)."""

    origin: Origin
    path: str
    streaming: bool = False

    @property
    def limit(self) -> int:
        """The limit in bytes."""
        return self.origin.size_limit(streaming=self.streaming)

    def _what(self) -> str:
        kind = "a streaming upload to " if self.streaming else "one object in "
        return f"the {self.limit:,}-byte limit of {kind}{self.origin.label}"

    def check(self, size: int | None) -> None:
        """Raise the error when a known ``size`` is over the limit (``None``: unknown)."""
        if size is not None and size > self.limit:
            raise self.error(size, stopped=False)

    def error(self, size: int, *, stopped: bool) -> ObjectTooLargeError:
        """The error for a body of ``size`` bytes; ``stopped``: a stream cut off there."""
        if stopped:
            message = (
                f"{self.path}: the streamed body passed {self._what()} (stopped after "
                f"{size:,} bytes; nothing is stored)"
            )
        else:
            message = f"{self.path}: {size:,} bytes is over {self._what()}; nothing was sent"
        return ObjectTooLargeError(
            message,
            path=self.path,
            size=size,
            limit=self.limit,
            origin=self.origin.label,
            streaming=self.streaming,
            hint=limits_hint(self.origin),
        )
