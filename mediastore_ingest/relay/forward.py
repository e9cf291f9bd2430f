"""What a signing relay does with each object: hold it, upload it, account for it.

:class:`Segment` is one object's body, filled at the encoder's pace and read by the
upload as it arrives; :class:`Forwarder` uploads it through the
:class:`~mediastore_ingest.IngestClient` (retries are the client's), counts it, and
spools what finally failed; it also forwards deletions and keeps the in-flight count
that bounds the relay's memory.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import attrs

from mediastore_ingest.errors import (
    BodyNotRetryableError,
    IngestError,
    InvalidInputError,
    MediaStoreIngestError,
    ObjectNotFoundError,
    RetriesExhaustedError,
)
from mediastore_ingest.ingest import IngestClient, PutResult
from mediastore_ingest.origins import get_origin
from mediastore_ingest.relay.config import RelayConfig
from mediastore_ingest.relay.metrics import Metrics

__all__ = ["EncoderGone", "Forwarder", "Outcome", "Segment", "logger", "make_spool_dir"]

#: The relay's one logger: every relay module logs here, and ``mediastore-ingest
#: relay`` shows it.
logger = logging.getLogger("mediastore_ingest.relay.relay")


class EncoderGone(Exception):
    """The encoder's body ended badly; nothing is stored."""


class Segment:
    """The body of one object: filled by the handler thread at the encoder's pace,
    read by the upload thread as it arrives (and kept whole, for spooling)."""

    def __init__(self) -> None:
        self._pieces: list[bytes] = []
        self._cond = threading.Condition()
        self._done = False
        self._error: BaseException | None = None
        self.size = 0

    def append(self, piece: bytes) -> None:
        data = bytes(piece)
        with self._cond:
            self._pieces.append(data)
            self.size += len(data)
            self._cond.notify_all()

    def finish(self) -> None:
        with self._cond:
            self._done = True
            self._cond.notify_all()

    def fail(self, error: BaseException) -> None:
        with self._cond:
            self._error = error
            self._done = True
            self._cond.notify_all()

    def stream(self) -> Iterator[bytes]:
        """The pieces as they arrive; raises EncoderGone if the body broke."""
        index = 0

        def ready() -> bool:
            return index < len(self._pieces) or self._done

        while True:
            with self._cond:
                self._cond.wait_for(ready)
                if self._error is not None:
                    raise EncoderGone(str(self._error))
                pieces = self._pieces[index:]
                if not pieces:
                    return  # done, and everything was handed out
            index += len(pieces)
            yield from pieces

    def complete(self) -> bytes | None:
        """Wait for the end of the body: all of it, or None if the encoder broke it."""
        with self._cond:
            self._cond.wait_for(lambda: self._done)
            if self._error is not None:
                return None
            return b"".join(self._pieces)


@attrs.frozen
class Outcome:
    """The answer the encoder gets for one object: a status and a JSON document."""

    status: int
    document: dict[str, object]


def make_spool_dir(root: str) -> None:
    """Create the spool directory now, so a bad one is refused before any segment
    depends on it."""
    try:
        Path(root).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInputError(f"cannot use spool directory {root!r}: {exc}") from exc


class Forwarder:
    """Uploads, deletes and counts the objects of one relay.

    ``client`` is the :class:`~mediastore_ingest.IngestClient` objects go through,
    ``clock`` (monotonic seconds) times the uploads; uploads run on a pool of
    ``config.max_in_flight`` threads.
    """

    def __init__(
        self,
        config: RelayConfig,
        client: IngestClient,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.client = client
        self.metrics = Metrics()
        self._clock = clock
        self._state = threading.Condition()
        self._streams = get_origin(client.config.origin).streams
        self._executor = ThreadPoolExecutor(
            config.max_in_flight, thread_name_prefix="relay-upload"
        )

    def close(self) -> None:
        """Wait for the uploads still running, then stop the pool."""
        self._executor.shutdown(wait=True)

    def submit(self, path: str, segment: Segment, sent_type: str | None) -> Future[Outcome]:
        """Start uploading ``segment`` to ``path`` (the upload reads it as it fills)."""
        return self._executor.submit(self.upload, path, segment, sent_type)

    # --- in-flight accounting ------------------------------------------------------------

    def enter(self) -> bool:
        """Count one more object in flight; False (nothing counted) at the limit."""
        with self._state:
            if self.metrics.in_flight >= self.config.max_in_flight:
                return False
            self.metrics.add(in_flight=1)
            return True

    def leave(self) -> None:
        """One object fewer in flight."""
        with self._state:
            self.metrics.add(in_flight=-1)
            self._state.notify_all()

    def drain(self, pending_input: Callable[[], bool]) -> None:
        """Called once the listener has stopped accepting: wait until no object is in
        flight and ``pending_input()`` says no connection has unread bytes (ffmpeg
        sends its last requests without waiting for answers, so they can still be
        queued), for two checks in a row, or until ``shutdown_timeout``."""
        deadline = self._clock() + self.config.shutdown_timeout
        quiet = 0
        with self._state:
            if self.metrics.in_flight:
                logger.info("relay: finishing %d in-flight upload(s)", self.metrics.in_flight)
            while quiet < 2:
                if self._clock() >= deadline:
                    logger.error(
                        "relay: %d upload(s) still in flight after %.0f s; closing anyway",
                        self.metrics.in_flight, self.config.shutdown_timeout,
                    )
                    return
                busy = self.metrics.in_flight > 0 or pending_input()
                quiet = 0 if busy else quiet + 1
                self._state.wait(0.05)

    # --- the work -----------------------------------------------------------------------

    def upload(self, path: str, segment: Segment, sent_type: str | None) -> Outcome:
        """Upload one object as its body arrives; the answer for the encoder."""
        config = self.config
        client = self.client
        body: object = segment.stream()
        if client.config.sends_content_sha256:  # the hash must be known before sending
            data = segment.complete()
            if data is None:
                self.metrics.add(aborted=1)
                return Outcome(499, {"error": "the encoder broke off the body"})
            body = data
        started = self._clock()
        try:
            result: PutResult = client.put(
                path,
                body,
                content_type=config.content_type_for(path, sent_type),
                cache_control=config.cache_control_for(path),
                # Only an origin that takes streaming (chunked) uploads gets the header.
                upload_availability=(
                    config.availability_for(path) if self._streams else None
                ),
            )
        except EncoderGone as exc:
            self.metrics.add(aborted=1)
            logger.warning("relay: %s: the encoder broke off the body (%s); nothing stored",
                           path, exc)
            return Outcome(499, {"error": "the encoder broke off the body"})
        except MediaStoreIngestError as exc:
            return self.failed(path, segment, exc)
        # Anything else (a bug, an untranslated error) is caught where the handler
        # waits for this task, which covers the whole of it.
        try:  # the segment is stored: bookkeeping must not turn that into a failure
            elapsed = self._clock() - started
            self.metrics.add(
                uploaded=1, retries=result.attempts - 1, bytes_uploaded=result.bytes_sent
            )
            self.metrics.observe(elapsed)
            logger.info("relay: PUT %s %d bytes -> %d, %d attempt(s), %.3f s",
                        path, result.bytes_sent, result.status, result.attempts, elapsed)
        except Exception:
            logger.exception("relay: PUT %s stored, but recording it failed", path)
        return Outcome(200, {
            "Path": path,
            "ETag": result.etag,
            "ContentSHA256": result.content_sha256,
            "Attempts": result.attempts,
        })

    def failed(
        self, path: str, segment: Segment, exc: BaseException, *, unexpected: bool = False
    ) -> Outcome:
        """Count, log and spool a segment whose upload finally failed. ``unexpected``
        (not a package error: a bug) is logged with its traceback and answered 502."""
        attempts = 1
        if isinstance(exc, (RetriesExhaustedError, BodyNotRetryableError)):
            attempts = exc.attempts
        # an unexpected error is a bug: logged at ERROR with its traceback
        what = f"unexpected {type(exc).__name__}: {exc}" if unexpected else str(exc)
        trace = exc if unexpected else None
        data = segment.complete()  # keep reading the encoder: the whole object is wanted
        if data is None:
            self.metrics.add(aborted=1, retries=attempts - 1)
            logger.log(logging.ERROR if unexpected else logging.WARNING,
                       "relay: %s: upload failed (%s) and the encoder broke off the body",
                       path, what, exc_info=trace)
            return Outcome(499, {"error": "the encoder broke off the body"})
        self.metrics.add(failed=1, retries=attempts - 1)
        spooled = self._spool(path, data)
        logger.error(
            "relay: FAILED PUT %s (%d bytes, %d attempt(s)): %s%s", path, len(data), attempts,
            what, f"; spooled to {spooled}" if spooled else "; NOT spooled", exc_info=trace,
        )
        status = getattr(exc, "status", None)
        if unexpected:
            code = 502
        elif isinstance(exc, ValueError):
            code = 400
        elif isinstance(status, int) and 400 <= status < 500 and status != 429:
            code = status
        else:
            code = 502
        # An unexpected error's text is for the relay's log, not for the encoder.
        shown = "internal error in the relay (see its log)" if unexpected else what
        return Outcome(code, {"error": shown, "Path": path, "Spooled": spooled})

    def _spool(self, path: str, data: bytes) -> str | None:
        root = self.config.spool_dir
        if root is None:
            return None
        target = Path(root, *path.split("/"))
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except Exception as exc:  # OSError, or anything else: never lose the answer
            self.metrics.add(spool_errors=1)
            logger.error("relay: cannot spool %s to %s: %s", path, target, exc,
                         exc_info=None if isinstance(exc, OSError) else exc)
            with contextlib.suppress(OSError):
                tmp.unlink()
            return None
        self.metrics.add(spooled=1)
        return str(target)

    def delete(self, path: str) -> Outcome:
        """Forward one deletion; the answer for the encoder."""
        started = self._clock()
        try:
            self.client.delete(path)
        except ObjectNotFoundError as exc:
            logger.info("relay: DELETE %s -> 404", path)
            return Outcome(404, {"error": str(exc), "Path": path})
        except IngestError as exc:
            self.metrics.add(failed=1)
            logger.error("relay: FAILED DELETE %s: %s", path, exc)
            return Outcome(502, {"error": str(exc), "Path": path})
        self.metrics.add(deleted=1)
        logger.info("relay: DELETE %s -> 204, %.3f s", path, self._clock() - started)
        return Outcome(200, {"Path": path})
