"""In which order the relay uploads what it journaled (pure: no I/O, no threads).

A ``Scheduler`` holds one ``Job`` per version of a path the relay has
received and not finished with, and answers "what can be uploaded now?". The rules:

1. **Per path, oldest first, one at a time.** A path's versions are ordered by
   arrival (the order their request heads reached the relay). At most one upload per
   path runs; a newer version waits for it.
2. **A superseded version is never uploaded.** When a version is complete, every
   older version of its path still waiting is dropped (returned to the caller, who
   removes it from the journal and counts it); an older one still being received is
   dropped when it completes; one whose upload fails is dropped rather than tried
   again. So an older version is never stored over a newer one.
3. **A manifest waits for what it names.** A manifest with
   ``ManifestRefs`` is uploaded only once
   no object it requires (or that matches one of its patterns) *and that arrived
   before it* is still being received, waiting or uploading. Only objects the relay
   holds are waited for: one it never received (stored by an earlier run, or never
   sent) cannot block a manifest; a preload hint, another manifest or an absolute
   URL is never waited for; an object the origin refused for good stops blocking
   when it is set aside. A manifest that could not be parsed (``refs`` None) goes
   in arrival order, like any object.
4. **Failed uploads wait and try again** (``backoff_base`` doubling up to
   ``backoff_cap`` seconds), unless superseded meanwhile.
5. Otherwise first come, first served (in the order versions became complete).

A version whose body is still arriving may be uploaded while it arrives
(``Scheduler.stream``): only when its path has no other version in hand.
"""

from __future__ import annotations

import collections
import re
from typing import Literal

import attrs

from mediastore_ingest.ingest.manifests import ManifestRefs

__all__ = ["Job", "JobState", "Scheduler"]

JobState = Literal["receiving", "pending", "running", "done"]


@attrs.define(eq=False)
class Job:
    """One version of one path, from its request head to its upload."""

    arrival: int
    path: str
    began: float  # monotonic seconds when the request head arrived
    manifest: bool = False
    delete: bool = False
    refs: ManifestRefs | None = None
    state: JobState = "receiving"
    committed: bool = False  # the whole body is in the journal
    committed_at: float = 0.0
    doomed: bool = False  # a newer version completed while this one was arriving
    aborted: bool = False  # the body was broken off: nothing to upload
    streaming: bool = False  # uploaded while it arrives
    failures: int = 0
    not_before: float = 0.0
    payload: object = None  # the caller's (the journal entry, the writer)


class Scheduler:
    """The jobs in hand and the rules above; not thread-safe (the caller locks)."""

    def __init__(self, *, backoff_base: float = 0.25, backoff_cap: float = 5.0) -> None:
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._jobs: dict[int, Job] = {}
        self._by_path: dict[str, list[Job]] = {}
        self._pending: dict[int, Job] = {}  # in the order they became pending
        self._streams: collections.deque[Job] = collections.deque()

    # --- arrivals ---------------------------------------------------------------------

    def receive(self, arrival: int, path: str, now: float, *, manifest: bool = False,
                delete: bool = False) -> Job:
        """A request head for ``path`` arrived: its body is being received."""
        job = Job(arrival, path, now, manifest=manifest, delete=delete)
        self._add(job)
        return job

    def _add(self, job: Job) -> None:
        self._jobs[job.arrival] = job
        versions = self._by_path.setdefault(job.path, [])
        versions.append(job)
        if len(versions) > 1 and versions[-2].arrival > job.arrival:
            versions.sort(key=lambda j: j.arrival)

    def _remove(self, job: Job) -> None:
        job.state = "done"
        self._jobs.pop(job.arrival, None)
        self._pending.pop(job.arrival, None)
        versions = self._by_path.get(job.path)
        if versions is not None:
            with_out = [j for j in versions if j is not job]
            if with_out:
                self._by_path[job.path] = with_out
            else:
                del self._by_path[job.path]

    def commit(self, job: Job, refs: ManifestRefs | None, now: float) -> list[Job]:
        """``job``'s body is complete and journaled. Returns the versions it makes
        obsolete (``job`` itself if a newer one completed first): the caller removes
        them from the journal."""
        job.committed = True
        job.committed_at = now
        job.refs = refs
        if job.doomed:
            if job.state == "running":  # a streaming upload: finish() settles it
                return []
            self._remove(job)
            return [job]
        dropped: list[Job] = []
        for older in list(self._by_path.get(job.path, ())):
            if older.arrival >= job.arrival:
                continue
            if older.state == "pending":
                self._remove(older)
                dropped.append(older)
            elif older.state == "receiving" or (older.state == "running"
                                                 and not older.committed):
                older.doomed = True
        if job.state == "receiving":
            job.state = "pending"
            self._pending[job.arrival] = job
        return dropped

    def abort(self, job: Job) -> None:
        """``job``'s body was broken off (or refused): nothing is uploaded. A streaming
        upload still running is left to ``finish``."""
        job.aborted = True
        if job.state != "running":
            self._remove(job)

    # --- uploads ----------------------------------------------------------------------

    def stream(self, job: Job) -> bool:
        """Upload ``job`` while its body arrives, if its path has nothing else in hand;
        then ``take`` hands it out first."""
        if job.state != "receiving" or len(self._by_path.get(job.path, ())) != 1:
            return False
        job.state = "running"
        job.streaming = True
        self._streams.append(job)
        return True

    def take(self, now: float) -> Job | None:
        """The next job to upload (now ``running``), or None."""
        if self._streams:
            return self._streams.popleft()
        for job in self._pending.values():
            if job.not_before > now or self._busy(job) or self.blocked(job):
                continue
            del self._pending[job.arrival]
            job.state = "running"
            return job
        return None

    def _busy(self, job: Job) -> bool:
        return any(j.state == "running" and j is not job for j in self._by_path[job.path])

    def blocked(self, job: Job) -> bool:
        """True while a manifest waits for an object it names (rule 3)."""
        refs = job.refs
        if not job.manifest or refs is None or job.delete:
            return False
        for path in refs.required:
            for other in self._by_path.get(path, ()):
                if other.arrival < job.arrival and not other.delete:
                    return True
        for pattern in refs.patterns:
            compiled = re.compile(pattern)
            for other in self._jobs.values():
                if (other.arrival < job.arrival and not other.delete and not other.manifest
                        and compiled.fullmatch(other.path)):
                    return True
        return False

    def finish(self, job: Job, outcome: Literal["done", "retry"], now: float) -> list[Job]:
        """A running job's upload ended: ``"done"`` (stored, refused for good, broken
        off: forget it) or ``"retry"``: try again later, unless a newer
        version is in hand (then ``job`` is returned: the caller drops it). A
        streaming upload that failed while the body still arrives is uploaded from the
        journal once complete."""
        job.streaming = False
        if outcome == "done" or job.aborted:
            self._remove(job)
            return []
        newer = any(j.arrival > job.arrival and j.committed
                    for j in self._by_path.get(job.path, ()))
        if newer or job.doomed:
            self._remove(job)
            return [job] if job.committed else []
        job.failures += 1
        if not job.committed:
            job.state = "receiving"  # commit() makes it pending
            return []
        job.not_before = now + self.backoff(job.failures)
        job.state = "pending"
        self._pending[job.arrival] = job
        return []

    def backoff(self, failures: int) -> float:
        """Seconds to wait before try ``failures + 1``."""
        return float(min(self.backoff_cap, self.backoff_base * 2.0 ** min(failures - 1, 30)))

    # --- state ------------------------------------------------------------------------

    def waiting(self) -> bool:
        """True when a job waits to be taken (ready or not)."""
        return bool(self._pending) or bool(self._streams)

    def next_wake(self) -> float | None:
        """The earliest ``not_before`` of a waiting job (None: none waits on time)."""
        times = [j.not_before for j in self._pending.values() if j.failures]
        return min(times) if times else None

    def jobs(self) -> list[Job]:
        """Every job in hand, by arrival."""
        return sorted(self._jobs.values(), key=lambda j: j.arrival)

    @property
    def receiving(self) -> int:
        """Versions whose body is still arriving."""
        return sum(1 for j in self._jobs.values() if not j.committed)

    def backlog(self) -> int:
        """Complete versions not yet uploaded (waiting or uploading)."""
        return sum(1 for j in self._jobs.values() if j.committed)

    def oldest_age(self, now: float) -> float:
        """Seconds since the oldest complete version not yet uploaded arrived (0: none)."""
        began = [j.began for j in self._jobs.values() if j.committed]
        return max(0.0, now - min(began)) if began else 0.0

    def manifest_lag(self, now: float) -> dict[str, float]:
        """Per manifest path in hand: seconds since its oldest version not yet uploaded
        arrived (how far the origin's copy is behind the encoder)."""
        out: dict[str, float] = {}
        for path, versions in self._by_path.items():
            began = [j.began for j in versions if j.committed and j.manifest]
            if began:
                out[path] = max(0.0, now - min(began))
        return out
