"""The retry policy: which failures are retried, the full-jitter back-off, Retry-After."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediastore_ingest.errors import (
    HTTPStatusError,
    InvalidInputError,
    TransportError,
)
from mediastore_ingest.ingest import (
    RetryPolicy,
    parse_retry_after,
)


def test_retryable_classification() -> None:
    policy = RetryPolicy()
    assert policy.is_retryable(TransportError("reset"))
    for status in (429, 500, 502, 503, 504):
        assert policy.is_retryable(HTTPStatusError("x", status=status))
    for status in (400, 401, 403, 404, 409, 412, 413, 501):
        assert not policy.is_retryable(HTTPStatusError("x", status=status))
    assert not policy.is_retryable(InvalidInputError("bad"))
    assert not RetryPolicy(retry_transport_errors=False).is_retryable(TransportError("x"))


@pytest.mark.parametrize("bad", [{403}, {404, 503}, {400}, {99}])
def test_never_retry_client_errors(bad: set[int]) -> None:
    with pytest.raises(InvalidInputError):
        RetryPolicy(retry_statuses=frozenset(bad))


@given(st.integers(1, 200), st.floats(0, 1))
def test_backoff_is_full_jitter_within_cap(n: int, draw: float) -> None:
    policy = RetryPolicy(backoff_base=0.1, backoff_cap=5.0)
    delay = policy.delay(n, lambda: draw)
    assert 0 <= delay <= min(5.0, 0.1 * 2 ** (n - 1))
    assert delay == pytest.approx(draw * min(5.0, 0.1 * 2 ** min(n - 1, 62)))


def test_retry_after_wins_and_is_capped() -> None:
    policy = RetryPolicy(retry_after_cap=10)
    assert policy.delay(1, lambda: 1.0, retry_after=3) == 3
    assert policy.delay(1, lambda: 1.0, retry_after=999) == 10
    assert policy.delay(1, lambda: 1.0, retry_after=-5) == 0


def test_parse_retry_after() -> None:
    assert parse_retry_after("120", now=0) == 120
    assert parse_retry_after(None, now=0) is None
    assert parse_retry_after("soon", now=0) is None
    assert parse_retry_after("Thu, 01 Jan 1970 00:01:40 GMT", now=40) == 60
    assert parse_retry_after("Thu, 01 Jan 1970 00:01:40 GMT", now=400) == 0


def test_parse_retry_after_forms_and_bad_input() -> None:
    assert parse_retry_after("7", now=0) == 7.0
    assert parse_retry_after(" 12 ", now=0) == 12.0
    assert parse_retry_after("\u00b2", now=0) is None
    assert parse_retry_after("9" * 5000, now=0) is None
    assert parse_retry_after("Sun, 06 Nov 1994 08:49:40 GMT", now=784111770) == 10.0
    assert parse_retry_after("Sun, 06 Nov 99999 08:49:40 GMT", now=0) is None
    assert parse_retry_after(None, now=0) is None
    assert parse_retry_after(b"120", now=0) == 120.0  # header bytes, as before
    with pytest.raises(InvalidInputError, match="Retry-After"):
        parse_retry_after(5, now=0)  # type: ignore[arg-type]
    # ``now`` is needed only for a date; an unusable one makes a date unreadable.
    for now in ("x", None, math.nan):
        assert parse_retry_after("7", now=now) == 7.0  # type: ignore[arg-type]
        assert parse_retry_after("Sun, 06 Nov 1994 08:49:40 GMT", now=now) is None  # type: ignore[arg-type]
