"""A sync job as the daemon tracks it: its record (``/jobs/{id}``), its batch progress,
and the log line that reports how it ended."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connector.daemon.logging import get_logger
from connector.daemon.scheduler import Job
from connector.reconcile.executor import Progress
from connector.reconcile.summary import RunSummary

__all__ = ["JobProgress", "JobRecord", "log_outcome"]

log = get_logger("service")


def _stamp(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None


@dataclass
class JobRecord:
    """A job as ``/jobs/{id}`` shows it."""

    job: Job
    state: str = "queued"  # queued | running | done
    run_id: str | None = None
    status: str | None = None
    exit_code: int | None = None
    finished_at: datetime | None = None
    progress: dict[str, list[int]] = field(default_factory=dict)  # destination -> [done, all]

    def to_json(self) -> dict[str, Any]:
        progress = dict(self.progress)  # the job's thread may add a destination meanwhile
        return {
            "job_id": self.job.job_id,
            "segments": list(self.job.segments),
            "trigger": self.job.trigger,
            "state": self.state,
            "requested_at": _stamp(self.job.requested_at),
            "started_at": _stamp(self.job.started_at),
            "finished_at": _stamp(self.finished_at),
            "run_id": self.run_id,
            "status": self.status,
            "exit_code": self.exit_code,
            "batches": {d: {"done": p[0], "total": p[1]} for d, p in progress.items()},
        }


class JobProgress(Progress):
    """Batch progress of one job: kept for ``/jobs/{id}`` and logged per destination."""

    def __init__(self, record: JobRecord) -> None:
        self.record = record

    def start(self, destination: str, batches: int) -> None:
        self.record.progress[destination] = [0, batches]
        log.info("sending batches", destination=destination, batches=batches)

    def advance(self, destination: str, batches: int = 1) -> None:
        self.record.progress.setdefault(destination, [0, 0])[0] += batches


def log_outcome(
    summary: RunSummary | None, status: str, duration: float, retry_at: dict[str, datetime]
) -> None:
    """One line per finished job: ``sync finished`` (info), ``sync quarantined|guard|
    stopped`` (warning) or ``sync failed; backing off`` (error, with ``retry_at``)."""
    fields: dict[str, Any] = {"status": status, "duration_seconds": round(duration, 3)}
    if summary is not None:
        fields |= {
            "run_id": summary.run_id,
            "exit_code": summary.exit_code,
            "added": sum(p.adds for p in summary.parts),
            "removed": sum(p.removes for p in summary.parts),
            "quarantined": sum(p.quarantined for p in summary.parts),
            "api_calls": summary.total_api_calls,
        }
        if summary.errors:
            fields["errors"] = summary.errors
        if summary.guards:
            fields["guards"] = summary.guards
        if summary.skipped_segments:
            fields["skipped"] = summary.skipped_segments
    if status in ("failed", "error"):
        retry = {n: t.isoformat(timespec="seconds") + "Z" for n, t in retry_at.items()}
        log.error("sync failed; backing off", retry_at=retry, **fields)
    elif status in ("guard", "quarantined", "stopped"):
        log.warning(f"sync {status}", **fields)
    else:
        log.info("sync finished", **fields)
