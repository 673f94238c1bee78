"""Build a report: check the kpis against the store, pick the cohort instant, evaluate (or
load) the cohorts, scan the window's outcomes once, measure every segment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from connector.definitions.checks import check_kpis
from connector.definitions.kpis import Kpis
from connector.definitions.loader import Definitions
from connector.errors import ConfigError
from connector.measure.cohort import Cohort, evaluate_cohorts
from connector.measure.outcomes import scan_outcomes
from connector.measure.report import Report, measure_segment
from connector.source.store import Store

__all__ = ["build_report", "default_as_of"]


def default_as_of(store: Store, kpis: Kpis) -> datetime:
    """The newest cohort instant whose whole window the data covers: the data's last
    event minus the window."""
    latest = store.discover().latest_event
    if latest is None:
        raise ConfigError(
            "the customer store has no events, so there is nothing to measure "
            "(give --as-of to measure a cohort anyway)",
            file="--as-of",
        )
    moment: datetime = latest - kpis.window.delta
    return moment


def build_report(
    store: Store,
    defs: Definitions,
    names: Sequence[str],
    *,
    kpis: Kpis,
    as_of: datetime,
    cohorts: Mapping[str, Cohort] | None = None,
    run_id: str | None = None,
    skipped: Mapping[str, str] | None = None,
) -> Report:
    """Measure ``names`` with cohorts at ``as_of`` (evaluated now unless given, e.g. from a
    past run) and outcomes in ``(as_of, as_of + window]``.

    Raises ``ConfigError`` (located in metrics.yaml) when the kpis do not fit the store.
    """
    schema = store.discover()
    issues = check_kpis(_with_kpis(defs, kpis), schema)
    if issues:
        raise ConfigError(issues)
    if cohorts is None:
        cohorts = evaluate_cohorts(store, defs, names, as_of) if names else {}
    outcomes = scan_outcomes(store, kpis, as_of)
    latest = schema.latest_event
    provisional = latest is None or as_of + kpis.window.delta > latest
    return Report(
        as_of=as_of,
        window=kpis.window.text,
        segments=[measure_segment(cohorts[n], outcomes, kpis) for n in names if n in cohorts],
        provisional=provisional,
        last_event=latest,
        run_id=run_id,
        skipped=dict(skipped or {}),
        window_delta=kpis.window.delta,
    )


def _with_kpis(defs: Definitions, kpis: Kpis) -> Definitions:
    return defs if kpis == defs.kpis else replace(defs, kpis=kpis)
