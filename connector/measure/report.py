"""One report: per segment, both groups' KPIs, lifts, MDE and the "too small" flag, and its
JSON shape (docs/design.md, Measuring)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from connector.definitions.kpis import Kpis
from connector.measure.cohort import Cohort
from connector.measure.outcomes import Outcomes
from connector.measure.stats import GroupKpis, Lift, group_kpis, mde, mean_lift, proportion_lift
from connector.timespec import format_instant

__all__ = ["LIFTED", "Report", "SegmentReport", "measure_segment", "report_json"]

#: the KPIs that get a lift, an interval and a p-value
LIFTED = ("conversion_rate", "repeat_rate", "revenue_per_profile")


@dataclass(frozen=True)
class SegmentReport:
    name: str
    members: GroupKpis
    held_out: GroupKpis
    lift: dict[str, Lift]
    mde: float | None
    too_small: bool


@dataclass(frozen=True)
class Report:
    as_of: datetime
    window: str
    segments: list[SegmentReport]
    #: the window ends after the data's last event: outcomes may still come in
    provisional: bool
    last_event: datetime | None
    run_id: str | None = None
    #: segments that cannot be measured locally, with why
    skipped: dict[str, str] = field(default_factory=dict)
    window_delta: timedelta = timedelta(0)

    @property
    def as_of_end(self) -> datetime:
        return self.as_of + self.window_delta


def measure_segment(cohort: Cohort, outcomes: Outcomes, kpis: Kpis) -> SegmentReport:
    """Measure one cohort's members against its held-out group."""
    c1, r1 = outcomes.lookup(cohort.treated)
    c0, r0 = outcomes.lookup(cohort.control)
    treated, control = group_kpis(c1, r1), group_kpis(c0, r0)
    lift = {
        "conversion_rate": proportion_lift(
            treated.converted, treated.n, control.converted, control.n
        ),
        "repeat_rate": proportion_lift(treated.repeated, treated.n, control.repeated, control.n),
        "revenue_per_profile": mean_lift(r1, r0),
    }
    effect = mde(treated.converted, treated.n, control.converted, control.n)
    too_small = control.n == 0 or effect is None or effect > kpis.max_mde
    return SegmentReport(cohort.segment, treated, control, lift, effect, too_small)


def _group(kpis: GroupKpis) -> dict[str, Any]:
    return {
        "n": kpis.n,
        "conversion_rate": kpis.conversion_rate,
        "repeat_rate": kpis.repeat_rate,
        "revenue_per_profile": kpis.revenue_per_profile,
        "aov": kpis.aov,
    }


def _lift(lift: Lift) -> dict[str, Any]:
    return {
        "abs": lift.abs,
        "rel": lift.rel,
        "ci": list(lift.ci) if lift.ci is not None else None,
        "p": lift.p,
    }


def segment_json(segment: SegmentReport) -> dict[str, Any]:
    return {
        "name": segment.name,
        "members": _group(segment.members),
        "held_out": _group(segment.held_out),
        "lift": {name: _lift(segment.lift[name]) for name in LIFTED},
        "mde": segment.mde,
        "too_small": segment.too_small,
    }


def report_json(report: Report, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``{"as_of", "window", "segments": [...]}`` plus ``provisional``, ``last_event``,
    ``run_id`` and ``not_measured``."""
    payload: dict[str, Any] = {
        "as_of": format_instant(report.as_of),
        "window": report.window,
        "provisional": report.provisional,
        "last_event": format_instant(report.last_event) if report.last_event else None,
        "run_id": report.run_id,
        "segments": [segment_json(s) for s in report.segments],
        "not_measured": dict(sorted(report.skipped.items())),
    }
    payload.update(extra or {})
    return payload
