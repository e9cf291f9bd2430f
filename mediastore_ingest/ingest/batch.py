"""Many PUTs at once: a bounded pool of upload threads fed lazily from the caller's
items, one [`PutOutcome`][mediastore_ingest.ingest.PutOutcome] per item, in order."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor

from mediastore_ingest._internal.validate import check_int
from mediastore_ingest.errors import InvalidInputError
from mediastore_ingest.ingest.models import PutOutcome, PutRequest, PutResult
from mediastore_ingest.ingest.progress import PutFuture, Subscribers

__all__ = ["known_size", "put_many"]


def known_size(body: object) -> int | None:
    """The size of ``body`` when it is known without reading it: bytes-like, a str
    (its UTF-8 length) or a file path (its size on disk now); else ``None``."""
    if isinstance(body, (bytes, bytearray)):
        return len(body)
    if isinstance(body, memoryview):
        return body.nbytes
    if isinstance(body, str):
        try:
            return len(body.encode("utf-8"))
        except UnicodeEncodeError:
            return None
    if isinstance(body, os.PathLike):
        try:
            return os.stat(body).st_size
        except (OSError, TypeError, ValueError):
            return None
    return None


def _as_put_request(item: object) -> PutRequest:
    if isinstance(item, PutRequest):
        return item
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
        return PutRequest(item[0], item[1])
    raise InvalidInputError(
        f"put_many items must be PutRequest or (path, body) tuples, not {type(item).__name__}"
    )


def put_many(
    put: Callable[[PutRequest, PutFuture | None], PutResult],
    items: Iterable[PutRequest | tuple[str, object]],
    *,
    max_concurrency: int,
    subscribers: Subscribers,
) -> list[PutOutcome]:
    """Run ``put`` on every item with up to ``max_concurrency`` in flight.

    ``items`` is consumed lazily (at most ``2 * max_concurrency`` wait at any time);
    ``subscribers`` hear ``on_queued`` here, the rest from ``put`` (given the item's
    future, or ``None`` without subscribers). An item that is not a PUT, or whose
    upload fails, gets an outcome with its error; the others go on.
    """
    check_int("max_concurrency", max_concurrency, minimum=1)
    if isinstance(items, (str, bytes, bytearray, PutRequest)) or not isinstance(
        items, Iterable
    ):
        raise InvalidInputError(
            "items must be an iterable of PutRequest or (path, body) tuples, "
            f"not {type(items).__name__}"
        )
    slots = threading.BoundedSemaphore(2 * max_concurrency)
    entries: list[tuple[str, Future[PutResult] | BaseException]] = []

    def release(_: Future[PutResult]) -> None:
        slots.release()

    executor = ThreadPoolExecutor(max_concurrency, thread_name_prefix="ingest-put")
    try:
        for item in items:
            try:
                request = _as_put_request(item)
            except InvalidInputError as exc:
                entries.append((repr(item)[:80], exc))
                continue
            tracked = (
                subscribers.queued(request, known_size(request.body)) if subscribers else None
            )
            slots.acquire()
            future = executor.submit(put, request, tracked)
            future.add_done_callback(release)
            entries.append((request.path, future))
    finally:
        executor.shutdown(wait=True, cancel_futures=False)
    outcomes: list[PutOutcome] = []
    for path, entry in entries:
        if isinstance(entry, BaseException):
            outcomes.append(PutOutcome(path=path, error=entry))
            continue
        error = entry.exception()
        if error is None:
            outcomes.append(PutOutcome(path=path, result=entry.result()))
        else:
            outcomes.append(PutOutcome(path=path, error=error))
    return outcomes
