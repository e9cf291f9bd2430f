"""Many PUTs at once: a bounded pool of upload threads fed lazily from the caller's
items, one :class:`~mediastore_ingest.ingest.models.PutOutcome` per item, in order."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor

from mediastore_ingest._internal.validate import check_int
from mediastore_ingest.errors import InvalidInputError
from mediastore_ingest.ingest._progress import Subscribers
from mediastore_ingest.ingest.models import PutOutcome, PutRequest, PutResult

__all__ = ["known_size", "put_many"]


def known_size(body: object) -> int | None:
    """The size of ``body`` when it is known without reading it (bytes-like)."""
    if isinstance(body, (bytes, bytearray)):
        return len(body)
    if isinstance(body, memoryview):
        return body.nbytes
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
    put: Callable[[PutRequest], PutResult],
    items: Iterable[PutRequest | tuple[str, object]],
    *,
    max_concurrency: int,
    subscribers: Subscribers,
) -> list[PutOutcome]:
    """Run ``put`` on every item with up to ``max_concurrency`` in flight.

    ``items`` is consumed lazily (at most ``2 * max_concurrency`` wait at any time);
    ``subscribers`` hear ``on_queued`` here, the rest from ``put``. An item that is
    not a PUT, or whose upload fails, gets an outcome with its error; the others go on.
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
            if subscribers:
                subscribers.queued(path=request.path, size=known_size(request.body))
            slots.acquire()
            future = executor.submit(put, request)
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
