"""Objects over the origin's size limit: refused before sending, stopped while
streaming, never retried, and the error names the limit that was hit.

Before: a 30 MB ``put`` through the local stack was sent, retried four times and
reported as ``RetriesExhaustedError … 502``; a generator as ``BodyNotRetryableError``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from mediastore_ingest.errors import (
    HTTPStatusError,
    IngestError,
    InvalidInputError,
    ObjectTooLargeError,
)
from mediastore_ingest.ingest import (
    IngestClient,
    IngestConfig,
    MockTransport,
    Request,
    Response,
    RetryPolicy,
)
from mediastore_ingest.origins import MEDIASTORE, S3
from mediastore_ingest.testing import LocalCA, LocalContainer, LocalStack
from tests._support.mock_transport import never_called
from tests._support.policies import OPEN_WRITE

MB = 1_000_000
MiB = 1024 * 1024


def endless(pulled: list[int], closed: list[bool], piece: int = MiB) -> Iterator[bytes]:
    try:
        while True:
            pulled.append(piece)
            yield b"\x47" * piece
    finally:
        closed.append(True)


def test_a_30_mb_put_through_the_local_stack_is_refused_before_sending(
    mediastore_stack: LocalStack,
) -> None:
    client = mediastore_stack.ingest_client()
    with pytest.raises(ObjectTooLargeError) as err:
        client.put("live/ch1/big.ts", bytes(30 * MB))
    exc = err.value
    assert isinstance(exc, IngestError)
    assert isinstance(exc, ValueError)
    assert (exc.path, exc.size, exc.limit, exc.streaming) == (
        "live/ch1/big.ts", 30 * MB, MEDIASTORE.max_object_bytes, False,
    )
    assert exc.origin == MEDIASTORE.label
    assert f"{MEDIASTORE.max_object_bytes:,}-byte limit" in str(exc)
    assert "nothing was sent" in str(exc)
    assert exc.hint is not None
    assert f"{MEDIASTORE.max_object_bytes:,} bytes per object" in exc.hint
    assert exc.attempts is None
    assert mediastore_stack.ingest_edge.requests == []  # not one byte went out


def test_a_large_file_is_refused_from_its_size_without_reading_it(
    mediastore_stack: LocalStack, tmp_path: Path
) -> None:
    big = tmp_path / "big.ts"
    size = MEDIASTORE.max_object_bytes + 1
    with open(big, "wb") as f:
        f.truncate(size)  # sparse: nothing to read
    with pytest.raises(ObjectTooLargeError, match=f"{size:,} bytes"):
        mediastore_stack.ingest_client().put("live/big.ts", big)
    assert mediastore_stack.ingest_edge.requests == []


def test_a_streaming_upload_has_the_smaller_limit(mediastore_stack: LocalStack) -> None:
    client = mediastore_stack.ingest_client()
    with pytest.raises(ObjectTooLargeError) as err:
        client.put("live/seg.m4s", bytes(11 * MB), upload_availability="streaming")
    assert err.value.streaming
    assert err.value.limit == MEDIASTORE.max_streaming_bytes
    assert "streaming upload" in str(err.value)
    client.put("live/seg.m4s", bytes(11 * MB))  # a standard upload of it is fine
    assert len(mediastore_stack.container.read("live/seg.m4s")) == 11 * MB


def test_a_generator_past_the_limit_is_stopped(mediastore_stack: LocalStack) -> None:
    pulled: list[int] = []
    closed: list[bool] = []
    client = mediastore_stack.ingest_client()
    with pytest.raises(ObjectTooLargeError) as err:
        client.put("live/live.m4s", endless(pulled, closed), upload_availability="streaming")
    limit = MEDIASTORE.max_streaming_bytes
    assert limit is not None
    exc = err.value
    assert exc.streaming
    assert exc.limit == limit
    assert exc.size > limit
    assert "stopped after" in str(exc)
    # The generator was closed at once: the piece that crossed the limit was its last.
    assert closed == [True]
    assert sum(pulled) == exc.size <= limit + MiB
    assert exc.attempts == 1  # sent once, never retried
    assert "live/live.m4s" not in mediastore_stack.container.paths()


def test_a_chunked_generator_is_stopped_at_the_object_limit() -> None:
    tiny = attrs.evolve(MEDIASTORE, name="tiny-store", max_object_bytes=10_000)
    client = IngestClient(
        "https://d1.example.net",
        config=IngestConfig(origin=tiny),
        transport=MockTransport(lambda r: Response(200, {}, b"".join(r.body or []))),
    )
    pulled: list[int] = []
    closed: list[bool] = []
    with pytest.raises(ObjectTooLargeError, match="10,000-byte limit of one object"):
        client.put("live/a.ts", endless(pulled, closed, piece=4096))
    assert closed == [True]
    assert sum(pulled) == 3 * 4096


def test_an_origin_that_needs_the_hash_first_stops_the_stream_at_its_limit() -> None:
    small_s3 = attrs.evolve(S3, name="small-s3", max_object_bytes=10_000)
    client = IngestClient(
        "https://d1.example.net",
        config=IngestConfig(origin=small_s3),
        transport=MockTransport(never_called),
    )
    pulled: list[int] = []
    closed: list[bool] = []
    with pytest.raises(ObjectTooLargeError) as err:
        client.put("live/a.ts", endless(pulled, closed, piece=4096))
    assert err.value.limit == 10_000
    assert closed == [True]


def test_a_413_is_never_retried_and_says_which_limit(tmp_path: Path) -> None:
    """The origin's own limit is smaller than the description says: its 413 comes
    back at once, with the limits in the hint."""
    with LocalCA() as ca, LocalContainer(ca=ca, policy=OPEN_WRITE, max_object_size=1000) as c:
        assert c.ca_bundle is not None
        client = IngestClient(
            c.endpoint,
            config=IngestConfig(ca_bundle=c.ca_bundle, retry=RetryPolicy(max_attempts=4)),
            sleep=lambda s: None,
        )
        with pytest.raises(HTTPStatusError) as err:
            client.put("live/a.ts", bytes(5000))
        puts = [r for r in c.requests if r.method == "PUT"]
    assert err.value.status == 413
    assert err.value.attempts == 1
    assert len(puts) == 1
    assert err.value.hint is not None
    assert "too large" in err.value.hint
    assert f"{MEDIASTORE.max_object_bytes:,} bytes per object" in err.value.hint


def test_413_cannot_be_made_retryable() -> None:
    with pytest.raises(InvalidInputError, match="413 is never retried"):
        RetryPolicy(retry_statuses={413, 503})


class Flaky:
    """Reads the body, then answers 503 (retryable): only the limit stops it."""

    def __init__(self) -> None:
        self.calls = 0

    def handle(self, request: Request) -> Response:
        self.calls += 1
        for _ in request.body or []:
            pass
        return Response(503, {}, b"")

    def close(self) -> None:
        pass


def test_the_limit_error_is_not_retried() -> None:
    tiny = attrs.evolve(MEDIASTORE, name="tiny-store", max_object_bytes=1000)
    transport = Flaky()
    client = IngestClient(
        "https://d1.example.net", config=IngestConfig(origin=tiny),
        transport=transport, sleep=lambda s: None,
    )
    with pytest.raises(ObjectTooLargeError) as err:
        client.put("live/a.ts", (bytes(400) for _ in range(5)))
    assert transport.calls == 1
    assert err.value.attempts == 1


def test_a_size_at_the_limit_is_sent(tmp_path: Path) -> None:
    sent: list[int] = []

    def store(request: Request) -> Response:
        assert isinstance(request.body, bytes)  # MockTransport reads the body first
        sent.append(len(request.body))
        return Response(200, {}, b"{}")

    tiny = attrs.evolve(MEDIASTORE, name="tiny-store", max_object_bytes=1000)
    client = IngestClient(
        "https://d1.example.net", config=IngestConfig(origin=tiny), transport=MockTransport(store)
    )
    client.put("live/a.ts", bytes(1000))
    client.put("live/b.ts", (bytes(250) for _ in range(4)))
    f = tmp_path / "c.ts"
    f.write_bytes(bytes(1000))
    client.put("live/c.ts", f)
    assert sent == [1000, 1000, 1000]
    assert os.path.getsize(f) == 1000
