"""What the status page shows, assembled from the scheduler, the definitions and the state
store (``status_page.py`` only renders it)."""

from __future__ import annotations

from datetime import datetime, timedelta

from connector.daemon.scheduler import SegmentStatus
from connector.daemon.status_page import RunRow, SegmentRow
from connector.definitions.loader import Definitions
from connector.reconcile.state import RunRecord, StateStore
from connector.timespec import parse_instant

__all__ = ["run_rows", "segment_rows"]


def segment_rows(
    segments: list[SegmentStatus], defs: Definitions, state: StateStore
) -> list[SegmentRow]:
    """One row per scheduled segment, with its recent sizes from the run history."""
    last = state.segment_last_runs()
    rows = []
    for status in sorted(segments, key=lambda s: s.name):
        segment = defs.segments.get(status.name)
        rows.append(
            SegmentRow(
                name=status.name,
                description=segment.description if segment else "",
                schedule=str(status.schedule),
                destinations=[r.to for r in segment.destinations] if segment else [],
                next_due=None if status.running else status.next_due,
                running=status.running is not None,
                failures=status.failures,
                last_status=status.last_status,
                last_success=last[status.name].last_success_at if status.name in last else None,
                history=state.segment_history(status.name, 60),
            )
        )
    return rows


def run_rows(runs: list[RunRecord], running_since: datetime | None) -> list[RunRow]:
    """Recent runs; a run still marked running that no job of this process runs is shown
    as ``interrupted`` (a crash ended it; its confirmed batches are kept)."""
    return [_run_row(run, running_since) for run in runs]


def _run_row(run: RunRecord, running_since: datetime | None) -> RunRow:
    summary = run.summary or {}
    parts = summary.get("parts", [])
    status = run.status
    if status == "running" and (
        running_since is None
        or parse_instant(run.started_at) < running_since - timedelta(seconds=5)
    ):
        status = "interrupted"
    skipped = summary.get("skipped_segments", {})
    segments = sorted({*(p.get("segment", "") for p in parts), *skipped} - {""})
    return RunRow(
        run_id=run.run_id,
        segments=segments,
        started_at=run.started_at,
        trigger=run.trigger,
        status=status,
        duration=summary.get("duration_seconds"),
        adds=sum(p.get("adds", 0) for p in parts),
        removes=sum(p.get("removes", 0) for p in parts),
        quarantined=sum(p.get("quarantined", 0) for p in parts),
        errors=[*summary.get("errors", []), *(f"guard: {g}" for g in summary.get("guards", []))],
    )
