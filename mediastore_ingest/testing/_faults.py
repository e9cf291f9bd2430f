"""Seeded network faults for the local ingest edge.

A ``FaultPlan`` is an immutable description: which fraction of requests fail,
which kinds of failure, and their parameters. ``FaultPlan.schedule`` turns it
into a ``FaultSchedule``, the thread-safe, stateful part that a
``LocalEdge`` asks once per request. The schedule
draws from ``random.Random(seed)`` in request order, so the same seed and the same
sequence of requests give the same faults.

Fault kinds (what the viewer sees):

``drop_request``
    The edge reads part of the request body (``drop_after_bytes``), forwarding it to
    the origin as it goes, then cuts both connections: the viewer's connection closes
    without a response and the origin receives an incomplete body, so nothing is
    stored. A request without a body is dropped before it is forwarded.
``http_502`` / ``http_503`` / ``http_504``
    The edge answers with that status (and ``Retry-After`` when ``retry_after`` is
    set) without forwarding anything, as CloudFront does when it cannot reach or
    hear from the origin.
``delay``
    The request is held for ``delay`` seconds, then forwarded normally.
``reset_response``
    The request is forwarded normally (the origin acts on it), then the response is
    cut after the head and at most ``reset_after_bytes`` body bytes (always before its
    end); a response without a body is cut before its head.

A plan can be limited to a time window: faults are injected only between
``active_from`` and ``active_until`` seconds after the schedule was made (when the
edge started), e.g. ``FaultPlan.always("http_503", active_from=1, active_until=11)``
for an edge that is down for ten seconds, one second after it starts. Outside the
window a request gets no fault (the draws still happen, so the sequence is the same).
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Literal, cast

import attrs

from mediastore_ingest._internal.show import shown, type_name
from mediastore_ingest._internal.validate import check_int, int_in, number, optional, str_items
from mediastore_ingest.errors import InvalidInputError

__all__ = ["ALL_FAULT_KINDS", "Fault", "FaultKind", "FaultPlan", "FaultSchedule"]

FaultKind = Literal[
    "drop_request", "http_502", "http_503", "http_504", "delay", "reset_response"
]

#: Every fault kind, in the order ``FaultPlan`` lists them by default.
ALL_FAULT_KINDS: tuple[FaultKind, ...] = (
    "drop_request",
    "http_502",
    "http_503",
    "http_504",
    "delay",
    "reset_response",
)


def _check_rate(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise InvalidInputError(f"failure_rate must be a number in [0, 1], not {shown(value)}")


def _check_seed(instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    # What random.Random accepts as a seed (None included: a seed from the OS).
    if value is not None and not isinstance(value, (int, float, str, bytes, bytearray)):
        raise InvalidInputError(
            f"seed must be an int (or a float, str or bytes), not {shown(value)}"
        )


def _kinds(value: object) -> tuple[FaultKind, ...]:
    items = str_items(value, "kinds")
    for item in items:
        if item not in ALL_FAULT_KINDS:
            raise InvalidInputError(
                f"unknown fault kind {shown(item)}; expected one of {', '.join(ALL_FAULT_KINDS)}"
            )
    return cast("tuple[FaultKind, ...]", tuple(dict.fromkeys(items)))


def _check_kinds(
    instance: FaultPlan, attribute: attrs.Attribute[tuple[FaultKind, ...]], value: object
) -> None:
    if not value and instance.failure_rate > 0:
        raise InvalidInputError("kinds must name at least one fault kind")


@attrs.frozen
class Fault:
    """One injected fault: the ``index`` of the request (0-based, in the order the
    edge asked the schedule) and its ``kind``."""

    index: int
    kind: FaultKind


@attrs.frozen
class FaultPlan:
    """Which requests the ingest edge breaks, and how (see the module docstring).

    ``seed`` seeds ``random.Random``; ``failure_rate`` is the probability that a
    request gets a fault; ``kinds`` are the faults to pick from (uniformly);
    ``delay`` is the hold of a ``delay`` fault in seconds; ``retry_after`` the
    ``Retry-After`` seconds sent with ``http_5xx`` faults (``None``: no header);
    ``drop_after_bytes`` how much request body is read before a ``drop_request``;
    ``reset_after_bytes`` how many response body bytes get out before a
    ``reset_response``; ``active_from``/``active_until`` the time window (seconds after
    the schedule starts) in which faults are injected.
    """

    seed: int = attrs.field(default=1, validator=_check_seed)
    failure_rate: float = attrs.field(default=0.15, validator=_check_rate)
    kinds: tuple[FaultKind, ...] = attrs.field(
        default=ALL_FAULT_KINDS, converter=_kinds, validator=_check_kinds
    )
    delay: float = attrs.field(default=0.05, validator=number(zero=True))
    retry_after: int | None = attrs.field(default=None, validator=optional(int_in(0)))
    drop_after_bytes: int = attrs.field(default=16 * 1024, validator=int_in(0))
    reset_after_bytes: int = attrs.field(default=64, validator=int_in(0))
    active_from: float = attrs.field(default=0.0, validator=number(zero=True))
    active_until: float = attrs.field(default=math.inf, validator=number(infinite=True))

    def __attrs_post_init__(self) -> None:
        if self.active_until <= self.active_from:
            raise InvalidInputError(
                f"active_until ({self.active_until}) must be after active_from "
                f"({self.active_from})"
            )

    @classmethod
    def none(cls) -> FaultPlan:
        """A plan that never injects a fault (the default of every edge)."""
        return cls(failure_rate=0.0)

    @classmethod
    def always(cls, kind: FaultKind, **kwargs: object) -> FaultPlan:
        """A plan that injects ``kind`` into every request (for tests of one fault)."""
        return cls(failure_rate=1.0, kinds=(kind,), **kwargs)  # type: ignore[arg-type]

    @property
    def enabled(self) -> bool:
        """True when this plan can inject anything."""
        return self.failure_rate > 0 and bool(self.kinds)

    def schedule(self, clock: Callable[[], float] = time.monotonic) -> FaultSchedule:
        """A fresh schedule drawing this plan's faults from the start of its sequence
        (its time window starts now, by ``clock``)."""
        return FaultSchedule(self, clock=clock)

    def preview(self, count: int) -> list[FaultKind | None]:
        """The decisions for the first ``count`` requests of a fresh schedule."""
        check_int("count", count, minimum=0)
        schedule = self.schedule()
        return [schedule.next() for _ in range(count)]


class FaultSchedule:
    """The stateful side of a ``FaultPlan``: one decision per request, in order.

    Thread-safe: concurrent requests each get the next decision of the one sequence
    (which request gets which decision then depends on arrival order).
    """

    def __init__(self, plan: FaultPlan, *, clock: Callable[[], float] = time.monotonic) -> None:
        if not isinstance(plan, FaultPlan):
            raise InvalidInputError(f"plan must be a FaultPlan, not {type_name(plan)}")
        self.plan = plan
        self._clock = clock
        self._started = clock()
        self._rng = random.Random(plan.seed)  # noqa: S311 - test faults, not crypto
        self._lock = threading.Lock()
        self._index = 0
        self._log: list[Fault] = []

    def next(self) -> FaultKind | None:
        """Decide the next request's fault kind (``None``: none) and log it."""
        fault = self.decide()
        return None if fault is None else fault.kind

    def decide(self) -> Fault | None:
        """Decide the next request's fault (``None``: none) and log it."""
        plan = self.plan
        with self._lock:
            index = self._index
            self._index += 1
            if not plan.enabled:
                return None
            # Always two draws per request, so a plan's sequence does not shift when
            # only the kinds or the rate change.
            roll = self._rng.random()
            pick = self._rng.randrange(len(plan.kinds))
            if roll >= plan.failure_rate:
                return None
            if not plan.active_from <= self._clock() - self._started < plan.active_until:
                return None
            fault = Fault(index, plan.kinds[pick])
            self._log.append(fault)
            return fault

    @property
    def decisions(self) -> int:
        """How many requests have asked so far."""
        with self._lock:
            return self._index

    @property
    def log(self) -> list[Fault]:
        """Every fault decided so far, oldest first."""
        with self._lock:
            return list(self._log)

    def counts(self) -> dict[str, int]:
        """Faults decided so far, by kind."""
        with self._lock:
            return dict(Counter(f.kind for f in self._log))
