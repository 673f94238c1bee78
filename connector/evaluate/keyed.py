"""Keyed rollup parts: aggregates that are not a few numbers per profile, each kept in a
table of its own (``Part.table``) beside the per-profile rollup, exact to the instant.

- ``dv`` (``distinct_count``): ``(__pid, __v, __ts)``, per profile and distinct non-NULL
  value (text normalised as compared), the latest timestamp of a matching event with it.
  At ``T1`` the distinct values are those whose latest timestamp is in the window, plus the
  values of the events added since;
- ``emn`` / ``emx`` (windowed ``min`` / ``max``): ``(__pid, __ts, __v)``, the matching
  events in the window that no later one beats (for min: every later event has a larger
  value). The last event holding the window's minimum is always kept, so the minimum over
  the kept events still in the window, and the events added since, is the window's;
- ``g`` (``per`` with count, sum or avg): ``(__pid, __g, c[, n, s])``, per profile and
  group (non-NULL ``per`` value, text normalised) the windowed parts, advanced like the
  scalar ones (stored + added − gone).

A run reads ``dv``/``emn``/``emx`` only for the profiles the change touches
(``touched_values``): their value parts (``VALUE_OF``) hold every other profile's value.
So with ``g`` and each ``per`` test's verdict (value part ``gv``, ``touched_verdicts``):
the touched profiles are those with delta rows of a group (matching, non-NULL group): an
added event in the window, or a counted one that left it.

The delta rows (``__pid``, ``__name``, ``__ts``, properties, ``__new``) are those of
``FeatureScan.delta_rows``: added events (``__new``) and those that left some window.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlglot import exp

from connector.evaluate.rollup import Part, combine, feature_value, part_value
from connector.evaluate.sql import and_all, col, compare_all, lit, norm_text, ts_lit
from connector.source.schema import ColumnType
from connector.source.store import table_expr

if TYPE_CHECKING:
    from connector.evaluate.features import FeatureScan

__all__ = [
    "VALUE",
    "advance",
    "build",
    "touched_values",
    "touched_verdicts",
    "value_of",
    "verdicts",
]

PID = "__pid"
TS = "__ts"
NEW = "__new"
VALUE = "__v"
GROUP = "__g"


def _not_null(value: exp.Expr) -> exp.Expr:
    return exp.Not(this=exp.Is(this=value, expression=exp.null()))


def value_of(scan: FeatureScan, name: str) -> exp.Expr:
    """Property ``name`` of the event rows as ``dv`` keeps it (text normalised)."""
    return _value(scan, name)


def _value(scan: FeatureScan, name: str, *, normalise: bool = True) -> exp.Expr:
    """Property ``name`` of the event rows (text normalised as rules compare it)."""
    real = scan.resolve(name)
    value: exp.Expr = col(scan.props[real])
    if normalise and scan.schema.properties[real] is ColumnType.TEXT:
        value = norm_text(value)
    return value


def _double(value: exp.Expr) -> exp.Expr:
    return exp.cast(value, exp.DataType.build("DOUBLE"))


def _since(part: Part, at: datetime) -> datetime | None:
    return None if part.window is None else at - part.window


def _stored(
    part: Part, since: datetime | None, *columns: str, only: exp.Select | None = None
) -> exp.Select:
    """The part's stored rows (from ``since``; of the profiles ``only`` selects)."""
    select = exp.select(*[col(c) for c in columns]).from_(table_expr(part.table), copy=False)
    if only is not None:
        select = select.where(col(PID).isin(query=only), copy=False)
    if since is not None:
        select = select.where(exp.GTE(this=col(TS), expression=ts_lit(since)), copy=False)
    return select


def _added(scan: FeatureScan, part: Part, rows: exp.Expr, *extra: exp.Expr) -> exp.Expr:
    """Delta rows added since the rollup that match the part at the scan's ``as_of``."""
    flt = scan.part_filter(part, scan.as_of)
    return and_all([col(NEW), scan.filter_sql(flt), *extra])


# -- distinct values ----------------------------------------------------------------------
def _dv_rows(scan: FeatureScan, part: Part, rows: exp.Expr) -> exp.Select:
    assert part.prop is not None
    value = _value(scan, part.prop)
    return (
        exp.select(col(PID), value.as_(VALUE, quoted=True), col(TS))
        .from_(rows.copy(), copy=False)
        .where(_added(scan, part, rows, _not_null(value.copy())))
    )


# -- suffix extremes ----------------------------------------------------------------------
def _suffix(rows: exp.Query, kind: str) -> exp.Select:
    """The rows (``__pid``, ``__ts``, ``__v``) no later row beats (ties: the last one)."""
    is_min = kind == "emn"
    order = exp.Order(
        expressions=[exp.Ordered(this=col(TS)), exp.Ordered(this=col(VALUE), desc=is_min)]
    )
    func = exp.Min if is_min else exp.Max
    later = exp.Window(
        this=func(this=col(VALUE)),
        partition_by=[col(PID)],
        order=order,
        spec=exp.WindowSpec(
            kind="ROWS",
            start="1",
            start_side="FOLLOWING",
            end="UNBOUNDED",
            end_side="FOLLOWING",
        ),
    )
    ranked = exp.select(col(PID), col(TS), col(VALUE), later.as_("__later", quoted=True)).from_(
        rows.subquery("__x", copy=False), copy=False
    )
    beats = exp.LT if is_min else exp.GT
    kept = exp.or_(
        exp.Is(this=col("__later"), expression=exp.null()),
        beats(this=col(VALUE), expression=col("__later")),
    )
    return (
        exp.select(col(PID), col(TS), col(VALUE))
        .from_(ranked.subquery("__ranked"), copy=False)
        .where(kept, copy=False)
    )


def _ext_rows(scan: FeatureScan, part: Part, rows: exp.Expr) -> exp.Select:
    assert part.prop is not None
    value = _value(scan, part.prop, normalise=False)
    return (
        exp.select(col(PID), col(TS), _double(value).as_(VALUE, quoted=True))
        .from_(rows.copy(), copy=False)
        .where(_added(scan, part, rows, _not_null(value.copy())))
    )


# -- values of the touched profiles -------------------------------------------------------
def touched_values(scan: FeatureScan, part: Part, rows: exp.Expr) -> exp.Select:
    """``(__pid, __v)``: the value at the scan's ``as_of`` of keyed part ``part`` (``dv``:
    the distinct count; ``emn``/``emx``: the window's min/max, NULL when none) for each
    profile whose value may differ from the one kept at the rollup's ``T0``: those with
    matching events added since (``__new`` delta rows) and those with a kept row that left
    the window between ``T0 − window`` and ``as_of − window``. Every other profile has the
    same events in its window at both instants."""
    assert scan.rollup is not None
    t0, t1 = scan.rollup.as_of, scan.as_of
    added = _dv_rows(scan, part, rows) if part.kind == "dv" else _ext_rows(scan, part, rows)
    touched: exp.Query = exp.select(col(PID)).from_(added.subquery("__added"), copy=False)
    only = scan.only_pids() if scan.only is not None else None
    if part.window is not None:
        left = _stored(part, t0 - part.window, PID, only=only).where(
            exp.LT(this=col(TS), expression=ts_lit(t1 - part.window)), copy=False
        )
        touched = touched.union(left, distinct=False, copy=False)
    kept = _stored(part, _since(part, t1), PID, VALUE).where(
        col(PID).isin(query=touched.copy()), copy=False
    )
    values = kept.union(
        exp.select(col(PID), col(VALUE)).from_(added.subquery("__a")), distinct=False
    ).union(
        exp.select(col(PID), exp.null().as_(VALUE, quoted=True)).from_(touched.subquery("__t")),
        distinct=False,
    )
    if part.kind == "dv":  # distinct (profile, value) pairs; the NULL of each profile not counted
        func: exp.Expr = exp.Count(this=exp.Distinct(expressions=[col(VALUE)]))
    else:
        func = (exp.Min if part.kind == "emn" else exp.Max)(this=col(VALUE))
    return (
        exp.select(col(PID), func.as_(VALUE, quoted=True))
        .from_(values.subquery("__values"), copy=False)
        .group_by(col(PID), copy=False)
    )


# -- per-group parts ----------------------------------------------------------------------
def _group_kinds(part: Part) -> tuple[str, ...]:
    return ("c",) if part.prop is None else ("c", "n", "s")


def _group_now(
    scan: FeatureScan, part: Part, rows: exp.Expr, *, touched: bool = False
) -> exp.Select:
    """``(__pid, __g, c[, n, s])`` at ``as_of``: stored + added − gone, per group; with
    ``touched``, only for the profiles with delta rows of a group (every group of theirs,
    those without delta rows too); every other profile's groups are those of ``T0``."""
    assert part.group is not None
    assert scan.rollup is not None
    t0 = scan.rollup.as_of
    t1 = scan.as_of
    key = _value(scan, part.group)
    prop = None if part.prop is None else _value(scan, part.prop, normalise=False)
    added = _added(scan, part, rows)
    gone: exp.Expr | None = None
    if part.window is not None:
        gone = and_all(
            [
                exp.Not(this=col(NEW)),
                scan.filter_sql(scan.part_filter(part, None)),
                exp.GTE(this=col(TS), expression=ts_lit(t0 - part.window)),
                exp.LT(this=col(TS), expression=ts_lit(t1 - part.window)),
            ]
        )
    delta = exp.select(col(PID), key.as_(GROUP, quoted=True))
    for kind in _group_kinds(part):
        for tag, cond in (("a", added), ("g", gone)):
            if cond is None:
                continue
            value = part_value(kind, None if prop is None else prop.copy(), col(TS))
            delta = delta.select(
                exp.Filter(this=value, expression=exp.Where(this=cond.copy())).as_(
                    f"__{tag}{kind}", quoted=True
                ),
                copy=False,
            )
    wanted = added if gone is None else exp.or_(exp.paren(added), exp.paren(gone))
    delta = (
        delta.from_(rows.copy(), copy=False)
        .where(wanted.copy(), copy=False)
        .where(_not_null(key.copy()), copy=False)
        .group_by(col(PID), key.copy(), copy=False)
    )
    since = _since(part, t1)
    combined = [
        combine(
            kind,
            col(kind, "r"),
            col(f"__a{kind}", "d"),
            None if gone is None else col(f"__g{kind}", "d"),
            since,
        ).as_(kind, quoted=True)
        for kind in _group_kinds(part)
    ]
    on = exp.and_(
        exp.EQ(this=col(PID, "r"), expression=col(PID, "d")),
        exp.EQ(this=col(GROUP, "r"), expression=col(GROUP, "d")),
    )
    stored: exp.Expr = exp.alias_(table_expr(part.table), "r")
    if touched:  # a semi-join on the (few) profiles with delta rows
        pids = (
            exp.select(col(PID))
            .from_(rows.copy(), copy=False)
            .where(wanted.copy(), copy=False)
            .where(_not_null(key.copy()), copy=False)
        )
        stored = (
            exp.select(exp.Star())
            .from_(table_expr(part.table), copy=False)
            .where(col(PID).isin(query=pids), copy=False)
            .subquery("r", copy=False)
        )
    return (
        exp.select(
            exp.func("COALESCE", col(PID, "r"), col(PID, "d")).as_(PID, quoted=True),
            exp.func("COALESCE", col(GROUP, "r"), col(GROUP, "d")).as_(GROUP, quoted=True),
            *combined,
        )
        .from_(stored, copy=False)
        .join(delta.subquery("d"), on=on, join_type="full", copy=False)
    )


def _passes(verdict: Part, grouped: Part) -> exp.Expr:
    """A group's row (``c[, n, s]``) passes the test of value part ``verdict`` (``gv``):
    as in a full run, a group exists only through matching events in the window (``c >
    0``; sum and avg are NULL without a non-NULL value, so fail)."""
    assert verdict.test is not None
    kind, comparisons = verdict.test
    value = feature_value(kind, {k: col(k) for k in _group_kinds(grouped)})
    return exp.and_(exp.GT(this=col("c"), expression=lit(0)), compare_all(value, comparisons))


def _any_passes(
    verdicts: list[Part], grouped: Part, groups: exp.Query, alias: str | None = None
) -> exp.Select:
    """Per profile of ``groups``, for each ``gv`` part: does some group pass (named
    ``alias`` if given, else the part's column)."""
    select = exp.select(col(PID))
    for verdict in verdicts:
        name = alias or verdict.column
        select = select.select(
            exp.LogicalOr(this=_passes(verdict, grouped)).as_(name, quoted=True), copy=False
        )
    return select.from_(groups.subquery("__groups", copy=False), copy=False).group_by(
        col(PID), copy=False
    )


def verdicts(scan: FeatureScan, grouped: Part, parts: list[Part], events: exp.Expr) -> exp.Select:
    """``(__pid, <gv column>...)``: each ``gv`` part of ``g`` part ``grouped`` at the scan's
    ``as_of``, from ``events`` (as ``build``); profiles without a group are absent."""
    return _any_passes(parts, grouped, build(scan, grouped, events))


def touched_verdicts(scan: FeatureScan, part: Part, rows: exp.Expr) -> exp.Select:
    """``(__pid, __v)``: the verdict of ``gv`` part ``part`` at the scan's ``as_of`` for each
    profile whose groups may differ from those kept at the rollup's ``T0``: those with delta
    rows of a group (a matching event added in the window, or a counted one gone from it,
    the group non-NULL). Every other profile has the same events in each group's window at
    both instants, so its verdict of ``T0`` stands."""
    grouped = part.source
    now = _group_now(scan, grouped, rows, touched=True)
    return _any_passes([part], grouped, now, VALUE)


# -- building and advancing ---------------------------------------------------------------
def build(scan: FeatureScan, part: Part, events: exp.Expr) -> exp.Select:
    """The part's table from scratch at the scan's ``as_of`` over ``events`` (normalised
    event rows up to ``as_of``)."""
    flt = scan.filter_sql(scan.part_filter(part, scan.as_of))
    if part.kind == "dv":
        assert part.prop is not None
        value = _value(scan, part.prop)
        return (
            exp.select(col(PID), value.as_(VALUE, quoted=True))
            .select(exp.Max(this=col(TS)).as_(TS, quoted=True))
            .from_(events.copy(), copy=False)
            .where(flt, copy=False)
            .where(_not_null(value.copy()), copy=False)
            .group_by(col(PID), value.copy())
        )
    if part.kind in ("emn", "emx"):
        assert part.prop is not None
        value = _value(scan, part.prop, normalise=False)
        rows = (
            exp.select(col(PID), col(TS), _double(value).as_(VALUE, quoted=True))
            .from_(events.copy(), copy=False)
            .where(flt, copy=False)
            .where(_not_null(value.copy()), copy=False)
        )
        return _suffix(rows, part.kind)
    assert part.kind == "g" and part.group is not None
    key = _value(scan, part.group)
    prop = None if part.prop is None else _value(scan, part.prop, normalise=False)
    select = exp.select(col(PID), key.as_(GROUP, quoted=True))
    for kind in _group_kinds(part):
        value = part_value(kind, None if prop is None else prop.copy(), col(TS))
        select = select.select(value.as_(kind, quoted=True), copy=False)
    return (
        select.from_(events.copy(), copy=False)
        .where(flt, copy=False)
        .where(_not_null(key.copy()), copy=False)
        .group_by(col(PID), key.copy(), copy=False)
    )


def advance(scan: FeatureScan, part: Part, rows: exp.Expr) -> exp.Select:
    """The part's table at the scan's ``as_of`` from the stored one and the delta rows;
    what can no longer count for a later run (out of the window) is left out."""
    since = _since(part, scan.as_of)
    if part.kind == "dv":
        stored = _stored(part, since, PID, VALUE, TS)
        union = stored.union(_dv_rows(scan, part, rows), distinct=False, copy=False)
        return (
            exp.select(col(PID), col(VALUE), exp.Max(this=col(TS)).as_(TS, quoted=True))
            .from_(union.subquery("__dv"), copy=False)
            .group_by(col(PID), col(VALUE))
        )
    if part.kind in ("emn", "emx"):
        stored = _stored(part, since, PID, TS, VALUE)
        return _suffix(
            stored.union(_ext_rows(scan, part, rows), distinct=False, copy=False), part.kind
        )
    now = _group_now(scan, part, rows)
    kept = exp.select(exp.Star()).from_(now.subquery("__groups"), copy=False)
    return kept.where(exp.GT(this=col("c"), expression=lit(0)))
