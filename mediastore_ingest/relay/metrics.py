"""What a signing relay counts: :class:`RelayStats` snapshots and the Prometheus text
``GET /metrics`` answers (requests, bytes, the upload latency histogram, retries,
failures, spooled objects)."""

from __future__ import annotations

import threading

import attrs

__all__ = ["LATENCY_BUCKETS", "Metrics", "RelayStats"]

#: Upper bounds (seconds) of the upload latency histogram.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)


@attrs.frozen
class RelayStats:
    """A snapshot of a relay's counters."""

    requests: int
    uploaded: int
    failed: int
    spooled: int
    aborted: int
    deleted: int
    retries: int
    bytes_received: int
    bytes_uploaded: int
    in_flight: int


class Metrics:
    """The relay's counters, safe to update from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, int], int] = {}
        self.uploaded = self.failed = self.spooled = self.spool_errors = 0
        self.aborted = self.deleted = self.retries = self.refused = 0
        self.bytes_received = self.bytes_uploaded = 0
        self.in_flight = 0
        self.buckets = [0] * len(LATENCY_BUCKETS)
        self.latency_count = 0
        self.latency_sum = 0.0

    def add(self, **counts: int) -> None:
        """Add ``counts`` (``uploaded=1``, ``in_flight=-1`` ...) to the counters."""
        with self._lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)

    def request(self, method: str, status: int) -> None:
        """Count one answered request."""
        with self._lock:
            key = (method, status)
            self.requests[key] = self.requests.get(key, 0) + 1

    def observe(self, seconds: float) -> None:
        """Add one upload latency to the histogram."""
        with self._lock:
            self.latency_count += 1
            self.latency_sum += seconds
            for i, bound in enumerate(LATENCY_BUCKETS):
                if seconds <= bound:
                    self.buckets[i] += 1

    def stats(self) -> RelayStats:
        """A consistent snapshot of the counters."""
        with self._lock:
            return RelayStats(
                requests=sum(self.requests.values()),
                uploaded=self.uploaded,
                failed=self.failed,
                spooled=self.spooled,
                aborted=self.aborted,
                deleted=self.deleted,
                retries=self.retries,
                bytes_received=self.bytes_received,
                bytes_uploaded=self.bytes_uploaded,
                in_flight=self.in_flight,
            )

    def render(self) -> str:
        """The counters in the Prometheus text format."""
        p = "mediastore_relay_"
        lines: list[str] = []

        def metric(name: str, kind: str, help_: str, samples: list[tuple[str, float]]) -> None:
            lines.append(f"# HELP {p}{name} {help_}")
            lines.append(f"# TYPE {p}{name} {kind}")
            for suffix, value in samples:
                text = repr(value) if isinstance(value, float) else str(value)
                lines.append(f"{p}{name}{suffix} {text}")

        with self._lock:
            metric(
                "requests_total", "counter", "Requests answered, by method and status.",
                [
                    (f'{{method="{m}",status="{s}"}}', n)
                    for (m, s), n in sorted(self.requests.items())
                ],
            )
            metric("received_bytes_total", "counter", "Body bytes read from encoders.",
                   [("", self.bytes_received)])
            metric("uploaded_bytes_total", "counter", "Body bytes acknowledged by the origin.",
                   [("", self.bytes_uploaded)])
            metric("uploads_total", "counter", "Objects the origin acknowledged.",
                   [("", self.uploaded)])
            metric("retries_total", "counter", "Upload attempts after the first.",
                   [("", self.retries)])
            metric("failures_total", "counter", "Objects whose upload finally failed.",
                   [("", self.failed)])
            metric("spooled_total", "counter", "Failed objects written to the spool directory.",
                   [("", self.spooled)])
            metric("spool_errors_total", "counter", "Failed objects that could not be spooled.",
                   [("", self.spool_errors)])
            metric("aborted_total", "counter", "Uploads the encoder broke off (nothing stored).",
                   [("", self.aborted)])
            metric("deletes_total", "counter", "Deletions forwarded and acknowledged.",
                   [("", self.deleted)])
            metric("refused_total", "counter", "Requests refused (peer, token, method, limits).",
                   [("", self.refused)])
            metric("in_flight", "gauge", "Objects being received or uploaded.",
                   [("", self.in_flight)])
            samples: list[tuple[str, float]] = []
            for bound, n in zip(LATENCY_BUCKETS, self.buckets, strict=True):
                samples.append((f'_bucket{{le="{bound}"}}', n))
            samples.append(('_bucket{le="+Inf"}', self.latency_count))
            samples.append(("_sum", float(self.latency_sum)))
            samples.append(("_count", self.latency_count))
            metric(
                "upload_seconds", "histogram",
                "Seconds from the first body byte to the origin's acknowledgement.", samples,
            )
        return "\n".join(lines) + "\n"
