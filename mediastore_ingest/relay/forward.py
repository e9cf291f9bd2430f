"""What a signing relay does with each object: journal it, then upload it in order.

The handler thread of a connection calls ``Forwarder.begin``, ``write``
and ``commit`` as the body arrives: the body goes into the
``Journal`` and the encoder is answered once it is
committed there. ``upload_workers`` threads take what the
``Scheduler`` says may go now and upload it through
the ``IngestClient`` (whose own retries come first); a failed
round waits and goes again, an object the origin refuses for good (400, 411, 413, 414,
415, 422, 431, or a request the client itself refuses) is set aside in the journal's
``failed/``.

Streaming: where the origin takes streaming uploads (MediaStore), a segment whose path
has nothing else in hand is uploaded *while* it arrives (read back from the journal
file as it grows), if a worker is free; the encoder is still answered when the body
is journaled, not when the upload ends. If that upload fails, the object is uploaded
again from the journal once complete.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from mediastore_ingest._internal.redact import RedactingFilter
from mediastore_ingest.errors import (
    HTTPStatusError,
    InvalidInputError,
    MediaStoreIngestError,
    ObjectNotFoundError,
)
from mediastore_ingest.ingest import IngestClient
from mediastore_ingest.ingest.manifests import (
    MAX_MANIFEST_BYTES,
    ManifestRefs,
    manifest_references,
)
from mediastore_ingest.ingest.media import is_manifest
from mediastore_ingest.origins import get_origin
from mediastore_ingest.relay.config import RelayConfig
from mediastore_ingest.relay.journal import (
    Entry,
    EntryWriter,
    Journal,
    JournalFull,
    Replay,
    WriterGone,
    entry_headers,
)
from mediastore_ingest.relay.metrics import Gauges, Metrics
from mediastore_ingest.relay.order import Job, Scheduler

__all__ = ["Busy", "Forwarder", "Receipt", "logger"]

#: The relay's one logger: every relay module logs here, and ``mediastore-ingest
#: relay`` shows it. Its records are redacted (signed URLs' Signature and Policy, URL
#: passwords) whatever handler shows them; urllib3's are by the ingest transport.
logger = logging.getLogger("mediastore_ingest.relay.relay")
if not any(isinstance(f, RedactingFilter) for f in logger.filters):
    logger.addFilter(RedactingFilter())

#: Statuses after which trying again cannot help: the object is set aside.
REJECTING_STATUSES = frozenset({400, 411, 413, 414, 415, 422, 431})

_WARNED_PATHS = 1000


class Busy(Exception):
    """The relay cannot take a request now: ``reason`` is ``"journal_full"`` or
    ``"busy"`` (at ``max_in_flight``)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class Receipt:
    """One request being received: its journal entry and its job."""

    def __init__(self, writer: EntryWriter, job: Job, manifest: bool) -> None:
        self.writer = writer
        self.job = job
        self.manifest = manifest
        self.buffer: bytearray | None = bytearray() if manifest else None
        self.follower: object = None
        self.settled = False


class Forwarder:
    """Journals, orders, uploads and counts the objects of one relay.

    ``client`` uploads; ``journal`` (opened) holds the bodies; ``clock`` (monotonic
    seconds) times each upload for the log. ``start`` starts the workers with what the journal
    had; ``stop`` stops them.
    """

    def __init__(
        self,
        config: RelayConfig,
        client: IngestClient,
        journal: Journal,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.client = client
        self.journal = journal
        self._clock = clock
        self.metrics = Metrics(self.gauges)
        self._lock = threading.Lock()
        # Workers wait on _cond, notified one at a time (a worker that takes a job
        # wakes the next if more are waiting); wait_uploaded() waits on _settled.
        self._cond = threading.Condition(self._lock)
        self._settled = threading.Condition(self._lock)
        self._scheduler = Scheduler(backoff_cap=config.requeue_cap)
        self._streams = (get_origin(client.config.origin).streams
                         and not client.config.sends_content_sha256)
        self._root = config.prefix.strip("/")
        self._workers: list[threading.Thread] = []
        self._idle = 0
        self._streaming = 0
        self._stopping = False
        self._detached = False
        self._failed = 0
        self._warned: set[str] = set()

    # --- lifecycle --------------------------------------------------------------------

    def start(self, replay: Replay) -> None:
        """Queue what an earlier run left, then start the upload workers."""
        now = time.monotonic()
        wall = time.time()
        with self._cond:
            self._failed = replay.failed
            for entry in replay.entries:
                refs = None
                manifest = entry.method == "PUT" and is_manifest(entry.path)
                if manifest:
                    refs = self._refs(entry.path, _read(entry.data))
                job = self._scheduler.receive(
                    entry.arrival, entry.path, now - max(0.0, wall - entry.received),
                    manifest=manifest, delete=entry.method == "DELETE",
                )
                job.payload = entry
                self._drop(self._scheduler.commit(job, refs, now))
            self.metrics.add(replayed=len(replay.entries))
        for n in range(self.config.upload_workers):
            thread = threading.Thread(target=self._work, name=f"relay-upload-{n}", daemon=True)
            self._workers.append(thread)
            thread.start()

    def stop(self, timeout: float) -> None:
        """Stop the workers: each finishes the upload it is in (up to ``timeout``
        seconds in all); whatever is left stays in the journal."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        deadline = time.monotonic() + max(0.0, timeout)
        for thread in self._workers:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._cond:
            # A worker still uploading past the deadline no longer touches the journal:
            # its object is uploaded again on the next start.
            self._detached = True

    def backlog(self) -> int:
        """Objects received and not yet uploaded."""
        with self._cond:
            return self._scheduler.backlog()

    def wait_uploaded(self, deadline: float) -> bool:
        """Wait until nothing received is left to upload, or ``deadline`` (monotonic);
        True when nothing is left."""
        with self._settled:
            while self._scheduler.backlog() and time.monotonic() < deadline:
                self._settled.wait(min(0.05, max(0.0, deadline - time.monotonic())))
            return not self._scheduler.backlog()

    @property
    def receiving(self) -> int:
        """Requests whose body is being received now."""
        with self._cond:
            return self.metrics.in_flight

    def gauges(self) -> Gauges:
        """The journal's depth and the scheduler's lags, now."""
        objects, size = self.journal.depth()
        now = time.monotonic()
        with self._cond:
            lag = sorted(self._scheduler.manifest_lag(now).items(), key=lambda kv: -kv[1])
            return Gauges(
                journal_objects=objects,
                journal_bytes=size,
                failed_objects=self._failed,
                receiving=self._scheduler.receiving,
                oldest_age=self._scheduler.oldest_age(now),
                manifest_lag=tuple(lag),
            )

    # --- the encoder's side -----------------------------------------------------------

    def begin(
        self, path: str, *, method: str, target: str, headers: Mapping[str, str] | object,
        declared: int | None,
    ) -> Receipt:
        """Start receiving a PUT (or a DELETE) of ``path``: ``Busy`` when the
        journal is full or ``max_in_flight`` bodies are arriving."""
        config = self.config
        delete = method == "DELETE"
        manifest = not delete and is_manifest(path)
        sent_type = getattr(headers, "get", lambda _: None)("Content-Type")
        with self._cond:
            if self.metrics.in_flight >= config.max_in_flight:
                raise Busy("busy", f"the relay is receiving {config.max_in_flight} "
                           "requests, its limit (max_in_flight)")
            try:
                writer = self.journal.begin(
                    path,
                    method="DELETE" if delete else "PUT",
                    target=target.partition("?")[0][:2048],
                    headers=entry_headers(headers),
                    content_type=None if delete else config.content_type_for(
                        path, sent_type if isinstance(sent_type, str) else None),
                    cache_control=None if delete else config.cache_control_for(path),
                    availability=None if delete or not self._streams
                    else config.availability_for(path),
                    declared=declared,
                )
            except JournalFull as exc:
                raise Busy("journal_full", str(exc)) from exc
            self.metrics.add(in_flight=1)
            job = self._scheduler.receive(writer.arrival, path, time.monotonic(),
                                          manifest=manifest, delete=delete)
            receipt = Receipt(writer, job, manifest)
            job.payload = receipt
            if self._may_stream(receipt) and self._scheduler.stream(job):
                receipt.follower = writer.follow()
                self._streaming += 1
                self._cond.notify()
        return receipt

    def _may_stream(self, receipt: Receipt) -> bool:
        writer = receipt.writer
        return (
            self._streams and not receipt.manifest and writer.method == "PUT"
            and writer.availability == "streaming" and self._idle > 0
            and self._streaming < max(1, self.config.upload_workers // 2)
        )

    def write(self, receipt: Receipt, piece: bytes) -> None:
        """Journal one piece of the body; ``Busy`` past the journal's bound."""
        try:
            receipt.writer.write(piece)
        except JournalFull as exc:
            raise Busy("journal_full", str(exc)) from exc
        if receipt.buffer is not None:
            if len(receipt.buffer) + len(piece) <= MAX_MANIFEST_BYTES:
                receipt.buffer += piece
            else:
                receipt.buffer = None  # too big to be a manifest worth reading
        self.metrics.add(bytes_received=len(piece))

    def commit(self, receipt: Receipt) -> Entry:
        """The body is complete: make it durable, hand it to the uploads."""
        entry = receipt.writer.commit()  # OSError: the caller aborts and answers 503
        refs = None
        if receipt.manifest:
            data = bytes(receipt.buffer) if receipt.buffer is not None else None
            refs = self._refs(entry.path, data)
        with self._cond:
            receipt.settled = True
            self.metrics.add(in_flight=-1, journaled=1)
            job = receipt.job
            if not job.streaming:
                job.payload = entry
            self._drop(self._scheduler.commit(job, refs, time.monotonic()))
            self._cond.notify()
        return entry

    def abort(self, receipt: Receipt) -> None:
        """The body broke off or was refused: throw it away. Idempotent."""
        receipt.writer.abort()
        with self._cond:
            if receipt.settled:
                return
            receipt.settled = True
            self.metrics.add(in_flight=-1)
            self._scheduler.abort(receipt.job)
            self._cond.notify()

    def _refs(self, path: str, data: bytes | None) -> ManifestRefs | None:
        refs = manifest_references(path, data, root=self._root) if data is not None else None
        if refs is None:
            self.metrics.parse_error("manifest")
            if path not in self._warned and len(self._warned) < _WARNED_PATHS:
                self._warned.add(path)
                logger.warning("relay: cannot read manifest %s; it goes in arrival order "
                               "(without waiting for what it names)", path)
        return refs

    def _drop(self, jobs: list[Job]) -> None:
        """Remove superseded versions from the journal (called holding the lock, so no
        newer version starts before the older one is gone)."""
        for job in jobs:
            entry = job.payload
            if isinstance(entry, Receipt):
                entry = entry.writer.entry
            if isinstance(entry, Entry):
                try:
                    self.journal.remove(entry)
                except OSError as exc:
                    logger.error("relay: cannot remove superseded %s from the journal: %s",
                                 job.path, exc)
            self.metrics.outcome("superseded", manifest=job.manifest)
            logger.info("relay: %s %s superseded by a newer version; dropped",
                        "manifest" if job.manifest else "object", job.path)

    # --- the uploads ------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopping:
                        return
                    now = time.monotonic()
                    job = self._scheduler.take(now)
                    if job is not None:
                        if self._scheduler.waiting():
                            self._cond.notify()  # more may be ready: wake the next worker
                        break
                    wake = self._scheduler.next_wake()
                    timeout = 1.0 if wake is None else min(1.0, max(0.005, wake - now))
                    self._idle += 1
                    try:
                        self._cond.wait(timeout)
                    finally:
                        self._idle -= 1
            try:
                self._run(job)
            except Exception:  # a bug: never lose a worker, never lose the object
                logger.exception("relay: unexpected error uploading %s", job.path)
                with self._cond, contextlib.suppress(Exception):
                    self._finish(job, "retry", None)

    def _run(self, job: Job) -> None:
        streaming = job.streaming
        receipt = job.payload if isinstance(job.payload, Receipt) else None
        entry = job.payload if isinstance(job.payload, Entry) else None
        if entry is None and receipt is not None:
            entry = receipt.writer.entry
        if streaming and receipt is not None:
            body: object = receipt.follower
            writer = receipt.writer
            content_type, cache_control, availability = (
                writer.content_type, writer.cache_control, writer.availability)
        elif entry is not None:
            body = Path(entry.data)  # a path (a str body would be sent as text)
            content_type, cache_control, availability = (
                entry.content_type, entry.cache_control, entry.availability)
        else:  # pragma: no cover - a job always carries its entry or its receipt
            raise AssertionError(f"job {job.arrival} has nothing to upload")
        started = self._time(job)
        outcome = "stored"
        reason = ""
        attempts = 1
        sent = 0
        status = 200
        try:
            if job.delete:
                try:
                    self.client.delete(job.path)
                except ObjectNotFoundError:
                    status = 404
            else:
                result = self.client.put(
                    job.path, body, content_type=content_type, cache_control=cache_control,
                    upload_availability=availability,
                )
                attempts, sent, status = result.attempts, result.bytes_sent, result.status
        except WriterGone:
            outcome = "aborted"
        except (HTTPStatusError, InvalidInputError) as exc:
            code = getattr(exc, "status", None)
            rejected = isinstance(exc, InvalidInputError) or code in REJECTING_STATUSES
            outcome, reason = ("rejected" if rejected else "retry"), str(exc)
            attempts = getattr(exc, "attempts", attempts)
        except MediaStoreIngestError as exc:
            outcome, reason = "retry", str(exc)
            attempts = getattr(exc, "attempts", attempts)
        except Exception as exc:  # a bug (a transport's, ours): logged, the object kept
            outcome, reason = "retry", f"unexpected {type(exc).__name__}: {exc}"
            logger.error("relay: unexpected error uploading %s; it stays in the journal and "
                         "goes again", job.path, exc_info=exc)
        finally:
            if streaming and receipt is not None:
                close = getattr(receipt.follower, "close", None)
                if callable(close):
                    close()
        ended = self._time(job)
        elapsed = ended - started if started is not None and ended is not None else 0.0
        if streaming and receipt is not None:
            with self._cond:
                self._streaming -= 1
            if outcome == "stored":
                entry = receipt.writer.wait_settled(timeout=60.0)
            elif outcome == "rejected":
                outcome = "retry"  # judged again from the journal, once received
        self.metrics.add(retries=max(0, attempts - 1))
        with self._cond:
            if self._detached:
                logger.warning("relay: %s %s ended after shutdown (%s); it stays in the "
                               "journal", "DELETE" if job.delete else "PUT", job.path,
                               outcome)
                return
        if outcome == "stored":
            if entry is not None:
                try:
                    self.journal.remove(entry)
                except OSError as exc:
                    logger.error("relay: %s stored, but removing it from the journal failed "
                                 "(it will be uploaded again on the next start): %s",
                                 job.path, exc)
            if job.delete:
                self.metrics.add(deleted=1)
            else:
                self.metrics.add(bytes_uploaded=sent)
            self.metrics.observe(time.monotonic() - job.began)
            logger.info("relay: %s %s %d bytes -> %d, %d attempt(s), %.3f s%s",
                        "DELETE" if job.delete else "PUT", job.path, sent, status, attempts,
                        elapsed, " (streamed)" if streaming else "")
        elif outcome == "rejected" and entry is not None:
            try:
                kept = self.journal.quarantine(entry, reason)
            except OSError as exc:  # it stays in the journal, and goes again later
                logger.error("relay: the origin refused %s for good (%s), but setting it "
                             "aside failed: %s", job.path, reason, exc)
                outcome = "retry"
            else:
                with self._cond:
                    self._failed += 1
                logger.error("relay: FAILED %s %s: the origin refused it for good (%s); "
                             "set aside in %s", "DELETE" if job.delete else "PUT", job.path,
                             reason, kept)
        elif outcome == "aborted":
            logger.warning("relay: %s: the encoder broke off the body; nothing stored",
                           job.path)
        with self._cond:
            self._finish(job, outcome, reason)

    def _time(self, job: Job) -> float | None:
        """The clock's time, or None if it fails (an upload is never lost to it)."""
        try:
            return self._clock()
        except Exception:
            logger.exception("relay: the clock failed while timing %s; the upload goes on",
                             job.path)
            return None

    def _finish(self, job: Job, outcome: str, reason: str | None) -> None:
        """Called holding the lock."""
        now = time.monotonic()
        if outcome in ("stored", "rejected", "aborted"):
            self.metrics.outcome(outcome)
            self._scheduler.finish(job, "done", now)
        else:
            dropped = self._scheduler.finish(job, "retry", now)
            if job.state == "done":
                self._drop(dropped)
            else:
                self.metrics.outcome("retried")
                if job.state == "pending":
                    logger.warning("relay: upload of %s failed (%s); trying again in %.2f s "
                                   "(round %d)", job.path, reason, job.not_before - now,
                                   job.failures + 1)
                else:
                    logger.warning("relay: streaming upload of %s failed (%s); it goes "
                                   "again from the journal once received", job.path, reason)
        self._cond.notify()  # the path is free, a manifest may be unblocked
        if not self._scheduler.backlog():
            self._settled.notify_all()


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_MANIFEST_BYTES + 1)
    except OSError:
        return None
    return data if len(data) <= MAX_MANIFEST_BYTES else None
