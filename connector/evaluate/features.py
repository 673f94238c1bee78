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
from connector.evaluate.predicates import comparison
from connector.evaluate.sql import and_all, as_bool, col, lit, norm_text, ts_lit
from connector.source.schema import ColumnType, StoreSchema
from connector.source.store import table_expr

__all__ = ["Aggregate", "EventFilter", "FeatureScan"]

EV = "__ev"  # CTE of the events the run needs, normalised
FEAT = "__feat"  # CTE of per-profile aggregates
PID = "__pid"
NAME = "__name"
TS = "__ts"


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
class _Follow:
    latest: Aggregate
    follow: EventFilter
    within: timedelta


_CMP = {"eq": exp.EQ, "neq": exp.NEQ, "gt": exp.GT, "gte": exp.GTE, "lt": exp.LT, "lte": exp.LTE}


def compare_all(
    value: exp.Expr, comparisons: tuple[tuple[str, float], ...]
) -> exp.Expr:
    """All comparisons hold; any comparison with NULL is false (so the whole is FALSE)."""
    return as_bool(and_all([_CMP[op](this=value, expression=lit(v)) for op, v in comparisons]))


@dataclass
class FeatureScan:
    """Collects the aggregates rules need and builds the CTEs that compute them."""

    schema: StoreSchema
    as_of: datetime
    aggregates: dict[Aggregate, str] = field(default_factory=dict)
    pers: dict[_Per, str] = field(default_factory=dict)
    follows: dict[_Follow, str] = field(default_factory=dict)
    props: dict[str, str] = field(default_factory=dict)

    # -- registration ------------------------------------------------------------------
    def _prop(self, name: str) -> str:
        real = StoreSchema.resolve(name, self.schema.properties)
        if real is None:  # checked before compiling; keep the compiler total anyway
            raise KeyError(name)
        if real not in self.props:
            self.props[real] = f"__q{len(self.props)}"
        return real

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

    # -- SQL ----------------------------------------------------------------------------
    def _filter_sql(self, flt: EventFilter, table: str | None = None) -> exp.Expr:
        parts: list[exp.Expr] = [exp.EQ(this=col(NAME, table), expression=lit(flt.event))]
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

    def _agg_sql(self, agg: Aggregate, table: str | None = None) -> exp.Expr:
        cond = self._filter_sql(agg.filter, table)
        value: exp.Expr
        if agg.kind == "count":
            value = exp.Count(this=exp.Star())
        elif agg.kind == "last_ts":
            value = exp.Max(this=col(TS, table))
        else:
            assert agg.prop is not None
            real = self._prop(agg.prop)
            arg: exp.Expr = col(self.props[real], table)
            if agg.kind == "distinct_count":
                if self.schema.properties[real] is ColumnType.TEXT:
                    arg = norm_text(arg)
                value = exp.Count(this=exp.Distinct(expressions=[arg]))
            else:
                func = {"sum": exp.Sum, "avg": exp.Avg, "min": exp.Min, "max": exp.Max}[agg.kind]
                value = func(this=exp.cast(arg, exp.DataType.build("DOUBLE")))
        return exp.Filter(this=value, expression=exp.Where(this=cond))

    def _events_cte(self) -> exp.Select:
        lay = self.schema.layout
        names = set()
        for agg in self.aggregates:
            names.add(agg.filter.event)
        for per in self.pers:
            names.add(per.aggregate.filter.event)
        for fol in self.follows:
            names.update((fol.latest.filter.event, fol.follow.event))
        ts = exp.cast(col(lay.ts), exp.DataType.build("TIMESTAMP"))
        name = norm_text(col(lay.event))
        select = exp.select(
            col(lay.profile_id).as_(PID, quoted=True),
            name.as_(NAME, quoted=True),
            ts.as_(TS, quoted=True),
            *[col(real).as_(alias, quoted=True) for real, alias in self.props.items()],
        ).from_(table_expr(lay.events_table))
        select = select.where(exp.LTE(this=ts.copy(), expression=ts_lit(self.as_of)))
        select = select.where(exp.In(this=name.copy(), expressions=[lit(n) for n in sorted(names)]))
        return select

    def _per_cte(self, group: str, items: list[tuple[_Per, str]]) -> exp.Select:
        kind = self.schema.properties[group]
        key: exp.Expr = col(self.props[group])
        if kind is ColumnType.TEXT:
            key = norm_text(key)
        inner = exp.select(col(PID), key.as_("__grp", quoted=True))
        outer = exp.select(col(PID))
        for index, (per, alias) in enumerate(items):
            inner = inner.select(self._agg_sql(per.aggregate).as_(f"__g{index}", quoted=True))
            value = col(f"__g{index}")
            test = compare_all(value, per.comparisons)
            if per.aggregate.kind == "count":  # a group exists only through matching events
                test = exp.and_(exp.GT(this=value.copy(), expression=lit(0)), test)
            outer = outer.select(exp.LogicalOr(this=test).as_(alias, quoted=True))
        inner = (
            inner.from_(exp.to_identifier(EV, quoted=True))
            .where(exp.Not(this=exp.Is(this=key.copy(), expression=exp.null())))
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
        return (
            exp.select(col(PID, "e"), exp.Count(this=exp.Star()).as_("__c", quoted=True))
            .from_(exp.alias_(exp.to_identifier(EV, quoted=True), "e"))
            .join(
                exp.alias_(exp.to_identifier(FEAT, quoted=True), "f"),
                on=exp.EQ(this=col(PID, "f"), expression=col(PID, "e")),
            )
            .where(self._filter_sql(fol.follow, "e"))
            .where(exp.GT(this=col(TS, "e"), expression=last.copy()))
            .where(exp.LTE(this=col(TS, "e"), expression=until))
            .group_by(col(PID, "e"))
        )

    def ctes(self) -> list[tuple[str, exp.Select]]:
        """The CTEs, in dependency order, with the names the base query joins on ``__pid``."""
        if not (self.aggregates or self.pers or self.follows):
            return []
        result: list[tuple[str, exp.Select]] = [(EV, self._events_cte())]
        if self.aggregates:
            feat = exp.select(col(PID))
            for agg, alias in self.aggregates.items():
                feat = feat.select(self._agg_sql(agg).as_(alias, quoted=True))
            result.append((FEAT, feat.from_(exp.to_identifier(EV, quoted=True)).group_by(col(PID))))
        groups: dict[str, list[tuple[_Per, str]]] = {}
        for per, alias in self.pers.items():
            groups.setdefault(per.group, []).append((per, alias))
        for index, (group, items) in enumerate(groups.items()):
            result.append((f"__per{index}", self._per_cte(group, items)))
        for fol, alias in self.follows.items():
            result.append((f"__nfb{alias}", self._follow_cte(fol)))
        return result

    def joined(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """For each profile-level CTE: its name and (source column, output alias) pairs."""
        out: list[tuple[str, list[tuple[str, str]]]] = []
        if self.aggregates:
            out.append((FEAT, [(a, a) for a in self.aggregates.values()]))
        groups: dict[str, list[str]] = {}
        for per, alias in self.pers.items():
            groups.setdefault(per.group, []).append(alias)
        for index, aliases in enumerate(groups.values()):
            out.append((f"__per{index}", [(a, a) for a in aliases]))
        for alias in self.follows.values():
            out.append((f"__nfb{alias}", [("__c", alias)]))
        return out
