"""When each segment syncs, and which syncs may run together.

Each segment has a next due time from its ``schedule`` (or the default schedule). On every
tick the daemon asks ``take(now)`` for jobs to start:

- Requested jobs (``POST /sync``) come first, in arrival order; then due segments.
- A job holds the ESP accounts of its segments' destinations (``mailchimp``, ``klaviyo``)
  until it finishes, so two syncs never write to the same account at once; jobs on other
  accounts run in parallel. A due segment whose account is busy waits for a later tick.
- A scheduled job syncs one segment, so a guard or a failure in one segment never holds
  back another; due segments on a busy account queue up, longest overdue first.
- After a failed job (an ESP outage, an unreachable store) its segments back off:
  ``backoff × 2^(failures-1)``, never longer than the schedule's own interval, then retry.
- At start, a segment's next run follows its last run in the state store: a segment that
  never ran, or whose last run failed or was stopped, is due at once; one that ran
  recently waits for its schedule. A segment whose definition changed is due at once.

``time_scale`` divides every schedule delay (tests run a ``1m`` schedule in a second).
The scheduler is pure bookkeeping over an injected ``now``; it is thread-safe.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from connector.definitions.loader import Definitions
from connector.timespec import Schedule

__all__ = ["Job", "LastRun", "Scheduler", "SegmentStatus", "accounts_of", "fingerprint"]

_DONE = {"ok", "quarantined", "guard"}
_FAILED = {"failed", "error"}


@dataclass(frozen=True)
class LastRun:
    """A segment's latest recorded run (from the state store)."""

    started_at: datetime
    status: str


@dataclass
class Job:
    """One ``run_sync`` call: segments synced together, holding their ESP accounts."""

    job_id: str
    segments: tuple[str, ...]
    accounts: frozenset[str]
    trigger: str
    requested_at: datetime
    started_at: datetime | None = None


@dataclass
class SegmentStatus:
    """Scheduling state of one segment (also what the status page shows)."""

    name: str
    schedule: Schedule
    accounts: frozenset[str]
    fingerprint: str
    next_due: datetime
    failures: int = 0
    running: str | None = None  # job id
    last_status: str | None = None


def accounts_of(defs: Definitions, name: str) -> frozenset[str]:
    """The ESP accounts a segment writes to (one key per ESP in the settings)."""
    segment = defs.segments[name]
    return frozenset(
        defs.destinations[ref.to].esp for ref in segment.destinations if ref.to in defs.destinations
    )


def fingerprint(defs: Definitions, name: str) -> str:
    """A digest of everything that decides a segment's membership and destinations."""
    names = defs.dependencies([name])
    segments = {n: defs.segments[n].model_dump(mode="json") for n in names}
    destinations = {
        ref.to: defs.destinations[ref.to].model_dump(mode="json")
        for ref in defs.segments[name].destinations
        if ref.to in defs.destinations
    }
    metrics = {k: m.model_dump(mode="json") for k, m in sorted(defs.metrics.items())}
    text = json.dumps([segments, destinations, metrics], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Scheduler:
    default_schedule: Schedule
    backoff: timedelta = timedelta(minutes=1)
    time_scale: float = 1.0
    segments: dict[str, SegmentStatus] = field(default_factory=dict)
    pending: list[Job] = field(default_factory=list)
    busy: dict[str, str] = field(default_factory=dict)  # account -> job id
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    # -- time ---------------------------------------------------------------------------
    def delay(self, schedule: Schedule, moment: datetime) -> timedelta:
        """Time from ``moment`` to the schedule's next run, divided by ``time_scale``."""
        return (schedule.next_after(moment) - moment) / self.time_scale

    def _schedule_of(self, defs: Definitions, name: str) -> Schedule:
        return defs.segments[name].schedule or self.default_schedule

    # -- definitions --------------------------------------------------------------------
    def load(
        self,
        defs: Definitions,
        now: datetime,
        last_runs: Mapping[str, LastRun] | None = None,
    ) -> dict[str, list[str]]:
        """Take new definitions; return the segments ``added``, ``changed`` and ``removed``.

        Only segments with destinations are scheduled (the others have nothing to sync).
        """
        with self._lock:
            wanted = [n for n, s in defs.segments.items() if s.destinations]
            report: dict[str, list[str]] = {"added": [], "changed": [], "removed": []}
            fresh: dict[str, SegmentStatus] = {}
            for name in wanted:
                schedule = self._schedule_of(defs, name)
                digest = fingerprint(defs, name)
                old = self.segments.get(name)
                status = SegmentStatus(
                    name, schedule, accounts_of(defs, name), digest, now, running=None
                )
                if old is None:
                    last = (last_runs or {}).get(name)
                    status.next_due = self._first_due(schedule, now, last)
                    status.last_status = last.status if last else None
                    report["added"].append(name)
                else:
                    status.failures, status.running = old.failures, old.running
                    status.last_status = old.last_status
                    if old.fingerprint != digest:
                        status.next_due = now  # new membership rules: sync them now
                        status.failures = 0
                        report["changed"].append(name)
                    elif old.schedule != schedule:
                        status.next_due = now + self.delay(schedule, now)
                        report["changed"].append(name)
                    else:
                        status.next_due = old.next_due
                fresh[name] = status
            report["removed"] = sorted(set(self.segments) - set(fresh))
            self.segments = fresh
            for job in self.pending:
                job.segments = tuple(n for n in job.segments if n in fresh)
                job.accounts = frozenset().union(*(fresh[n].accounts for n in job.segments))
            self.pending = [job for job in self.pending if job.segments]
            return report

    def _first_due(self, schedule: Schedule, now: datetime, last: LastRun | None) -> datetime:
        if last is None or last.status not in _DONE:
            return now
        return max(now, last.started_at + self.delay(schedule, last.started_at))

    # -- requests -----------------------------------------------------------------------
    def request(self, names: Sequence[str] | None, now: datetime, trigger: str = "http") -> Job:
        """Queue a job for ``names`` (all scheduled segments when None); an identical job
        still waiting is returned instead of queueing a second one."""
        with self._lock:
            chosen = tuple(sorted(names if names is not None else self.segments))
            unknown = [n for n in chosen if n not in self.segments]
            if unknown:
                raise KeyError(unknown[0])
            for job in self.pending:
                if job.segments == chosen and job.trigger == trigger:
                    return job
            accounts = frozenset().union(*(self.segments[n].accounts for n in chosen))
            job = Job(_job_id(), chosen, accounts, trigger, now)
            self.pending.append(job)
            return job

    # -- ticks --------------------------------------------------------------------------
    def take(self, now: datetime) -> list[Job]:
        """Jobs to start now; their accounts are marked busy until ``finish``."""
        with self._lock:
            started: list[Job] = []
            for job in list(self.pending):
                if not (job.accounts & self.busy.keys()):
                    self.pending.remove(job)
                    started.append(self._start(job, now))
            due = sorted(
                (s for s in self.segments.values() if s.next_due <= now and s.running is None),
                key=lambda s: (s.next_due, s.name),
            )
            for segment in due:
                if not (segment.accounts & self.busy.keys()):
                    job = Job(_job_id(), (segment.name,), segment.accounts, "schedule", now)
                    started.append(self._start(job, now))
            return started

    def _start(self, job: Job, now: datetime) -> Job:
        job.started_at = now
        for account in job.accounts:
            self.busy[account] = job.job_id
        for name in job.segments:
            self.segments[name].running = job.job_id
        return job

    def finish(self, job: Job, status: str, now: datetime) -> None:
        """Release the job's accounts and set its segments' next runs from ``status``."""
        with self._lock:
            for account in job.accounts:
                if self.busy.get(account) == job.job_id:
                    del self.busy[account]
            started = job.started_at or now
            for name in job.segments:
                segment = self.segments.get(name)
                if segment is None or segment.running != job.job_id:
                    continue  # removed or redefined meanwhile
                segment.running = None
                segment.last_status = status
                if status in _FAILED:
                    segment.failures += 1
                    wait = min(
                        self.backoff * 2 ** min(segment.failures - 1, 30),
                        self.delay(segment.schedule, now),
                    )
                    segment.next_due = max(segment.next_due, now + wait)
                else:
                    segment.failures = 0
                    if segment.next_due <= started:  # not re-dated by a reload meanwhile
                        segment.next_due = started + self.delay(segment.schedule, started)

    # -- views --------------------------------------------------------------------------
    def snapshot(self) -> tuple[list[SegmentStatus], list[Job], dict[str, str]]:
        """Copies of the segments, the waiting jobs and the busy accounts."""
        with self._lock:
            segments = [SegmentStatus(**vars(s)) for s in self.segments.values()]
            pending = [Job(**vars(j)) for j in self.pending]
            return segments, pending, dict(self.busy)


def _job_id() -> str:
    return "j" + uuid.uuid4().hex[:11]
