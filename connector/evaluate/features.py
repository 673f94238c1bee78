"""The shared scan: every event aggregate that any rule of the run needs, computed in one
pass over ``events`` with conditional aggregation (``agg(...) FILTER (WHERE ...)``) grouped
by profile.

Identical aggregates used by several segments become one column. Two shapes need a second
grouping level over the same filtered events: ``per`` conditions (grouped by profile and
the ``per`` property, one sub-query per ``per`` property) and ``not_followed_by`` with its
own ``within`` (a join of the follow-up events to each profile's latest matching event).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlglot import exp

from connector.definitions.conditions import PropertyCondition
from connector.evaluate import keyed
from connector.evaluate.predicates import comparison
from connector.evaluate.rollup import (
    VALUE_OF,
    Part,
    combine,
    exact_sum,
    feature_value,
    group_part,
    part_value,
    parts_of,
    sum_value,
    verdict_part,
)
from connector.evaluate.sql import (
    and_all,
    as_bool,
    col,
    compare_all,
    lit,
    norm_text,
    or_all,
    ts_lit,
)
from connector.source.schema import ColumnType, StoreSchema
from connector.source.store import table_expr

__all__ = ["DR", "Aggregate", "EventFilter", "FeatureScan", "compare_all"]

EV = "__ev"  # CTE of the events the run needs, normalised
FEAT = "__feat"  # prefix of the CTEs of per-profile aggregates (__feat0, __feat1, …)
PID = "__pid"
NAME = "__name"
TS = "__ts"
NEW = "__new"  # in the rollup's delta rows: added (TRUE) or gone (FALSE)
INC = "__inc"  # CTE of the aggregates computed from the rollup
DR = "__dr"  # CTE of the rows added since the rollup or gone from its windows (materialised)
ROLLUP_TABLE = "segsync_rollup"


@dataclass(frozen=True)
class EventFilter:
    """Which events an aggregate looks at: a (normalised) name, property filters, a window."""

    event: str
    where: tuple[PropertyCondition, ...] = ()
    since: datetime | None = None


@dataclass(frozen=True)
class Aggregate:
    """One per-profile aggregate of filtered events. ``kind`` is count, sum, avg, min, max,
    distinct_count or last_ts (the latest matching timestamp)."""

    filter: EventFilter
    kind: str
    prop: str | None = None


@dataclass(frozen=True)
class _Per:
    aggregate: Aggregate
    group: str
    comparisons: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class _Top:
    """The most frequent value of ``prop`` over the filtered events (a trait)."""

    filter: EventFilter
    prop: str


@dataclass(frozen=True)
class _Follow:
    latest: Aggregate
    follow: EventFilter
    within: timedelta


def disjoint(ranges: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Sorted ranges merged where they overlap or touch (the rollup's half-open event
    ranges here, the verdict snapshot's closed bands in ``snapshot.changed``)."""
    merged: list[tuple[datetime, datetime]] = []
    for low, high in ranges:
        if merged and low <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


def _side_by_side(
    sides: list[tuple[exp.Select, list[tuple[str, str]]]], only: exp.Expr | None
) -> exp.Select:
    """One row per profile (``__pid``) of the ``sides`` (at least one; each a query of one
    row per profile) with each side's columns (source, output name): joined in a chain of
    full joins, or, with ``only`` (a table of ``__pid``: every profile of the sides is in
    it), each left-joined to it (hash tables built on the sides, probed once per profile,
    not full joins of growing chains)."""
    pids: list[exp.Expr] = []
    side = exp.select()
    if only is not None:
        side = side.from_(exp.alias_(only, "o"), copy=False)
        pids.append(col(PID, "o"))
    for tag, (query, columns) in enumerate(sides):
        alias = f"s{tag}"
        if not pids:
            side = side.from_(query.subquery(alias, copy=False), copy=False)
        else:
            key = (
                pids[0].copy()
                if only is not None
                else exp.func("COALESCE", *[p.copy() for p in pids])
            )
            side = side.join(
                query.subquery(alias, copy=False),
                on=exp.EQ(this=col(PID, alias), expression=key),
                join_type="left" if only is not None else "full",
                copy=False,
            )
        side = side.select(*[col(c, alias).as_(out, quoted=True) for c, out in columns], copy=False)
        if only is None:
            pids.append(col(PID, alias))
    pid = pids[0] if len(pids) == 1 else exp.func("COALESCE", *pids)
    return side.select(pid.as_(PID, quoted=True), copy=False)


@dataclass(frozen=True)
class RollupUse:
    """The store's rollup as a run uses it: built at ``as_of`` (``T0``), holding the
    rows up to ``watermark`` (``rowid``), with these part columns."""

    as_of: datetime
    watermark: int
    columns: frozenset[str]


@dataclass
class FeatureScan:
    """Collects the aggregates rules need and builds the CTEs that compute them."""

    schema: StoreSchema
    as_of: datetime
    aggregates: dict[Aggregate, str] = field(default_factory=dict)
    pers: dict[_Per, str] = field(default_factory=dict)
    follows: dict[_Follow, str] = field(default_factory=dict)
    tops: dict[_Top, str] = field(default_factory=dict)
    props: dict[str, str] = field(default_factory=dict)
    rollup: RollupUse | None = None
    #: a table of profile ids (``__pid``): compute the features of these profiles only
    only: str | None = None
    _decomposed: dict[Aggregate, tuple[Part, ...] | None] = field(default_factory=dict, repr=False)
    _grouped: dict[_Per, Part | None] = field(default_factory=dict, repr=False)

    def only_pids(self) -> exp.Select:
        """``SELECT __pid FROM <only>`` (the profiles the scan is restricted to)."""
        assert self.only is not None
        return exp.select(col(PID)).from_(table_expr(self.only))

    # -- registration ------------------------------------------------------------------
    def _prop(self, name: str) -> str:
        real = StoreSchema.resolve(name, self.schema.properties)
        if real is None:  # checked before compiling; keep the compiler total anyway
            raise KeyError(name)
        if real not in self.props:
            self.props[real] = f"__q{len(self.props)}"
        return real

    def resolve(self, name: str) -> str:
        """The store's name of event property ``name`` (registered for the scan)."""
        return self._prop(name)

    def _register_filter(self, flt: EventFilter) -> None:
        for cond in flt.where:
            self._prop(cond.property)

    def aggregate(self, agg: Aggregate) -> exp.Expr:
        """A reference (in the profile-level CTEs) to this aggregate's value.

        count and distinct_count are 0 for a profile without matching events; the others
        are NULL then.
        """
        self._register_filter(agg.filter)
        if agg.prop is not None:
            self._prop(agg.prop)
        alias = self.aggregates.setdefault(agg, f"__f{len(self.aggregates)}")
        ref: exp.Expr = col(alias)
        if agg.kind in ("count", "distinct_count"):
            ref = exp.func("COALESCE", ref, lit(0))
        return ref

    def per(
        self, agg: Aggregate, group: str, comparisons: tuple[tuple[str, float], ...]
    ) -> exp.Expr:
        """TRUE when, for some single value of ``group``, the aggregate passes."""
        self._register_filter(agg.filter)
        if agg.prop is not None:
            self._prop(agg.prop)
        real_group = self._prop(group)
        key = _Per(Aggregate(agg.filter, agg.kind, agg.prop), real_group, comparisons)
        alias = self.pers.setdefault(key, f"__p{len(self.pers)}")
        return as_bool(col(alias))

    def not_followed_by(
        self, latest: Aggregate, follow: EventFilter, within: timedelta | None
    ) -> exp.Expr:
        """TRUE when the latest matching event exists and no follow-up event comes after it
        (up to ``as_of``, and within ``within`` of it when given)."""
        last = self.aggregate(latest)
        present = exp.Not(this=exp.Is(this=last, expression=exp.null()))
        if within is None:
            after = self.aggregate(Aggregate(follow, "last_ts"))
            none_after = exp.or_(
                exp.Is(this=after, expression=exp.null()), exp.LTE(this=after, expression=last)
            )
            return as_bool(exp.and_(present, exp.paren(none_after)))
        self._register_filter(follow)
        alias = self.follows.setdefault(_Follow(latest, follow, within), f"__n{len(self.follows)}")
        return as_bool(exp.and_(present, exp.Is(this=col(alias), expression=exp.null())))

    def top_value(self, flt: EventFilter, prop: str) -> exp.Expr:
        """A reference to the profile's most frequent non-NULL, non-blank value of ``prop``
        over the events of ``flt`` (text trimmed and lower-cased; ties: the smallest);
        NULL when there is none."""
        self._register_filter(flt)
        real = self._prop(prop)
        alias = self.tops.setdefault(_Top(flt, real), f"__tv{len(self.tops)}")
        return col(alias)

    # -- SQL ----------------------------------------------------------------------------
    def _filter_sql(
        self, flt: EventFilter, table: str | None = None, *, with_name: bool = True
    ) -> exp.Expr:
        """The filter as a predicate; ``with_name=False`` leaves out the event-name test
        (for CTEs that read only that event's rows)."""
        parts: list[exp.Expr] = []
        if with_name:
            parts.append(exp.EQ(this=col(NAME, table), expression=lit(flt.event)))
        if flt.since is not None:
            parts.append(exp.GTE(this=col(TS, table), expression=ts_lit(flt.since)))
        for cond in flt.where:
            real = self._prop(cond.property)
            parts.append(
                comparison(
                    cond.op,
                    cond.value,
                    col(self.props[real], table),
                    self.schema.properties[real],
                    self.as_of,
                    case_sensitive=cond.case_sensitive,
                )
            )
        return and_all(parts)

    def filter_sql(self, flt: EventFilter) -> exp.Expr:
        return self._filter_sql(flt)

    def _value_sql(
        self, agg: Aggregate, table: str | None = None, cond: exp.Expr | None = None
    ) -> exp.Expr:
        """The aggregate over the rows it is given, those passing ``cond`` when given."""

        def only(func: exp.Expr) -> exp.Expr:
            if cond is None:
                return func
            return exp.Filter(this=func, expression=exp.Where(this=cond.copy()))

        if agg.kind == "count":
            return only(exp.Count(this=exp.Star()))
        if agg.kind == "last_ts":
            return only(exp.Max(this=col(TS, table)))
        assert agg.prop is not None
        real = self._prop(agg.prop)
        arg: exp.Expr = col(self.props[real], table)
        if agg.kind == "distinct_count":
            if self.schema.properties[real] is ColumnType.TEXT:
                arg = norm_text(arg)
            return only(exp.Count(this=exp.Distinct(expressions=[arg])))
        if agg.kind == "sum":
            return sum_value(only(exact_sum(arg)))
        if agg.kind == "avg":
            return sum_value(only(exact_sum(arg)), only(exp.Count(this=arg.copy())))
        func = {"min": exp.Min, "max": exp.Max}[agg.kind]
        return only(func(this=exp.cast(arg, exp.DataType.build("DOUBLE"))))

    def _agg_sql(
        self, agg: Aggregate, table: str | None = None, *, with_name: bool = True
    ) -> exp.Expr:
        if not with_name and not agg.filter.where and agg.filter.since is None:
            return self._value_sql(agg, table)  # every row it reads matches
        cond = self._filter_sql(agg.filter, table, with_name=with_name)
        return self._value_sql(agg, table, cond)

    def _feat_ctes(self) -> dict[str, list[tuple[Aggregate, str]]]:
        """Which CTE computes each aggregate: one CTE per event name, reading only that
        event's rows (so each row meets only the aggregates of its own event), and one per
        distinct_count, reading only its matching rows (DISTINCT would otherwise group
        every row by profile and value)."""
        keys: dict[tuple[str, str], str] = {}
        ctes: dict[str, list[tuple[Aggregate, str]]] = {}
        served = self.served()
        for agg, alias in self.aggregates.items():
            if agg in served:
                continue
            distinct = agg.kind == "distinct_count"
            key = ("distinct", alias) if distinct else ("event", agg.filter.event)
            name = keys.setdefault(key, f"{FEAT}{len(keys)}")
            ctes.setdefault(name, []).append((agg, alias))
        return ctes

    def _feat_cte(self, items: list[tuple[Aggregate, str]]) -> exp.Select:
        source = exp.to_identifier(EV, quoted=True)
        first = items[0][0]
        if first.kind == "distinct_count":
            ((agg, alias),) = items
            return (
                exp.select(col(PID), self._value_sql(agg).as_(alias, quoted=True))
                .from_(source)
                .where(self._filter_sql(agg.filter))
                .group_by(col(PID))
            )
        select = exp.select(col(PID))
        for agg, alias in items:
            select = select.select(
                self._agg_sql(agg, with_name=False).as_(alias, quoted=True), copy=False
            )
        name_is = exp.EQ(this=col(NAME), expression=lit(first.filter.event))
        select = select.from_(source, copy=False).where(name_is, copy=False)
        if all(agg.filter.where or agg.filter.since is not None for agg, _ in items):
            # rows that no aggregate here counts change nothing: a profile left without
            # rows reads as count 0 and NULL otherwise, as it would with them
            wanted = [self._filter_sql(agg.filter, with_name=False) for agg, _ in items]
            select = select.where(or_all(wanted), copy=False)
        return select.group_by(col(PID), copy=False)

    def _cte_of(self, agg: Aggregate) -> str:
        if agg in self._scalar_served():
            return INC
        if agg in self.served():
            return f"__k{self.aggregates[agg]}"
        for name, items in self._feat_ctes().items():
            if any(item == agg for item, _ in items):
                return name
        raise KeyError(agg)  # pragma: no cover

    def _events_cte(self) -> exp.Select:
        # every consumer selects its own event names, so no name filter here (it would cost
        # a join per consumer once this CTE is inlined)
        return self._events_select(self.as_of)

    def _events_select(
        self, until: datetime, extra: tuple[exp.Expr, ...] = (), new: bool | None = None
    ) -> exp.Select:
        """Events with ``ts <= until`` (and ``extra``), normalised: profile, name, ts, the
        properties the run needs (and ``__new`` when given)."""
        lay = self.schema.layout
        ts = exp.cast(col(lay.ts), exp.DataType.build("TIMESTAMP"))
        name = norm_text(col(lay.event))
        select = exp.select(
            col(lay.profile_id).as_(PID, quoted=True),
            name.as_(NAME, quoted=True),
            ts.as_(TS, quoted=True),
            *[col(real).as_(alias, quoted=True) for real, alias in self.props.items()],
        ).from_(table_expr(lay.events_table))
        if new is not None:
            select = select.select(lit(new).as_(NEW, quoted=True), copy=False)
        select = select.where(exp.LTE(this=ts.copy(), expression=ts_lit(until)), copy=False)
        if self.only is not None:
            select = select.where(col(lay.profile_id).isin(query=self.only_pids()), copy=False)
        for predicate in extra:
            select = select.where(predicate, copy=False)
        return select

    # -- rollups ------------------------------------------------------------------------
    def decompose(self, agg: Aggregate) -> tuple[Part, ...] | None:
        """The rollup parts ``agg`` is computed from, or ``None`` if it does not decompose."""
        if agg not in self._decomposed:
            window = None if agg.filter.since is None else self.as_of - agg.filter.since
            prop = self._prop(agg.prop) if agg.prop is not None else None
            flt = agg.filter
            self._decomposed[agg] = parts_of(flt.event, flt.where, window, agg.kind, prop)
        return self._decomposed[agg]

    def group_part(self, per: _Per) -> Part | None:
        """The keyed rollup part a ``per`` condition is computed from, if any."""
        if per not in self._grouped:
            agg = per.aggregate
            window = None if agg.filter.since is None else self.as_of - agg.filter.since
            prop = self._prop(agg.prop) if agg.prop is not None else None
            flt = agg.filter
            found = group_part(flt.event, flt.where, window, agg.kind, prop, per.group)
            self._grouped[per] = found
        return self._grouped[per]

    def verdict_part(self, per: _Per) -> Part | None:
        """The value part (``gv``) keeping a ``per`` condition's verdict, if any."""
        grouped = self.group_part(per)
        if grouped is None:
            return None
        return verdict_part(grouped, per.aggregate.kind, per.comparisons)

    def parts(self) -> dict[str, Part]:
        """Every part the run's decomposable aggregates and ``per`` conditions need."""
        found: dict[str, Part] = {}
        for agg in self.aggregates:
            for part in self.decompose(agg) or ():
                found[part.column] = part
        for per in self.pers:
            verdict = self.verdict_part(per)
            if verdict is not None:
                found[verdict.column] = verdict
                found[verdict.source.column] = verdict.source
        return found

    def served(self) -> dict[Aggregate, tuple[Part, ...]]:
        """The aggregates computed from the rollup (all their parts are in it)."""
        if self.rollup is None:
            return {}
        out: dict[Aggregate, tuple[Part, ...]] = {}
        for agg in self.aggregates:
            parts = self.decompose(agg)
            if parts and all(p.column in self.rollup.columns for p in parts):
                out[agg] = parts
        return out

    def served_pers(self) -> dict[_Per, Part]:
        """The ``per`` conditions read from the rollup: their verdict parts (``gv``), with
        the per-group part (``g``) they are recomputed from."""
        if self.rollup is None:
            return {}
        out: dict[_Per, Part] = {}
        for per in self.pers:
            verdict = self.verdict_part(per)
            if verdict is None:
                continue
            if {verdict.column, verdict.source.column} <= self.rollup.columns:
                out[per] = verdict
        return out

    def part_filter(self, part: Part, at: datetime | None) -> EventFilter:
        """The part's events at ``at`` (``None``: whatever their time)."""
        since = None if part.window is None or at is None else at - part.window
        return EventFilter(part.event, part.where, since)

    def _register_parts(self, parts: list[Part]) -> None:
        """Every property the parts read (before the event rows are selected)."""
        for part in parts:
            self._register_filter(self.part_filter(part, self.as_of))
            for name in (part.prop, part.group):
                if name is not None:
                    self._prop(name)

    def build_parts(self, parts: list[Part]) -> tuple[exp.Select, dict[str, exp.Select]]:
        """The rollup from scratch at ``as_of``: one row per profile, one column per scalar
        or value part; and per keyed part, its table."""
        self._register_parts(parts)
        select = exp.select(col(PID))
        wanted = []
        for part in parts:
            if part.keyed or part.kind == "gv":  # gv: from the groups (_with_verdicts)
                continue
            flt = self._filter_sql(self.part_filter(part, self.as_of))
            wanted.append(flt.copy())
            value = part_value(part.kind, self._part_value(part), col(TS))
            select = select.select(
                exp.Filter(this=value, expression=exp.Where(this=flt)).as_(part.column),
                copy=False,
            )
        rows = self._events_select(self.as_of).subquery("__e")
        tables = {p.table: keyed.build(self, p, rows) for p in parts if p.keyed}
        main = (
            select.from_(rows.copy(), copy=False)
            .where(or_all(wanted), copy=False)
            .group_by(col(PID), copy=False)
        )
        by_group: dict[str, list[Part]] = {}
        for part in parts:
            if part.kind == "gv":
                by_group.setdefault(part.source.column, []).append(part)
        if not by_group:
            return main, tables
        return self._with_verdicts(main, parts, by_group, rows), tables

    def _with_verdicts(
        self, main: exp.Select, parts: list[Part], by_group: dict[str, list[Part]], rows: exp.Expr
    ) -> exp.Select:
        """``main`` (per profile, the scalar parts) joined with the ``gv`` parts' verdicts,
        computed per ``g`` part from the events (``keyed.verdicts``)."""
        pids = [col(PID, "m")]
        select = exp.select(
            *[col(p.column, "m") for p in parts if not p.keyed and p.kind != "gv"]
        ).from_(main.subquery("m", copy=False), copy=False)
        for index, verdicts in enumerate(by_group.values()):
            alias = f"v{index}"
            values = keyed.verdicts(self, verdicts[0].source, verdicts, rows)
            on = exp.EQ(this=col(PID, alias), expression=exp.func("COALESCE", *pids))
            select = select.join(
                values.subquery(alias, copy=False), on=on, join_type="full", copy=False
            )
            select = select.select(*[col(p.column, alias) for p in verdicts], copy=False)
            pids = [*pids, col(PID, alias)]
        pid = exp.func("COALESCE", *[p.copy() for p in pids]).as_(PID, quoted=True)
        return select.select(pid, copy=False)

    def _part_value(self, part: Part) -> exp.Expr | None:
        """What a part aggregates: its property (normalised as the keyed ``dv`` keeps it,
        for ``dc``)."""
        if part.kind == "dc":
            assert part.prop is not None
            return keyed.value_of(self, part.prop)
        return self._part_prop(part)

    def _part_prop(self, part: Part, table: str | None = None) -> exp.Expr | None:
        if part.prop is None:
            return None
        real = self._prop(part.prop)
        return col(self.props[real], table)

    def delta_rows(self, parts: list[Part]) -> exp.Query:
        """The event rows a rollup at ``rollup.as_of`` misses at ``as_of`` (``__new``):
        those after it and those appended since (late data); and the rows it counted that
        left some window of ``parts`` (``NOT __new``), each row once."""
        use = self.rollup
        assert use is not None and use.as_of <= self.as_of
        self._register_parts(parts)
        t0, t1 = use.as_of, self.as_of
        ts = col(TS)
        added_rows = [
            self._events_select(t1, (exp.GT(this=ts.copy(), expression=ts_lit(t0)),), True),
            self._events_select(
                t0, (exp.GT(this=exp.column("rowid"), expression=lit(use.watermark)),), True
            ),
        ]
        windows = {
            p.window for p in parts if p.window is not None and p.kind in ("c", "n", "s", "g", "gv")
        }
        rows: exp.Query = added_rows[0].union(added_rows[1], distinct=False, copy=False)
        for low, high in disjoint(sorted((t0 - w, t1 - w) for w in windows)):
            gone = self._events_select(
                t0,
                (
                    exp.LTE(this=exp.column("rowid"), expression=lit(use.watermark)),
                    exp.GTE(this=ts.copy(), expression=ts_lit(low)),
                    exp.LT(this=ts.copy(), expression=ts_lit(high)),
                ),
                False,
            )
            rows = rows.union(gone, distinct=False, copy=False)
        return rows

    def advance_tables(self, parts: list[Part]) -> dict[str, exp.Select]:
        """Per keyed part, its table at ``as_of`` (from the stored one and the delta)."""
        keyed_parts = [p for p in parts if p.keyed]
        if not keyed_parts:
            return {}
        rows = self.delta_rows(parts).subquery("__e")
        return {p.table: keyed.advance(self, p, rows) for p in keyed_parts}

    def advance_parts(self, parts: list[Part], source: exp.Expr | None = None) -> exp.Select:
        """The rollup's scalar parts at ``as_of``: the stored ones (at ``rollup.as_of``)
        plus the added events, minus the events that left a window; value parts
        (``VALUE_OF``) recomputed for the profiles the change touches. ``source``: the
        delta rows (``delta_rows``) when they are a CTE already."""
        use = self.rollup
        assert use is not None and use.as_of <= self.as_of
        t0, t1 = use.as_of, self.as_of
        ts = col(TS)
        rows = source if source is not None else self.delta_rows(parts).subquery("__e")
        # per event name: its parts' aggregates over its rows only (a row meets only the
        # filters of its own event's parts, not every part's)
        by_event: dict[str, tuple[list[exp.Expr], list[exp.Expr]]] = {}
        combined: list[exp.Expr] = []
        touched: list[exp.Select] = []
        for index, part in enumerate(parts):
            if part.keyed:
                continue
            if part.kind == "gv":  # the verdict of T0 unless the profile's groups changed
                touched.append(keyed.touched_verdicts(self, part, rows))
                combined.append(self._touched_or_kept(part, len(touched) - 1))
                continue
            if part.kind in VALUE_OF.values():
                # the value at T0 unless the change touched the profile: then recomputed
                touched.append(keyed.touched_values(self, part.source, rows))
                combined.append(self._touched_or_kept(part, len(touched) - 1))
                continue
            value = self._part_prop(part)
            aggregates, wanted = by_event.setdefault(part.event, ([], []))
            added = exp.and_(
                col(NEW),
                exp.paren(self._filter_sql(self.part_filter(part, t1), with_name=False)),
            )
            wanted.append(added.copy())
            aggregates.append(
                exp.Filter(
                    this=part_value(part.kind, value, ts.copy()), expression=exp.Where(this=added)
                ).as_(f"__a{index}")
            )
            gone_ref: exp.Expr | None = None
            if part.window is not None and part.kind in ("c", "n", "s"):
                left = exp.and_(
                    exp.Not(this=col(NEW)),
                    exp.paren(
                        self._filter_sql(EventFilter(part.event, part.where, None), with_name=False)
                    ),
                    exp.GTE(this=ts.copy(), expression=ts_lit(t0 - part.window)),
                    exp.LT(this=ts.copy(), expression=ts_lit(t1 - part.window)),
                )
                wanted.append(left.copy())
                aggregates.append(
                    exp.Filter(
                        this=part_value(part.kind, value.copy() if value else None, ts.copy()),
                        expression=exp.Where(this=left),
                    ).as_(f"__g{index}")
                )
                gone_ref = col(f"__g{index}", "d")
            since = None if part.window is None else t1 - part.window
            combined.append(
                combine(
                    part.kind, col(part.column, "r"), col(f"__a{index}", "d"), gone_ref, since
                ).as_(part.column)
            )
        sides: list[tuple[exp.Select, list[tuple[str, str]]]] = [
            (
                exp.select(col(PID), *aggregates, copy=False)
                .from_(rows.copy(), copy=False)
                .where(exp.EQ(this=col(NAME), expression=lit(event)), copy=False)
                .where(or_all(wanted), copy=False)
                .group_by(col(PID), copy=False),
                [(a.alias, a.alias) for a in aggregates],
            )
            for event, (aggregates, wanted) in sorted(by_event.items())
        ]
        for tag, values in enumerate(touched):
            sides.append((values, [(PID, f"__t{tag}"), ("__v", f"__v{tag}")]))
        if not sides:  # no row to add (none of the parts is scalar or a value)
            nothing = exp.select(col(PID)).from_(rows.copy()).where(exp.false())
            sides.append((nothing.group_by(col(PID)), []))
        stored: exp.Expr = exp.alias_(table_expr(ROLLUP_TABLE), "r")
        only = table_expr(self.only) if self.only is not None else None
        side = _side_by_side(sides, only)
        if only is not None:  # a row per profile of ``only``: its stored row beside
            # (the stored rows cut down to those profiles first: the join then hashes
            # a few narrow rows, not one wide row per profile of the store)
            mine = exp.select(exp.Star()).from_(table_expr(ROLLUP_TABLE), copy=False)
            mine = mine.where(col(PID).isin(query=self.only_pids()), copy=False)
            return (
                exp.select(col(PID, "d").as_(PID), *combined, copy=False)
                .from_(side.subquery("d", copy=False), copy=False)
                .join(
                    mine.subquery("r", copy=False),
                    on=exp.EQ(this=col(PID, "r"), expression=col(PID, "d")),
                    join_type="left",
                    copy=False,
                )
            )
        pid = exp.func("COALESCE", col(PID, "r"), col(PID, "d")).as_(PID)
        return (
            exp.select(pid, *combined, copy=False)
            .from_(stored, copy=False)
            .join(
                side.subquery("d", copy=False),
                on=exp.EQ(this=col(PID, "r"), expression=col(PID, "d")),
                join_type="full",
                copy=False,
            )
        )

    @staticmethod
    def _touched_or_kept(part: Part, tag: int) -> exp.Expr:
        """A value part at ``as_of``: recomputed (``__v<tag>``) for a touched profile, else
        the stored one."""
        recomputed = exp.Not(this=exp.Is(this=col(f"__t{tag}", "d"), expression=exp.null()))
        value_now = exp.Case(
            ifs=[exp.If(this=recomputed, true=col(f"__v{tag}", "d"))],
            default=col(part.column, "r"),
        )
        return value_now.as_(part.column)

    def _served_parts(self) -> list[Part]:
        parts: dict[str, Part] = {}
        for agg_parts in self.served().values():
            for part in agg_parts:
                parts[part.column] = part
        for part in self.served_pers().values():
            parts[part.column] = part
            parts[part.source.column] = part.source
        return list(parts.values())

    def _scalar_served(self) -> dict[Aggregate, tuple[Part, ...]]:
        """The aggregates read from the rollup's row per profile (those with keyed parts
        through their value parts)."""
        return self.served()

    def _inc_cte(self) -> exp.Select:
        served = self._scalar_served()
        parts: dict[str, Part] = {}
        for agg_parts in served.values():
            for part in agg_parts:
                parts[part.column] = part
        select = exp.select(col(PID))
        for agg, agg_parts in served.items():
            refs: dict[str, exp.Expr] = {p.kind: col(p.column) for p in agg_parts}
            select = select.select(
                feature_value(agg.kind, refs).as_(self.aggregates[agg], quoted=True), copy=False
            )
        for per, verdict in self.served_pers().items():
            parts[verdict.column] = verdict
            select = select.select(col(verdict.column).as_(self.pers[per], quoted=True), copy=False)
        source = exp.to_identifier(DR, quoted=True)
        inner = self.advance_parts(list(parts.values()), source)
        return select.from_(inner.subquery("__parts", copy=False), copy=False)

    def _per_cte(self, group: str, items: list[tuple[_Per, str]]) -> exp.Select:
        kind = self.schema.properties[group]
        key: exp.Expr = col(self.props[group])
        if kind is ColumnType.TEXT:
            key = norm_text(key)
        inner = exp.select(col(PID), key.as_("__grp", quoted=True))
        outer = exp.select(col(PID))
        for index, (per, alias) in enumerate(items):
            inner = inner.select(
                self._agg_sql(per.aggregate).as_(f"__g{index}", quoted=True), copy=False
            )
            value = col(f"__g{index}")
            test = compare_all(value, per.comparisons)
            if per.aggregate.kind == "count":  # a group exists only through matching events
                test = exp.and_(exp.GT(this=value.copy(), expression=lit(0)), test)
            outer = outer.select(exp.LogicalOr(this=test).as_(alias, quoted=True), copy=False)
        # Only events that match some aggregate here can make a group pass (a group without
        # any has count 0 and NULL sum/avg/min/max, which no test accepts), so the others are
        # dropped before grouping.
        matching = or_all([self._filter_sql(per.aggregate.filter) for per, _ in items])
        inner = (
            inner.from_(exp.to_identifier(EV, quoted=True))
            .where(exp.Not(this=exp.Is(this=key.copy(), expression=exp.null())))
            .where(matching)
            .group_by(col(PID), key.copy())
        )
        return outer.from_(inner.subquery("__groups")).group_by(col(PID))

    def _follow_cte(self, fol: _Follow) -> exp.Select:
        last = col(self.aggregates[fol.latest], "f")
        seconds = int(fol.within.total_seconds())
        until = exp.Add(
            this=last.copy(),
            expression=exp.Interval(this=exp.Literal.string(str(seconds)), unit=exp.var("SECOND")),
        )
        query = (
            exp.select(col(PID, "e"), exp.Count(this=exp.Star()).as_("__c", quoted=True))
            .from_(exp.alias_(exp.to_identifier(EV, quoted=True), "e"))
            .join(
                exp.alias_(exp.to_identifier(self._cte_of(fol.latest), quoted=True), "f"),
                on=exp.EQ(this=col(PID, "f"), expression=col(PID, "e")),
            )
            .where(self._filter_sql(fol.follow, "e"))
            .where(exp.GT(this=col(TS, "e"), expression=last.copy()))
            .where(exp.LTE(this=col(TS, "e"), expression=until))
        )
        if fol.latest.filter.since is not None:
            # a follow-up comes after the latest matching event, itself in its window: the
            # bound lets the scan skip older data (time-ordered tables skip it cheaply)
            since = ts_lit(fol.latest.filter.since)
            query = query.where(exp.GT(this=col(TS, "e"), expression=since), copy=False)
        return query.group_by(col(PID, "e"), copy=False)

    def _top_cte(self, top: _Top, alias: str) -> exp.Select:
        """Per profile: the value with the most matching events, ties to the smallest."""
        value: exp.Expr = col(self.props[top.prop])
        present: exp.Expr = exp.Not(this=exp.Is(this=value.copy(), expression=exp.null()))
        if self.schema.properties[top.prop] is ColumnType.TEXT:
            value = norm_text(value)
            present = exp.and_(present, exp.NEQ(this=value.copy(), expression=lit("")))
        counted = (
            exp.select(col(PID), value.as_("__v", quoted=True))
            .select(exp.Count(this=exp.Star()).as_("__c", quoted=True))
            .from_(exp.to_identifier(EV, quoted=True))
            .where(self._filter_sql(top.filter))
            .where(present)
            .group_by(col(PID), value.copy())
        )
        order = exp.Order(
            expressions=[exp.Ordered(this=col("__c"), desc=True), exp.Ordered(this=col("__v"))]
        )
        rank = exp.Window(this=exp.RowNumber(), partition_by=[col(PID)], order=order).as_(
            "__rn", quoted=True
        )
        ranked = exp.select(col(PID), col("__v"), rank).from_(counted.subquery("__counted"))
        return (
            exp.select(col(PID), col("__v").as_(alias, quoted=True))
            .from_(ranked.subquery("__ranked_values"))
            .where(exp.EQ(this=col("__rn"), expression=lit(1)))
        )

    def _raw_pers(self) -> dict[str, list[tuple[_Per, str]]]:
        """The ``per`` conditions computed from events, by ``per`` property."""
        served = self.served_pers()
        groups: dict[str, list[tuple[_Per, str]]] = {}
        for per, alias in self.pers.items():
            if per not in served:
                groups.setdefault(per.group, []).append((per, alias))
        return groups

    def ctes(self) -> list[tuple[str, exp.Select]]:
        """The CTEs, in dependency order, with the names the base query joins on ``__pid``."""
        if not (self.aggregates or self.pers or self.follows or self.tops):
            return []
        result: list[tuple[str, exp.Select]] = [(EV, self._events_cte())]
        served = self._served_parts()
        if served:
            rows = self.delta_rows(served)
            result.append((DR, exp.select(exp.Star()).from_(rows.subquery("__delta"))))
        if self._scalar_served() or self.served_pers():
            result.append((INC, self._inc_cte()))
        for name, feats in self._feat_ctes().items():
            result.append((name, self._feat_cte(feats)))
        for index, (group, items) in enumerate(self._raw_pers().items()):
            result.append((f"__per{index}", self._per_cte(group, items)))
        for fol, alias in self.follows.items():
            result.append((f"__nfb{alias}", self._follow_cte(fol)))
        for top, alias in self.tops.items():
            result.append((f"__top{alias}", self._top_cte(top, alias)))
        return result

    def joined(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """For each profile-level CTE: its name and (source column, output alias) pairs."""
        out: list[tuple[str, list[tuple[str, str]]]] = []
        served = [self.aggregates[agg] for agg in self._scalar_served()]
        served += [self.pers[per] for per in self.served_pers()]
        if served:
            out.append((INC, [(alias, alias) for alias in served]))
        for name, feats in self._feat_ctes().items():
            out.append((name, [(alias, alias) for _, alias in feats]))
        for index, items in enumerate(self._raw_pers().values()):
            out.append((f"__per{index}", [(a, a) for _, a in items]))
        for alias in self.follows.values():
            out.append((f"__nfb{alias}", [("__c", alias)]))
        for alias in self.tops.values():
            out.append((f"__top{alias}", [(alias, alias)]))
        return out
