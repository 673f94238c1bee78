"""The latest lifts, for the daemon's status page: each segment's newest recorded cohort
whose outcome window the data already covers (else its newest, marked provisional),
measured with one outcome scan per distinct cohort instant."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from connector.definitions.checks import check_kpis
from connector.definitions.loader import Definitions
from connector.measure.cohort import Cohort
from connector.measure.outcomes import scan_outcomes
from connector.measure.report import SegmentReport, measure_segment
from connector.reconcile.idsets import decode_ids
from connector.reconcile.state import CohortRecord, StateStore
from connector.source.store import Store
from connector.timespec import format_instant, parse_instant

__all__ = ["LatestLift", "LatestLifts", "latest_lifts"]


@dataclass(frozen=True)
class LatestLift:
    segment: SegmentReport
    run_id: str
    as_of: datetime
    window: str
    provisional: bool


@dataclass(frozen=True)
class LatestLifts:
    """The measured segments, or why nothing could be measured."""

    lifts: list[LatestLift]
    note: str | None = None


def latest_lifts(
    store: Store, defs: Definitions, state: StateStore, names: Sequence[str]
) -> LatestLifts:
    """The lifts of ``names`` and, when they cannot be measured, why."""
    schema = store.discover()
    issues = check_kpis(defs, schema)
    if issues:
        return LatestLifts([], "; ".join(str(i) for i in issues))
    kpis = defs.kpis
    latest = schema.latest_event
    if latest is None:
        return LatestLifts([], "the customer store has no events")
    complete = format_instant(latest - kpis.window.delta)
    chosen: dict[str, CohortRecord] = {}
    for name in names:
        record = state.latest_cohort(name, until=complete) or state.latest_cohort(name)
        if record is not None and record.members is not None:
            chosen[name] = record
    by_instant: dict[str, list[str]] = {}
    for name, record in chosen.items():
        by_instant.setdefault(record.as_of, []).append(name)
    lifts = []
    for instant, group in sorted(by_instant.items()):
        moment = parse_instant(instant)
        outcomes = scan_outcomes(store, kpis, moment)
        for name in group:
            record = chosen[name]
            cohort = Cohort(
                name, decode_ids(record.members or b""), decode_ids(record.held_out_ids or b"")
            )
            lifts.append(
                LatestLift(
                    segment=measure_segment(cohort, outcomes, kpis),
                    run_id=record.run_id,
                    as_of=moment,
                    window=kpis.window.text,
                    provisional=moment + kpis.window.delta > latest,
                )
            )
    lifts.sort(key=lambda lift: lift.segment.name)
    return LatestLifts(lifts)
