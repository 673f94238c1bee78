"""The set ``D`` of profiles whose results at ``T1`` may differ from the snapshot's.

A later run (``evaluation.run``), while the rollup is still the one of ``T0`` (same
instant, same watermark), evaluates its compiled rules only for the set ``D`` of profiles
that

- have events appended after the rollup's watermark (late data, whatever their time);
- have events with ``T0 <= ts <= T1`` (they entered the run's horizon);
- have events of name ``e`` with ``T0 - d <= ts <= T1 - d`` for every duration ``d`` the
  rules measure back from ``as_of`` over events ``e`` (windows, and the day counts that
  ``days_since_last`` conditions compare with): only those can leave a window or cross a
  day count (a ``not_followed_by`` ``within`` counts from the latest matching event, whose
  window is one of these; its follow-ups after ``T0`` are in ``D`` by their time);
- have a timestamp attribute that a relative condition (``within_last``,
  ``not_within_last``) compares, in ``[T0 - d, T1 - d]`` or ``[T0, T1]``;
- are new, gone, or changed in a profile column the rules read (a digest per row);
- are near a percent threshold (top/bottom_percent) at ``T0``: a thousandth of the
  profiles either side of it (kept by ``writing``), so that a threshold moving a little
  needs no second pass;
- and, for each percent threshold that moved between ``T0`` and ``T1``, the profiles whose
  ranked value lies between the two thresholds (the threshold of ``T1`` is that of the
  snapshot's values with ``D``'s replaced, computed by the same SQL as a full run's):
  those not evaluated yet are in a second pass, with the thresholds of ``T1`` given.

Every other profile has the same events in every window, the same attributes and the same
standing against every threshold at both instants, so its results are those of ``T0``.
Rules compose (``in_segment``), so the profiles of ``D`` are evaluated in full.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlglot import exp

from connector.evaluate.features import disjoint
from connector.evaluate.snapshot.planning import Plan
from connector.evaluate.snapshot.table import DIGEST, PID, digest
from connector.evaluate.sql import and_all, col, lit, norm_text, or_all, ts_lit
from connector.source import verdicts
from connector.source.schema import StoreSchema
from connector.source.store import table_expr
from connector.source.verdicts import VerdictMeta

#: bands are widened by this much each side: a day count computed in floating point may
#: flip a hair away from the exact instant
MARGIN = timedelta(seconds=1)


def _bands(
    t0: datetime, t1: datetime, durations: Iterable[timedelta]
) -> list[tuple[datetime, datetime]]:
    """``[T0 - d, T1 - d]`` for each duration (widened by ``MARGIN``), merged where they
    overlap or touch."""
    return disjoint(sorted((t0 - d - MARGIN, t1 - d + MARGIN) for d in durations))


def _near_thresholds(plan_: Plan, meta: VerdictMeta) -> list[exp.Expr]:
    """The snapshot's profiles near a threshold (``writing._neighbourhood``): strictly
    between its ``low`` and ``high`` values, its own value only when few hold it."""
    found: list[exp.Expr] = []
    for (metric, _, _), key in plan_.thresholds.items():
        value, near = meta.thresholds.get(key), meta.near.get(key)
        if value is None or near is None:
            continue
        low, high, few = near
        column = col(meta.metrics[plan_.metrics[metric]], "s")
        parts: list[exp.Expr] = [
            exp.GT(this=column.copy(), expression=lit(value if low is None else low)),
            exp.LT(this=column.copy(), expression=lit(value if high is None else high)),
        ]
        if not few:
            parts.append(exp.NEQ(this=column.copy(), expression=lit(value)))
        found.append(and_all(parts))
    return found


def _between(value: exp.Expr, low: datetime, high: datetime) -> exp.Expr:
    return exp.Between(this=value, low=ts_lit(low), high=ts_lit(high))


def changed(plan_: Plan, schema: StoreSchema, meta: VerdictMeta, t1: datetime) -> exp.Query:
    """``__pid`` of the profiles whose results at ``t1`` may differ from the snapshot's
    (``D`` but the threshold movers; see the module's docstring)."""
    lay = schema.layout
    t0 = meta.as_of
    events = table_expr(lay.events_table)
    pid = col(lay.profile_id).as_(PID, quoted=True)
    ts = exp.cast(col(lay.ts), exp.DataType.build("TIMESTAMP"))
    name = norm_text(col(lay.event))
    after = exp.GT(this=exp.column("rowid"), expression=lit(meta.watermark))
    parts: list[exp.Select] = [exp.select(pid.copy()).from_(events.copy()).where(after)]
    for low, high in _bands(t0, t1, [timedelta(0)]):  # every event between T0 and T1
        parts.append(
            exp.select(pid.copy()).from_(events.copy()).where(_between(ts.copy(), low, high))
        )
    for event, durations in sorted(plan_.windows.items()):
        for low, high in _bands(t0, t1, durations):
            parts.append(
                exp.select(pid.copy())
                .from_(events.copy())
                .where(_between(ts.copy(), low, high))
                .where(exp.EQ(this=name.copy(), expression=lit(event)))
            )
    # profile rows: new, gone, changed, or a relative timestamp crossing a bound
    now = exp.select(
        col(lay.profile_id).as_(PID, quoted=True),
        digest(meta.digest).as_(DIGEST, quoted=True),
        *[col(a) for a in plan_.attributes if a not in meta.digest],
        *[col(a) for a in meta.digest],
    ).from_(table_expr(lay.profiles_table))
    moved = _near_thresholds(plan_, meta)
    for attribute, durations in plan_.attributes.items():
        value = exp.cast(col(attribute, "p"), exp.DataType.build("TIMESTAMP"))
        for low, high in _bands(t0, t1, [timedelta(0), *durations]):
            moved.append(_between(value.copy(), low, high))
    differs = or_all(
        [
            exp.Is(this=col(PID, "p"), expression=exp.null()),
            exp.Is(this=col(PID, "s"), expression=exp.null()),
            exp.NEQ(this=col(DIGEST, "p"), expression=col(DIGEST, "s")),
            *moved,
        ]
    )
    rows = (
        exp.select(exp.func("COALESCE", col(PID, "p"), col(PID, "s")).as_(PID, quoted=True))
        .from_(now.subquery("p"))
        .join(
            exp.alias_(table_expr(verdicts.TABLE), "s"),
            on=exp.EQ(this=col(PID, "p"), expression=col(PID, "s")),
            join_type="full",
        )
        .where(differs)
    )
    query: exp.Query = rows
    for part in parts:
        query = query.union(part, distinct=True, copy=False)
    # no NULL: ``NOT IN`` a set holding NULL is never true (events may lack a profile)
    present = exp.Not(this=exp.Is(this=col(PID), expression=exp.null()))
    return exp.select(col(PID)).from_(query.subquery("__changed")).where(present)
