"""The verdict snapshot: every profile's rule results at the rollup's instant ``T0``, kept
beside the rollup (``connector.source.verdicts``), so that a later run at ``T1 >= T0``
evaluates only the profiles whose results can differ and takes the others' from it.

A writable run evaluating at exactly the rollup's instant writes the snapshot (``write``).
A later run (``run``), while the rollup is still the one of ``T0`` (same instant, same
watermark), evaluates its compiled rules only for the set ``D`` of profiles that

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
  profiles either side of it (``_neighbourhood``), so that a threshold moving a little
  needs no second pass;
- and, for each percent threshold that moved between ``T0`` and ``T1``, the profiles whose
  ranked value lies between the two thresholds (the threshold of ``T1`` is that of the
  snapshot's values with ``D``'s replaced, computed by the same SQL as a full run's):
  those not evaluated yet are in a second pass, with the thresholds of ``T1`` given.

Every other profile has the same events in every window, the same attributes and the same
standing against every threshold at both instants, so its results are those of ``T0``.
Rules compose (``in_segment``), so the profiles of ``D`` are evaluated in full.

What cannot be bounded so runs the whole run in full (``plan`` returns ``None``):
hysteresis with previous members, traits, property conditions relative to ``as_of``
(``within_last`` in a ``where``), percent ranks of ``days_since_last``, stores without
rollups, profile ids that are NULL or repeated.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlglot import exp

from connector.definitions.conditions import (
    AllOf,
    AnyOf,
    AttributeCondition,
    Condition,
    EventCondition,
    InSegmentCondition,
    MetricCondition,
    NearCondition,
    NotOf,
    Op,
    PropertyCondition,
)
from connector.definitions.loader import Definitions
from connector.definitions.metrics import EventMetric
from connector.definitions.walk import children
from connector.evaluate.compile import METRICS, RuleCompiler, thresholds
from connector.evaluate.packing import BITS, packed
from connector.evaluate.sql import and_all, col, lit, norm_text, or_all, text_key, ts_lit
from connector.source import rollups, verdicts
from connector.source.schema import StoreSchema
from connector.source.store import Store, table_expr
from connector.source.verdicts import VerdictMeta, thresholds_key

__all__ = ["Output", "Plan", "due", "plan", "run", "write"]

#: the instant rules are compiled at for their fingerprints (any fixed one would do)
REFERENCE = datetime(2000, 1, 1)
_RELATIVE = (Op.WITHIN_LAST, Op.NOT_WITHIN_LAST)
PID = "__pid"
DIGEST = "__digest"
CHANGED = "__segsync_changed"  # temporary tables of one run
MOVERS = "__segsync_movers"
FRESH = "__segsync_fresh"
FRESH_MOVERS = "__segsync_fresh_movers"


@dataclass(frozen=True)
class Output:
    """One rule a run evaluates: its column (``__s0``, ``__x0``), and how to compile it
    (a segment by name, or an extra rule with its owner)."""

    alias: str
    rule: Condition
    segment: str | None = None
    owner: str | None = None

    def compile(self, compiler: RuleCompiler) -> exp.Expr:
        if self.segment is not None:
            return compiler.segment(self.segment)
        if self.owner is not None:
            return compiler.owned(self.owner, self.rule)
        return compiler.compile(self.rule)


@dataclass(frozen=True)
class Plan:
    """What a snapshot of these rules holds and what bounds the profiles that can change."""

    outputs: list[Output]
    #: per output, the fingerprint of its compiled rule (in output order)
    rules: list[str]
    #: ranked metric name -> fingerprint
    metrics: dict[str, str]
    #: (metric, direction, percent) of the compiler's thresholds -> key in the snapshot
    thresholds: dict[tuple[str, str, float], str]
    #: the profile columns the rules read (the digest's)
    digest: list[str]
    #: durations measured back from as_of over events (per event name, normalised), and
    #: per timestamp attribute
    windows: dict[str, frozenset[timedelta]]
    attributes: dict[str, frozenset[timedelta]]


def _relative(where: Sequence[PropertyCondition]) -> bool:
    return any(c.op in _RELATIVE for c in where)


@dataclass
class _Bounds:
    #: per event name (normalised), the durations measured back from as_of over its events
    windows: dict[str, set[timedelta]]
    #: per timestamp attribute, the durations relative conditions measure back
    attributes: dict[str, set[timedelta]]

    def window(self, event: str, duration: timedelta) -> None:
        self.windows.setdefault(text_key(event), set()).add(duration)


def _day_counts(comparisons: Sequence[tuple[str, float]]) -> set[int]:
    """The whole numbers of days at which ``floor(days since) <op> value`` can change:
    ``>= v`` flips at ``ceil(v)`` days, ``> v`` and ``<= v`` at ``floor(v) + 1``,
    ``< v`` at ``ceil(v)``, ``== v`` / ``!= v`` at ``v`` and ``v + 1``."""
    days: set[int] = set()
    for op, value in comparisons:
        low, high = math.floor(value), math.ceil(value)
        days |= {
            "gte": {high},
            "lt": {high},
            "gt": {low + 1},
            "lte": {low + 1},
            "eq": {low, low + 1, high},
            "neq": {low, low + 1, high},
        }[op]
    return {d for d in days if d >= 0}


def _bounds(
    defs: Definitions, schema: StoreSchema, rules: Sequence[Condition], hysteresis: bool
) -> _Bounds | None:
    """The durations the rules measure back from ``as_of``; ``None`` when some rule
    depends on ``as_of`` in a way not bounded here."""
    found = _Bounds({}, {})
    seen: set[str] = set()
    stack = list(rules)
    while stack:
        node = stack.pop()
        if isinstance(node, AllOf | AnyOf | NotOf):
            stack.extend(child for child, _ in children(node))
        elif isinstance(node, InSegmentCondition):
            if node.in_segment not in seen:
                seen.add(node.in_segment)
                stack.append(defs.segments[node.in_segment].rule)
        elif isinstance(node, AttributeCondition):
            if node.op in _RELATIVE:
                real = StoreSchema.resolve(node.attribute, schema.attributes)
                assert real is not None
                found.attributes.setdefault(real, set()).add(node.value.delta)
        elif isinstance(node, NearCondition):
            continue
        elif isinstance(node, EventCondition):
            follow = node.not_followed_by
            if _relative(node.where) or (follow is not None and _relative(follow.where)):
                return None
            if node.within is not None:
                found.window(node.event, node.within.delta)
            # a follow-up's own ``within`` counts from the latest matching event, not
            # from as_of: follow-ups between T0 and T1 are in D by their time
        elif isinstance(node, MetricCondition):
            if node.hysteresis and hysteresis:
                return None
            metric = defs.metrics[node.metric]
            if not isinstance(metric, EventMetric):
                continue  # an attribute: in the digest
            if _relative(metric.where):
                return None
            if metric.within is not None:
                found.window(metric.event, metric.within.delta)
            if metric.aggregate == "days_since_last":
                if node.percent() is not None:
                    return None  # every profile's value moves with as_of
                for days in _day_counts(node.comparisons()):
                    found.window(metric.event, timedelta(days=days))
        else:
            return None
    return found


def _digest_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _fingerprint(compiler: RuleCompiler, expr: exp.Expr) -> str:
    """The compiled expression and what the scan registered for it, at ``REFERENCE``."""
    scan = compiler.scan
    types = {
        name: str(kind)
        for name, kind in [*compiler.schema.attributes.items(), *compiler.schema.properties.items()]
        if name in compiler.attributes or name in scan.props
    }
    text = json.dumps(
        [
            expr.sql(dialect="duckdb"),
            [repr(item) for item in scan.aggregates.items()],
            [repr(item) for item in scan.pers.items()],
            [repr(item) for item in scan.follows.items()],
            [repr(item) for item in scan.tops.items()],
            sorted(scan.props.items()),
            [repr(item) for item in compiler.thresholds.items()],
            sorted(types.items()),
        ]
    )
    return _digest_of(text)


def plan(
    defs: Definitions,
    schema: StoreSchema,
    compiler: RuleCompiler,
    outputs: list[Output],
    *,
    hysteresis: bool,
    traits: bool,
) -> Plan | None:
    """The snapshot plan of a run's rules (compiled by ``compiler``), or ``None`` when they
    cannot use one. ``hysteresis``: the run keeps previous members (then a percent
    condition with hysteresis is not bounded); ``traits``: the run computes traits."""
    if traits or not outputs or compiler.previous_columns or compiler.ranks:
        return None
    found = _bounds(defs, schema, [o.rule for o in outputs], hysteresis)
    if found is None:
        return None
    fingerprints = []
    for output in outputs:
        reference = RuleCompiler(defs, schema, REFERENCE)
        fingerprints.append(_fingerprint(reference, output.compile(reference)))
    metrics: dict[str, str] = {}
    for metric, _, _ in compiler.thresholds:
        if metric not in metrics:
            reference = RuleCompiler(defs, schema, REFERENCE)
            metrics[metric] = _fingerprint(reference, reference.metric_value(metric))
    keys = {(m, d, p): thresholds_key(metrics[m], d, p) for (m, d, p) in compiler.thresholds}
    return Plan(
        outputs=outputs,
        rules=fingerprints,
        metrics=metrics,
        thresholds=keys,
        digest=sorted(compiler.attributes),
        windows={e: frozenset(d) for e, d in found.windows.items()},
        attributes={a: frozenset(d) for a, d in found.attributes.items()},
    )


# -- SQL pieces ----------------------------------------------------------------------------
def _digest(columns: Sequence[str], table: str | None = None) -> exp.Expr:
    """A 64-bit hash of the profile row's ``columns`` (0 when there are none)."""
    if not columns:
        return exp.func("hash", lit(0))
    return exp.func("hash", *[col(c, table) for c in columns])


def _rule_column(fingerprint: str) -> str:
    return f"v_{fingerprint}"


def _metric_column(fingerprint: str) -> str:
    return f"m_{fingerprint}"


def _unique_ids(store: Store, schema: StoreSchema) -> bool:
    """Every profile row has an id of its own (the snapshot is keyed by it)."""
    lay = schema.layout
    pid = col(lay.profile_id)
    query = exp.select(
        exp.Count(this=exp.Star()), exp.Count(this=exp.Distinct(expressions=[pid]))
    ).from_(table_expr(lay.profiles_table))
    total, distinct = store.rows(query)[0]
    return int(total) == int(distinct)


def _threshold_row(plan_: Plan, source: str, column: Callable[[str], str]) -> exp.Select | None:
    """One row: each threshold of ``plan_`` (in the order of its keys) over the values
    of the table or CTE ``source`` (column ``column(metric)`` per metric)."""
    by_metric: dict[tuple[str, str], list[tuple[float, str]]] = {}
    for index, (metric, direction, percent) in enumerate(plan_.thresholds):
        by_metric.setdefault((metric, direction), []).append((percent, f"__k{index}"))
    if not by_metric:
        return None
    row: exp.Select | None = None
    for index, ((metric, direction), cuts) in enumerate(by_metric.items()):
        part = thresholds(
            col(column(metric)), descending=direction == "top", cuts=cuts, source=source
        ).subquery(f"__tr{index}")
        row = (
            exp.select(*[col(f"__k{i}") for i in range(len(plan_.thresholds))]).from_(part)
            if row is None
            else row.join(part, join_type="cross")
        )
    return row


# -- writing ---------------------------------------------------------------------------------
def due(store: Store, compiler: RuleCompiler, plan_: Plan) -> bool:
    """Whether this run writes the snapshot: a writable store whose rollup the run uses
    is of the run's own instant, and the snapshot kept (if any) is not of it and these
    rules."""
    use = compiler.scan.rollup
    if use is None or use.as_of != compiler.as_of or not rollups.writable(store):
        return False
    meta = verdicts.read(store)
    return not _fits(meta, plan_, use.as_of, use.watermark)


def write(store: Store, compiler: RuleCompiler, plan_: Plan) -> None:
    """Keep every profile's results of this run (at the rollup's instant) as the snapshot
    (nothing when profile ids are not unique)."""
    use = compiler.scan.rollup
    assert use is not None
    schema = compiler.schema
    if not _unique_ids(store, schema):
        return
    metric_names = list(plan_.metrics)
    values = [(f"__val{i}", compiler.metric_value(m)) for i, m in enumerate(metric_names)]
    values.append((DIGEST, _digest(plan_.digest)))
    aliases = [o.alias for o in plan_.outputs]
    query = compiler.query([(o.alias, o.compile(compiler)) for o in plan_.outputs], values=values)
    rule_columns: dict[str, str] = {}
    columns: list[exp.Expr] = [col("profile_id").as_(PID, quoted=True), col(DIGEST)]
    for alias, fingerprint in zip(aliases, plan_.rules, strict=True):
        if fingerprint not in rule_columns:
            rule_columns[fingerprint] = _rule_column(fingerprint)
            columns.append(col(alias).as_(rule_columns[fingerprint], quoted=True))
    columns += packed(aliases)
    metric_columns = {plan_.metrics[m]: _metric_column(plan_.metrics[m]) for m in metric_names}
    columns += [
        col(f"__val{i}").as_(metric_columns[plan_.metrics[m]], quoted=True)
        for i, m in enumerate(metric_names)
    ]
    select = exp.select(*columns).from_(query.subquery("__run"))
    meta = VerdictMeta(
        as_of=use.as_of,
        watermark=use.watermark,
        rules=rule_columns,
        order=list(plan_.rules),
        metrics=metric_columns,
        digest=list(plan_.digest),
        thresholds=dict.fromkeys(plan_.thresholds.values()),
    )
    row = _threshold_row(plan_, verdicts.TABLE, lambda m: metric_columns[plan_.metrics[m]])
    columns_by_key = {
        key: metric_columns[plan_.metrics[metric]]
        for (metric, _, _), key in plan_.thresholds.items()
    }
    verdicts.write(store, select, meta, row, _neighbourhood(columns_by_key))


#: the neighbourhood of a threshold: this share of the profiles either side of it
NEAR = 1 / 1000


def _neighbourhood(
    columns: dict[str, str],
) -> Callable[[dict[str, float | None], int], exp.Query | None]:
    """Per threshold (key -> the snapshot's value column): the value ``NEAR`` of the
    profiles below it (``low``) and above it (``high``), and whether no more than that
    many hold its own value. A later run evaluates the profiles strictly between
    ``low`` and ``high`` with the others it must evaluate (``changed``): a threshold that
    moved a little then has no movers left for a second pass."""

    def query(values: dict[str, float | None], rows: int) -> exp.Query | None:
        size = int(rows * NEAR)
        table = table_expr(verdicts.TABLE)
        picked: list[exp.Expr] = []
        for key, value in values.items():
            if value is None:
                continue
            column = col(columns[key])
            for side, beyond, pick in ((0, exp.LT, exp.Min), (1, exp.GT, exp.Max)):
                nearest = (
                    exp.select(column.copy().as_("__v", quoted=True))
                    .from_(table.copy())
                    .where(beyond(this=column.copy(), expression=lit(value)))
                    .order_by(exp.Ordered(this=column.copy(), desc=side == 0))
                    .limit(size)
                )
                bound = exp.select(pick(this=col("__v"))).from_(nearest.subquery("__near"))
                picked.append(bound.subquery())
            ties = (
                exp.select(exp.LTE(this=exp.Count(this=exp.Star()), expression=lit(size)))
                .from_(table.copy())
                .where(exp.EQ(this=column.copy(), expression=lit(value)))
            )
            picked.append(ties.subquery())
        return exp.select(*picked) if picked else None

    return query


# -- using -------------------------------------------------------------------------------------
def _fits(meta: VerdictMeta | None, plan_: Plan, as_of: datetime, watermark: int) -> bool:
    """The snapshot belongs to the rollup of ``as_of`` / ``watermark`` and holds every rule,
    ranked metric and threshold of ``plan_``, its digest over the columns the rules read."""
    return (
        meta is not None
        and meta.as_of == as_of
        and meta.watermark == watermark
        and set(plan_.rules) <= set(meta.rules)
        and set(plan_.metrics.values()) <= set(meta.metrics)
        and set(plan_.thresholds.values()) <= set(meta.thresholds)
        and set(plan_.digest) <= set(meta.digest)
    )


#: bands are widened by this much each side: a day count computed in floating point may
#: flip a hair away from the exact instant
MARGIN = timedelta(seconds=1)


def _bands(
    t0: datetime, t1: datetime, durations: Iterable[timedelta]
) -> list[tuple[datetime, datetime]]:
    """``[T0 - d, T1 - d]`` for each duration (widened by ``MARGIN``), merged where they
    overlap or touch."""
    ranges = sorted((t0 - d - MARGIN, t1 - d + MARGIN) for d in durations)
    merged: list[tuple[datetime, datetime]] = []
    for low, high in ranges:
        if merged and low <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


def _near_thresholds(plan_: Plan, meta: VerdictMeta) -> list[exp.Expr]:
    """The snapshot's profiles near a threshold (``_neighbourhood``): strictly between
    its ``low`` and ``high`` values, its own value only when few hold it."""
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
        _digest(meta.digest).as_(DIGEST, quoted=True),
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


def _population(
    plan_: Plan, meta: VerdictMeta, mine: Callable[[dict[str, str]], exp.Select]
) -> Callable[[dict[str, str]], exp.Query]:
    """The ranked values of every profile: those ``mine`` selects (the profiles of ``D``,
    under the compiler's metric column names) and the snapshot's of every other profile."""

    def population(metric_cols: dict[str, str]) -> exp.Query:
        kept = (
            exp.select(
                *[
                    col(meta.metrics[plan_.metrics[m]]).as_(a, quoted=True)
                    for m, a in metric_cols.items()
                ]
            )
            .from_(table_expr(verdicts.TABLE))
            .where(exp.Not(this=col(PID).isin(query=exp.select(col(PID)).from_(CHANGED))))
        )
        return mine(metric_cols).union(kept, distinct=False)

    return population


def _own_values(metric_cols: dict[str, str]) -> exp.Select:
    """The evaluated profiles' ranked values, from the query's own ``__mv``."""
    return exp.select(*[col(a) for a in metric_cols.values()]).from_(
        exp.to_identifier(METRICS, quoted=True)
    )


def _fresh_values(plan_: Plan) -> Callable[[dict[str, str]], exp.Select]:
    """The first pass's ranked values (table ``FRESH``), for the second pass."""
    names = {m: f"__val{i}" for i, m in enumerate(plan_.metrics)}

    def values(metric_cols: dict[str, str]) -> exp.Select:
        return exp.select(
            *[col(names[m]).as_(a, quoted=True) for m, a in metric_cols.items()]
        ).from_(FRESH)

    return values


def _evaluated(
    compiler: RuleCompiler,
    plan_: Plan,
    population: Callable[[dict[str, str]], exp.Query] | None,
    cut_offs: dict[str, float | None] | None = None,
) -> exp.Select:
    """The rules (packed), ranked values and thresholds of the scan's ``only`` profiles
    (thresholds over ``population``, or ``cut_offs`` by threshold key)."""
    metric_names = list(plan_.metrics)
    values = [(f"__val{i}", compiler.metric_value(m)) for i, m in enumerate(metric_names)]
    values += [(f"__thv{i}", col(alias)) for i, alias in enumerate(compiler.thresholds.values())]
    outputs = [(o.alias, o.compile(compiler)) for o in plan_.outputs]
    given = None
    if cut_offs is not None:
        given = {alias: cut_offs[plan_.thresholds[k]] for k, alias in compiler.thresholds.items()}
    query = compiler.query(outputs, values=values, population=population, cut_offs=given)
    return exp.select(
        col("profile_id").as_(PID, quoted=True),
        *packed([o.alias for o in plan_.outputs]),
        *[col(alias) for alias, _ in values],
    ).from_(query.subquery("__run"))


def _thresholds_now(
    store: Store,
    compiler: RuleCompiler,
    plan_: Plan,
    population: Callable[[dict[str, str]], exp.Query],
) -> dict[str, float | None]:
    """Each threshold at the run's instant, by its key: the first pass's (every row holds
    them), or, when it evaluated no profile, those of the population."""
    keys = list(plan_.thresholds.values())
    rows = store.rows(
        exp.select(*[col(f"__thv{i}") for i in range(len(keys))]).from_(FRESH).limit(1)
    )
    if not rows:
        names = {m: f"__pv{i}" for i, m in enumerate(plan_.metrics)}
        row = _threshold_row(plan_, "__pop", names.__getitem__)
        assert row is not None
        everyone = population(names)
        rows = store.rows(row.with_("__pop", as_=everyone))
    return {
        key: None if value is None else float(value)
        for key, value in zip(keys, rows[0], strict=True)
    }


def _merged(
    compiler: RuleCompiler,
    plan_: Plan,
    meta: VerdictMeta,
    parts: list[str],
    extra_columns: Sequence[str],
) -> exp.Select:
    """Every profile's row: the evaluated results where it was evaluated (``parts``),
    the snapshot's otherwise; only the rows that qualify for some rule."""
    lay = compiler.schema.layout
    count = (len(plan_.outputs) + BITS - 1) // BITS
    bits = [f"__m{i}" for i in range(count)]
    fresh: exp.Query = exp.select(col(PID), *[col(b) for b in bits]).from_(parts[0])
    for part in parts[1:]:
        fresh = fresh.union(
            exp.select(col(PID), *[col(b) for b in bits]).from_(part), distinct=False
        )
    kept = _snapshot_bits(plan_, meta)
    rows = (
        exp.select(
            *compiler.identity(extra_columns, "p"),
            *[
                exp.func("COALESCE", col(b, "f"), stored).as_(b, quoted=True)
                for b, stored in zip(bits, kept, strict=True)
            ],
        )
        .from_(exp.alias_(table_expr(lay.profiles_table), "p"))
        .join(
            fresh.subquery("f"),
            on=exp.EQ(this=col(PID, "f"), expression=col(lay.profile_id, "p")),
            join_type="left",
        )
        .join(
            exp.alias_(table_expr(verdicts.TABLE), "s"),
            on=exp.EQ(this=col(PID, "s"), expression=col(lay.profile_id, "p")),
            join_type="left",
        )
    )
    qualifies = or_all([exp.NEQ(this=col(b), expression=lit(0)) for b in bits])
    return exp.select(exp.Star()).from_(rows.subquery("__rows")).where(qualifies)


def _same(a: float | None, b: float | None) -> bool:
    return a == b or (a is None and b is None)


def _movers(plan_: Plan, meta: VerdictMeta, now: dict[str, float | None]) -> exp.Select | None:
    """The profiles outside ``D`` whose standing against a moved threshold may change."""
    conditions: list[exp.Expr] = []
    for (metric, direction, _), key in plan_.thresholds.items():
        before, after = meta.thresholds[key], now[key]
        if _same(before, after):
            continue
        value = col(meta.metrics[plan_.metrics[metric]])
        given = [t for t in (before, after) if t is not None]
        if len(given) == 2:
            conditions.append(exp.Between(this=value, low=lit(min(given)), high=lit(max(given))))
        else:  # from or to "nobody": those beyond the one threshold
            beyond = exp.GTE if direction == "top" else exp.LTE
            conditions.append(beyond(this=value, expression=lit(given[0])))
    if not conditions:
        return None
    return (
        exp.select(col(PID))
        .from_(table_expr(verdicts.TABLE))
        .where(or_all(conditions))
        .where(exp.Not(this=col(PID).isin(query=exp.select(col(PID)).from_(CHANGED))))
    )


def _snapshot_bits(plan_: Plan, meta: VerdictMeta) -> list[exp.Expr]:
    """The snapshot's results packed in this run's order (its own packed columns when the
    order is the same)."""
    aliases = [o.alias for o in plan_.outputs]
    if meta.order == plan_.rules:
        return [col(f"__m{i}", "s") for i in range((len(aliases) + BITS - 1) // BITS)]
    stored = [meta.rules[f] for f in plan_.rules]
    return [e.unalias() for e in packed(stored, "s")]


def run(
    store: Store,
    compiler: RuleCompiler,
    plan_: Plan,
    extra_columns: Sequence[str],
    *,
    order: bool,
) -> dict[str, Any] | None:
    """The run's rows (as ``evaluate``'s query returns them; ``order``: sorted by profile
    id) from the snapshot and the profiles that can change, or ``None`` when the store
    keeps no snapshot for these rules and the rollup the run uses."""
    use = compiler.scan.rollup
    if use is None or use.as_of > compiler.as_of:
        return None
    meta = verdicts.read(store)
    if meta is None or not _fits(meta, plan_, use.as_of, use.watermark):
        return None
    if any(math.isnan(v) for v in meta.thresholds.values() if v is not None):
        return None  # NaN sorts above every number in SQL, not in Python: not bounded here
    schema = compiler.schema
    if not _unique_ids(store, schema):
        return None
    con: Any = getattr(store, "con")  # noqa: B009 (DuckDB only)
    temporary = [CHANGED, FRESH, MOVERS, FRESH_MOVERS]
    scan = compiler.scan
    try:
        query = changed(plan_, schema, meta, compiler.as_of)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {CHANGED} AS " + store.sql(query))
        scan.only = CHANGED
        first = _evaluated(compiler, plan_, _population(plan_, meta, _own_values))
        con.execute(f"CREATE OR REPLACE TEMP TABLE {FRESH} AS " + store.sql(first))
        parts = [FRESH]
        if plan_.thresholds:
            population = _population(plan_, meta, _fresh_values(plan_))
            now = _thresholds_now(store, compiler, plan_, population)
            if any(math.isnan(v) for v in now.values() if v is not None):
                return None
            movers = _movers(plan_, meta, now)
            if movers is not None:
                con.execute(f"CREATE OR REPLACE TEMP TABLE {MOVERS} AS " + store.sql(movers))
                if con.execute(f"SELECT count(*) FROM {MOVERS}").fetchone()[0]:
                    scan.only = MOVERS
                    second = _evaluated(compiler, plan_, None, now)
                    con.execute(
                        f"CREATE OR REPLACE TEMP TABLE {FRESH_MOVERS} AS " + store.sql(second)
                    )
                    parts.append(FRESH_MOVERS)
        merged = _merged(compiler, plan_, meta, parts, extra_columns)
        if order:
            merged = merged.order_by(col("profile_id"), copy=False)
        return store.columns(merged)
    finally:
        scan.only = None
        for name in temporary:
            con.execute(f"DROP TABLE IF EXISTS temp.{name}")
