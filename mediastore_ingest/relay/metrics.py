"""What a signing relay counts: ``RelayStats`` snapshots and the Prometheus text
``GET /metrics`` answers.

Counters: requests answered (by method and status), requests refused (by reason),
parse errors (request framing, manifests), bytes received and uploaded, objects
journaled, uploads by outcome (``stored``, ``retried``: failed and waiting to be tried
again, ``rejected``: refused for good and set aside in ``failed/``, ``aborted``: a
streaming upload whose body was broken off, ``superseded``: a version dropped because
a newer one of its path arrived; the manifests among them counted apart), deletions,
client retries, objects replayed from an earlier run. Gauges (read when rendered):
journal depth (objects, bytes), objects set aside, requests being received, the age of
the oldest object not yet uploaded, and each manifest path's lag. A histogram: seconds
from a request's arrival to the origin's acknowledgement.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import attrs

__all__ = ["LATENCY_BUCKETS", "Gauges", "Metrics", "RelayStats"]

#: Upper bounds (seconds) of the delivery latency histogram.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
)

#: How many manifest paths /metrics lists a lag for (the most behind first).
MAX_LAG_PATHS = 100

UPLOAD_OUTCOMES = ("stored", "retried", "rejected", "aborted", "superseded")


@attrs.frozen
class Gauges:
    """The state the relay reads when it renders or snapshots its metrics."""

    journal_objects: int = 0
    journal_bytes: int = 0
    failed_objects: int = 0
    receiving: int = 0
    oldest_age: float = 0.0
    manifest_lag: tuple[tuple[str, float], ...] = ()


@attrs.frozen
class RelayStats:
    """A snapshot of a relay's counters and gauges.

    ``uploaded``: objects the origin stored; ``failed``: objects the origin refused for
    good (set aside in the journal's ``failed/``); ``retried``: upload rounds that
    failed and were tried again later; ``superseded``: versions dropped for a newer
    one (``superseded_manifests`` of them manifests); ``aborted``: bodies broken off;
    ``journaled``: objects committed to the journal; ``replayed``: objects found in the
    journal at start; ``journal_objects``/``journal_bytes``: what it holds now.
    """

    requests: int
    uploaded: int
    failed: int
    retried: int
    superseded: int
    superseded_manifests: int
    aborted: int
    deleted: int
    retries: int
    refused: int
    journaled: int
    replayed: int
    bytes_received: int
    bytes_uploaded: int
    in_flight: int
    journal_objects: int
    journal_bytes: int


class Metrics:
    """The relay's counters, safe to update from any thread; ``gauges`` is called for
    the current state when rendering."""

    def __init__(self, gauges: Callable[[], Gauges] = Gauges) -> None:
        self._lock = threading.Lock()
        self._gauges = gauges
        self.requests: dict[tuple[str, int], int] = {}
        self.refusals: dict[str, int] = {}
        self.parse_errors: dict[str, int] = {}
        self.outcomes: dict[str, int] = dict.fromkeys(UPLOAD_OUTCOMES, 0)
        self.superseded_manifests = 0
        self.deleted = self.retries = self.journaled = self.replayed = 0
        self.bytes_received = self.bytes_uploaded = 0
        self.in_flight = 0
        self.buckets = [0] * len(LATENCY_BUCKETS)
        self.latency_count = 0
        self.latency_sum = 0.0

    def set_gauges(self, gauges: Callable[[], Gauges]) -> None:
        """Where the gauges come from."""
        self._gauges = gauges

    def add(self, **counts: int) -> None:
        """Add ``counts`` (``journaled=1``, ``in_flight=-1`` ...) to the counters."""
        with self._lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)

    def outcome(self, name: str, n: int = 1, *, manifest: bool = False) -> None:
        """Count ``n`` uploads ending as ``name`` (one of ``UPLOAD_OUTCOMES``)."""
        with self._lock:
            self.outcomes[name] += n
            if name == "superseded" and manifest:
                self.superseded_manifests += n

    def refused(self, reason: str) -> None:
        """Count one request refused for ``reason`` (``peer``, ``token``, ``journal_full``...)."""
        with self._lock:
            self.refusals[reason] = self.refusals.get(reason, 0) + 1

    def parse_error(self, what: str) -> None:
        """Count one ``request`` with bad framing or one ``manifest`` that could not be read."""
        with self._lock:
            self.parse_errors[what] = self.parse_errors.get(what, 0) + 1

    def request(self, method: str, status: int) -> None:
        """Count one answered request."""
        with self._lock:
            key = (method, status)
            self.requests[key] = self.requests.get(key, 0) + 1

    def observe(self, seconds: float) -> None:
        """Add one delivery latency to the histogram."""
        with self._lock:
            self.latency_count += 1
            self.latency_sum += seconds
            for i, bound in enumerate(LATENCY_BUCKETS):
                if seconds <= bound:
                    self.buckets[i] += 1

    def stats(self) -> RelayStats:
        """A consistent snapshot of the counters (and the journal's depth)."""
        gauges = self._gauges()
        with self._lock:
            return RelayStats(
                requests=sum(self.requests.values()),
                uploaded=self.outcomes["stored"],
                failed=self.outcomes["rejected"],
                retried=self.outcomes["retried"],
                superseded=self.outcomes["superseded"],
                superseded_manifests=self.superseded_manifests,
                aborted=self.outcomes["aborted"],
                deleted=self.deleted,
                retries=self.retries,
                refused=sum(self.refusals.values()),
                journaled=self.journaled,
                replayed=self.replayed,
                bytes_received=self.bytes_received,
                bytes_uploaded=self.bytes_uploaded,
                in_flight=self.in_flight,
                journal_objects=gauges.journal_objects,
                journal_bytes=gauges.journal_bytes,
            )

    def render(self) -> str:
        """The counters and gauges in the Prometheus text format."""
        p = "mediastore_relay_"
        lines: list[str] = []
        gauges = self._gauges()

        def metric(name: str, kind: str, help_: str, samples: list[tuple[str, float]]) -> None:
            lines.append(f"# HELP {p}{name} {help_}")
            lines.append(f"# TYPE {p}{name} {kind}")
            for suffix, value in samples:
                text = repr(value) if isinstance(value, float) else str(value)
                lines.append(f"{p}{name}{suffix} {text}")

        def labelled(label: str, counts: dict[str, int]) -> list[tuple[str, float]]:
            return [(f'{{{label}="{_escape(k)}"}}', n) for k, n in sorted(counts.items())]

        with self._lock:
            metric(
                "requests_total", "counter", "Requests answered, by method and status.",
                [
                    (f'{{method="{m}",status="{s}"}}', n)
                    for (m, s), n in sorted(self.requests.items())
                ],
            )
            metric("refused_total", "counter",
                   "Requests refused, by reason (peer, token, method, path, too_large, "
                   "journal_full, busy, malformed, journal_error).",
                   labelled("reason", self.refusals))
            metric("parse_errors_total", "counter",
                   "Requests with bad framing, and manifests that could not be read "
                   "(uploaded in arrival order).", labelled("what", self.parse_errors))
            metric("received_bytes_total", "counter", "Body bytes read from encoders.",
                   [("", self.bytes_received)])
            metric("uploaded_bytes_total", "counter", "Body bytes acknowledged by the origin.",
                   [("", self.bytes_uploaded)])
            metric("journaled_total", "counter", "Objects committed to the journal.",
                   [("", self.journaled)])
            metric("replayed_total", "counter",
                   "Objects found in the journal at start (left by an earlier run).",
                   [("", self.replayed)])
            metric("uploads_total", "counter",
                   "Upload rounds by outcome: stored, retried (failed, tried again later), "
                   "rejected (refused for good, set aside), aborted (body broken off), "
                   "superseded (dropped for a newer version of the path).",
                   labelled("outcome", self.outcomes))
            metric("superseded_manifests_total", "counter",
                   "Manifest versions dropped before upload because a newer one arrived.",
                   [("", self.superseded_manifests)])
            metric("retries_total", "counter", "Upload attempts after the first, within a "
                   "round (the ingest client's retries).", [("", self.retries)])
            metric("deletes_total", "counter", "Deletions forwarded and acknowledged.",
                   [("", self.deleted)])
            metric("in_flight", "gauge", "Requests being received.",
                   [("", self.in_flight)])
            samples: list[tuple[str, float]] = []
            for bound, n in zip(LATENCY_BUCKETS, self.buckets, strict=True):
                samples.append((f'_bucket{{le="{bound}"}}', n))
            samples.append(('_bucket{le="+Inf"}', self.latency_count))
            samples.append(("_sum", float(self.latency_sum)))
            samples.append(("_count", self.latency_count))
            metric(
                "upload_seconds", "histogram",
                "Seconds from a request's arrival at the relay to the origin's "
                "acknowledgement of the object.", samples,
            )
        metric("journal_objects", "gauge",
               "Objects in the journal (not yet uploaded, or being received).",
               [("", gauges.journal_objects)])
        metric("journal_bytes", "gauge", "Body bytes in the journal.",
               [("", gauges.journal_bytes)])
        metric("journal_failed_objects", "gauge",
               "Objects the origin refused for good, kept in the journal's failed/.",
               [("", gauges.failed_objects)])
        metric("receiving", "gauge", "Request bodies being received.",
               [("", gauges.receiving)])
        metric("oldest_pending_seconds", "gauge",
               "Age of the oldest object received and not yet uploaded (0: none).",
               [("", float(gauges.oldest_age))])
        metric("path_lag_seconds", "gauge",
               "Per manifest path with a version not yet uploaded: seconds since the "
               f"oldest such version arrived (at most {MAX_LAG_PATHS} paths, most behind "
               "first).",
               [(f'{{path="{_escape(path)}"}}', float(lag))
                for path, lag in gauges.manifest_lag[:MAX_LAG_PATHS]])
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
