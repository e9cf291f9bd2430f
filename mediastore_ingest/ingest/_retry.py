"""The one retry loop of the ingest client and its
[`RetryPolicy`][mediastore_ingest.ingest.RetryPolicy].

Retried: connection failures
([`TransportError`][mediastore_ingest.errors.TransportError]: refused, reset, timed out;
not a refused TLS certificate) and the statuses in `RetryPolicy.retry_statuses` (429,
500, 502, 503, 504). Never retried: 400, 403, 404, 413 (an object too large: sending
it again cannot help) and every other status, and errors in the caller's own input
(an object over the origin's size limit among them). Delays use
"full jitter" (a uniform draw between 0 and ``min(cap, base * 2**n)``) from an
injected random source, unless the server sent ``Retry-After`` (seconds or an HTTP
date), which is honoured up to a cap.
"""

from __future__ import annotations

import datetime as _dt
import email.utils
import logging
import math
import ssl
from collections.abc import Callable
from typing import TypeVar

import attrs

from mediastore_ingest._internal.validate import int_in, number
from mediastore_ingest.errors import (
    BodyNotRetryableError,
    HTTPStatusError,
    IngestError,
    InvalidInputError,
    RetriesExhaustedError,
    TransportError,
)

__all__ = ["RetryPolicy", "parse_retry_after"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
# The request itself is wrong (or too large): the same request gets the same answer.
NEVER_RETRIED = frozenset({400, 403, 404, 413})


# A delay may be infinite (then capped by backoff_cap / retry_after_cap), never NaN.
_DELAY = number(zero=True, infinite=True)


def _statuses(value: object) -> frozenset[int]:
    if not isinstance(value, (set, frozenset, list, tuple)):
        raise InvalidInputError("retry_statuses must be a set of ints")
    out = frozenset(value)
    for status in out:
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise InvalidInputError(f"not an HTTP status: {status!r}")
        if status in NEVER_RETRIED:
            raise InvalidInputError(f"status {status} is never retried (the request is wrong)")
    return out


@attrs.frozen
class RetryPolicy:
    """How often and how patiently a request is tried again.

    ``max_attempts`` counts the first try (1 = no retry). Delay before retry ``n``
    (1-based) is ``rng() * min(backoff_cap, backoff_base * 2**(n-1))`` seconds, or
    the server's ``Retry-After`` capped at ``retry_after_cap``.
    """

    max_attempts: int = attrs.field(default=4, validator=int_in(1))
    backoff_base: float = attrs.field(default=0.1, validator=_DELAY)
    backoff_cap: float = attrs.field(default=5.0, validator=_DELAY)
    retry_after_cap: float = attrs.field(default=30.0, validator=_DELAY)
    retry_statuses: frozenset[int] = attrs.field(
        default=RETRYABLE_STATUSES, converter=_statuses
    )
    retry_transport_errors: bool = True

    def is_retryable(self, error: BaseException) -> bool:
        """True for connection failures and the retryable statuses."""
        if isinstance(error, TransportError):
            return self.retry_transport_errors and not _is_certificate_failure(error)
        if isinstance(error, HTTPStatusError):
            return error.status in self.retry_statuses
        return False

    def backoff(self, retry_number: int, rng: Callable[[], float]) -> float:
        """The jittered delay before retry ``retry_number`` (1-based)."""
        ceiling = min(self.backoff_cap, math.ldexp(self.backoff_base, min(retry_number - 1, 62)))
        return max(0.0, min(1.0, rng())) * ceiling

    def delay(
        self, retry_number: int, rng: Callable[[], float], retry_after: float | None = None
    ) -> float:
        """The delay before retry ``retry_number``, honouring ``retry_after``."""
        if retry_after is not None:
            return min(max(0.0, retry_after), self.retry_after_cap)
        return self.backoff(retry_number, rng)


def _is_certificate_failure(error: BaseException) -> bool:
    """True when a TLS certificate was refused: trying again cannot help."""
    seen: set[int] = set()
    stack: list[object] = [error]
    while stack:
        item = stack.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, (ssl.SSLCertVerificationError, ssl.CertificateError)):
            return True
        stack.extend([item.__cause__, item.__context__, *item.args])
    return False


# delta-seconds longer than this (over 31 million years) are not a delay but noise
_MAX_DELTA_DIGITS = 15


def parse_retry_after(value: str | bytes | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date,
    relative to ``now`` epoch seconds); ``None`` when absent or unreadable.

    delta-seconds are ASCII digits only (RFC 9110 ``1*DIGIT``), at most 15 of them;
    anything else that is not an HTTP date is unreadable, and the caller's own backoff
    applies (as RFC 9110 allows)."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("latin-1")  # how HTTP header bytes map to text
    if not isinstance(value, str):
        raise InvalidInputError(f"a Retry-After value must be a str, not {type(value).__name__}")
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(int(text)) if len(text) <= _MAX_DELTA_DIGITS else None
    # ``now`` matters only for a date; a clock that gives no usable time makes the
    # header unreadable rather than a retryable answer an error.
    try:
        now = float(now)
    except (TypeError, ValueError, OverflowError):
        return None
    if not math.isfinite(now):
        return None
    try:
        when = email.utils.parsedate_to_datetime(text)
        if when.tzinfo is None:
            when = when.replace(tzinfo=_dt.timezone.utc)
        return max(0.0, when.timestamp() - now)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


class RetryableResponse(Exception):
    """Internal: an attempt ended in a retryable status; carries ``Retry-After``.

    Never escapes `run_with_retries`."""

    def __init__(self, error: HTTPStatusError, retry_after: float | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


class Rewindable:
    """What the loop needs from a request body between attempts."""

    def can_retry(self) -> bool:
        """True when the body can be sent again from its start."""
        return True


def run_with_retries(
    attempt: Callable[[int], T],
    *,
    policy: RetryPolicy,
    path: str | None,
    sleep: Callable[[float], None],
    rng: Callable[[], float],
    body: Rewindable | None = None,
    on_retry: Callable[[int, IngestError, float], None] | None = None,
) -> tuple[T, int]:
    """Call ``attempt(n)`` (n = 1, 2, …) until it succeeds; return (value, attempts).

    Errors that are not retryable propagate as they are, with ``attempts`` set to
    the attempts made. When the body cannot be re-sent, `BodyNotRetryableError` is
    raised; when the budget runs out, `RetriesExhaustedError`; both chain the last
    failure and carry its ``hint``.
    """
    number = 1
    while True:
        retry_after: float | None = None
        try:
            return attempt(number), number
        except RetryableResponse as wrapped:
            error: IngestError = wrapped.error
            retry_after = wrapped.retry_after
        except IngestError as exc:
            if not policy.is_retryable(exc):
                if exc.attempts is None:
                    exc.attempts = number
                raise
            error = exc
        if not policy.is_retryable(error):
            if error.attempts is None:
                error.attempts = number
            raise error
        if number >= policy.max_attempts:
            raise RetriesExhaustedError(
                f"{path or 'request'}: gave up after {number} attempt(s): {error}",
                path=path,
                attempts=number,
                last_error=error,
                hint=error.hint,
            ) from error
        if body is not None and not body.can_retry():
            raise BodyNotRetryableError(
                f"{path or 'request'}: attempt {number} failed ({error}) and the streamed "
                "body is larger than the retry buffer, so it cannot be sent again",
                path=path,
                attempts=number,
                hint=error.hint,
            ) from error
        wait = policy.delay(number, rng, retry_after)
        logger.debug("retrying %s after %s (attempt %d, wait %.3fs)", path, error, number, wait)
        if on_retry is not None:
            on_retry(number, error, wait)
        if wait > 0:
            sleep(wait)
        number += 1
