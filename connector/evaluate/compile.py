"""Segment rules compiled to one SQL query (a sqlglot tree) that evaluates them all.

Layers, each a CTE:

    __ev, __feat, __per*, __nfb*   the shared event scan (``features.py``)
    __base                         profiles LEFT JOIN the per-profile aggregates
    __mv, __thr*, __rank*          the top/bottom_percent metrics' values (narrow, held in
                                   memory) and their thresholds / CUME_DIST per value
    __ranked                       __base + the thresholds
    final SELECT                   profile id, email, consent, one TRUE/FALSE column per rule

Every node compiles to an expression that is TRUE or FALSE, never NULL (docs/design.md, Semantics).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

from sqlglot import exp

from connector.definitions.conditions import (
    AllOf,
    AnyOf,
    AttributeCondition,
    Condition,
    EspCondition,
    EventCondition,
    InSegmentCondition,
    MetricCondition,
    NearCondition,
    NotOf,
    PropertyCondition,
)
from connector.definitions.loader import Definitions
from connector.definitions.metrics import AttributeMetric, EventMetric
from connector.definitions.walk import Path, children
from connector.definitions.yaml_source import format_path
from connector.errors import ConfigError
from connector.evaluate.features import DR, EV, Aggregate, EventFilter, FeatureScan, compare_all
from connector.evaluate.percent_cuts import band_threshold, cume_dist, sure, thresholds
from connector.evaluate.predicates import comparison
from connector.evaluate.sql import and_all, as_bool, col, lit, not_, or_all, sql_type, text_key
from connector.source.schema import ColumnType, StoreSchema
from connector.source.store import table_expr
from connector.timespec import Duration

__all__ = ["EARTH_RADIUS_KM", "RuleCompiler", "Trace", "thresholds"]

#: mean Earth radius used for great-circle (haversine) distances
EARTH_RADIUS_KM = 6371.0
BASE = "__base"
METRICS = "__mv"  # the ranked / cut metrics' values per profile
#: the ranked metrics' values of the whole population when a run evaluates only some
#: profiles (``population`` of ``RuleCompiler.query``)
POPULATION = "__mvall"
RANKED = "__ranked"


@dataclass
class Trace:
    """For ``explain``: per node path, its TRUE/FALSE expression and the value it tested."""

    results: dict[Path, exp.Expr] = field(default_factory=dict)
    values: dict[Path, exp.Expr] = field(default_factory=dict)


class RuleCompiler:
    """Compiles rules of one run against one store schema and ``as_of``."""

    def __init__(
        self,
        defs: Definitions,
        schema: StoreSchema,
        as_of: datetime,
        previous: Mapping[str, Sequence[Any]] | None = None,
    ) -> None:
        self.defs = defs
        self.schema = schema
        self.as_of = as_of
        #: per segment, the profile ids it qualified at its last sync run (hysteresis)
        self.previous = previous or {}
        #: segment -> column telling whether the profile is in ``previous`` for it
        self.previous_columns: dict[str, str] = {}
        #: the segment whose rule is being compiled (hysteresis uses its previous members)
        self.owner: str | None = None
        self.scan = FeatureScan(schema, as_of)
        self.attributes: set[str] = set()
        self.ranks: dict[tuple[str, str], str] = {}  # cume_dist columns (for explain)
        #: (metric, top|bottom, percent) -> column of the threshold value
        self.thresholds: dict[tuple[str, str, float], str] = {}
        self._segments: dict[str, exp.Expr] = {}

    # -- nodes --------------------------------------------------------------------------
    def compile(
        self, node: Condition, path: Path = ("rule",), trace: Trace | None = None
    ) -> exp.Expr:
        """A TRUE/FALSE expression for ``node`` over the ``__ranked`` columns."""
        result = self._node(node, path, trace)
        if trace is not None:
            trace.results[path] = result
        return result

    def _node(self, node: Condition, path: Path, trace: Trace | None) -> exp.Expr:
        if isinstance(node, AllOf | AnyOf):
            parts = [
                self.compile(child, child_path, trace) for child, child_path in children(node, path)
            ]
            return and_all(parts) if isinstance(node, AllOf) else or_all(parts)
        if isinstance(node, NotOf):
            ((child, child_path),) = list(children(node, path))
            return not_(self.compile(child, child_path, trace))
        if isinstance(node, AttributeCondition):
            return self._attribute(node, path, trace)
        if isinstance(node, EventCondition):
            return self._event(node, path, trace)
        if isinstance(node, MetricCondition):
            return self._metric(node, path, trace)
        if isinstance(node, NearCondition):
            distance = self._distance(node)
            if trace is not None:
                trace.values[path] = distance
            near = as_bool(
                exp.LTE(this=distance.copy(), expression=lit(float(node.near.radius_km)))
            )
            box = self._box(node)
            if box is None:
                return near
            # the distance is computed only inside a box that holds the whole circle
            return exp.Case(ifs=[exp.If(this=box, true=near)], default=exp.false())
        if isinstance(node, InSegmentCondition):
            return self.segment(node.in_segment).copy()
        if isinstance(node, EspCondition):
            raise ConfigError(
                f"{format_path(path)}: an esp condition can only be evaluated by the ESP, "
                "not locally"
            )
        raise AssertionError(f"unhandled node {node!r}")  # pragma: no cover

    def _attribute(self, node: AttributeCondition, path: Path, trace: Trace | None) -> exp.Expr:
        real = StoreSchema.resolve(node.attribute, self.schema.attributes)
        assert real is not None, node.attribute
        self.attributes.add(real)
        if trace is not None:
            trace.values[path] = col(real)
        return comparison(
            node.op,
            node.value,
            col(real),
            self.schema.attributes[real],
            self.as_of,
            case_sensitive=node.case_sensitive,
        )

    def event_filter(
        self, event: str, where: tuple[PropertyCondition, ...], within: Duration | None
    ) -> EventFilter:
        """The scan's filter for these events, in this run's window."""
        since = self.as_of - within.delta if within is not None else None
        return EventFilter(text_key(event), where, since)

    def _event(self, node: EventCondition, path: Path, trace: Trace | None) -> exp.Expr:
        flt = self.event_filter(node.event, node.where, node.within)
        if node.not_followed_by is not None:
            fol = node.not_followed_by
            follow = self.event_filter(fol.event, fol.where, None)
            latest = Aggregate(flt, "last_ts")
            if trace is not None:
                trace.values[path] = self.scan.aggregate(latest)
            return self.scan.not_followed_by(
                latest, follow, fol.within.delta if fol.within else None
            )
        kind, spec = node.aggregate()
        agg = Aggregate(flt, kind, spec.property)
        comparisons = tuple(spec.comparisons())
        if node.per is not None:
            result = self.scan.per(agg, node.per, comparisons)
            if trace is not None:
                trace.values[path] = result
            return result
        value = self.scan.aggregate(agg)
        if trace is not None:
            trace.values[path] = value
        return compare_all(value, comparisons)

    def metric_value(self, name: str) -> exp.Expr:
        """The metric's per-profile value over the ``__base`` columns (NULL when none)."""
        metric = self.defs.metrics[name]
        if isinstance(metric, AttributeMetric):
            real = StoreSchema.resolve(metric.attribute, self.schema.attributes)
            assert real is not None
            self.attributes.add(real)
            return exp.cast(col(real), sql_type("DOUBLE"), copy=False)
        assert isinstance(metric, EventMetric)
        if metric.aggregate == "days_since_last":
            return self.days_since(self.last_seen(name))
        flt = self.event_filter(metric.event, metric.where, metric.within)
        return self.scan.aggregate(Aggregate(flt, metric.aggregate, metric.property))

    def last_seen(self, name: str) -> exp.Expr:
        """The latest matching event's time of the ``days_since_last`` metric ``name``."""
        metric = self.defs.metrics[name]
        assert isinstance(metric, EventMetric) and metric.aggregate == "days_since_last"
        flt = self.event_filter(metric.event, metric.where, metric.within)
        return self.scan.aggregate(Aggregate(flt, "last_ts"))

    def days_since(self, last: exp.Expr) -> exp.Expr:
        """Whole days from the instant ``last`` to ``as_of`` (a ``days_since_last`` value)."""
        seconds = exp.Sub(this=lit(float(_epoch(self.as_of))), expression=exp.TimeToUnix(this=last))
        return exp.Floor(this=exp.Div(this=exp.paren(seconds), expression=lit(86400.0)))

    def _metric(self, node: MetricCondition, path: Path, trace: Trace | None) -> exp.Expr:
        value = self.metric_value(node.metric)
        if trace is not None:
            trace.values[path] = value.copy()
        form = node.percent()
        if form is None:
            return compare_all(value, tuple(node.comparisons()))
        direction, percent = form
        if trace is not None:
            alias = self.ranks.setdefault((node.metric, direction), f"__r{len(self.ranks)}")
            trace.values[(*path, "cume_dist")] = col(alias)
        within = self._within(node.metric, direction, percent, value)
        loose = node.loose_percent()
        previous = self._previous_column()
        if loose is None or previous is None:
            return within
        # hysteresis: the segment's members of its last sync run stay within P + N %
        kept = self._within(node.metric, direction, loose, value.copy())
        return exp.or_(within, exp.and_(col(previous), kept))

    def _within(self, metric: str, direction: str, percent: float, value: exp.Expr) -> exp.Expr:
        """``value`` within the top/bottom ``percent`` % (docs/design.md): the profiles whose
        share is within P % are those at or beyond one value of the metric (shares only
        grow towards the other end), so compare with that threshold."""
        key = (metric, direction, float(percent))
        threshold = self.thresholds.setdefault(key, f"__t{len(self.thresholds)}")
        beyond = exp.GTE if direction == "top" else exp.LTE
        return as_bool(beyond(this=value, expression=col(threshold)))

    def _previous_column(self) -> str | None:
        """The column holding "in the owner's previous qualified set", or ``None`` when
        the owner has no previous run (then hysteresis has no effect)."""
        if self.owner is None or not len(self.previous.get(self.owner, ())):
            return None
        return self.previous_columns.setdefault(self.owner, f"__kept{len(self.previous_columns)}")

    def _distance(self, node: NearCondition) -> exp.Expr:
        lay = self.schema.layout
        lat_name = StoreSchema.resolve(lay.latitude, self.schema.attributes)
        lon_name = StoreSchema.resolve(lay.longitude, self.schema.attributes)
        assert lat_name is not None and lon_name is not None
        self.attributes.update((lat_name, lon_name))
        return haversine_km(col(lat_name), col(lon_name), node.near.lat, node.near.lon)

    def _box(self, node: NearCondition) -> exp.Expr | None:
        """``lat``/``lon`` bounds of a box around the circle, with a 1 % margin (so a point
        outside it is farther than the radius by far more than rounding), or ``None`` when
        the circle reaches a pole or the antimeridian."""
        lay = self.schema.layout
        lat_name = StoreSchema.resolve(lay.latitude, self.schema.attributes)
        lon_name = StoreSchema.resolve(lay.longitude, self.schema.attributes)
        assert lat_name is not None and lon_name is not None
        lat0, lon0 = float(node.near.lat), float(node.near.lon)
        angle = float(node.near.radius_km) / EARTH_RADIUS_KM * 1.01  # radians
        dlat = math.degrees(angle) + 1e-6
        if angle >= math.pi / 2 or abs(lat0) + dlat >= 89.0:
            return None
        reach = math.sin(angle) / math.cos(math.radians(abs(lat0) + dlat))
        if reach >= 1.0:
            return None
        dlon = math.degrees(math.asin(reach)) * 1.01 + 1e-6
        if abs(lon0) + dlon >= 180.0:
            return None

        def within(name: str, low: float, high: float) -> exp.Expr:
            return exp.Between(this=col(name), low=lit(low), high=lit(high))

        return exp.and_(
            within(lat_name, lat0 - dlat, lat0 + dlat), within(lon_name, lon0 - dlon, lon0 + dlon)
        )

    def segment(self, name: str) -> exp.Expr:
        """The compiled rule of segment ``name`` (memoised; ``in_segment`` inlines it)."""
        if name not in self._segments:
            self._segments[name] = self.owned(name, self.defs.segments[name].rule)
        return self._segments[name]

    def owned(self, owner: str, rule: Condition) -> exp.Expr:
        """``rule`` compiled as (part of) segment ``owner``'s rule: its hysteresis
        conditions keep ``owner``'s previous members."""
        outer, self.owner = self.owner, owner
        try:
            return self.compile(rule)
        finally:
            self.owner = outer

    # -- query --------------------------------------------------------------------------
    def query(
        self,
        outputs: Sequence[tuple[str, exp.Expr]],
        *,
        extra_columns: Sequence[str] = (),
        values: Sequence[tuple[str, exp.Expr]] = (),
        where: exp.Expr | None = None,
        population: Callable[[dict[str, str]], exp.Query] | None = None,
        cut_offs: Mapping[str, float | None] | None = None,
        bands: Mapping[str, tuple[float | None, float | None]] | None = None,
    ) -> exp.Select:
        """The full query: profile id, email, consent, ``extra_columns``, ``values`` (named
        value expressions, e.g. traits) and ``outputs``.

        ``population``: when the run evaluates only some profiles (the scan's ``only``),
        the ranked metrics' values of every profile, given the metric -> column names of
        ``__mv`` (it may read ``__mv``, the evaluated profiles' values): the percent
        thresholds are those of the whole population. ``cut_offs``: the thresholds
        themselves, by column (``thresholds``), known from an earlier query of the run.
        ``bands``: by threshold column, a value range the threshold is expected in
        (``band_threshold``): the distribution is read only there, and the column
        ``sure(alias)`` says whether the threshold found is certainly the exact one.

        Compile every rule first (``segment``/``compile``), then call this once.
        """
        lay = self.schema.layout
        wanted = [lay.profile_id, lay.email]
        consent = self.consent_column()
        if consent is not None:
            wanted.append(consent)
        for name in [*sorted(self.attributes), *extra_columns]:
            if name not in wanted:
                wanted.append(name)
        base = exp.select(*[col(c, "p") for c in wanted]).from_(
            exp.alias_(table_expr(lay.profiles_table), "p"), copy=False
        )
        if self.scan.only is not None:  # only these profiles (their features need no others)
            base = base.where(col(lay.profile_id, "p").isin(query=self.scan.only_pids()))
        for cte_name, columns in self.scan.joined():
            base = base.join(
                exp.to_identifier(cte_name, quoted=True),
                on=exp.EQ(this=col("__pid", cte_name), expression=col(lay.profile_id, "p")),
                join_type="left",
                copy=False,
            )
            base = base.select(
                *[col(src, cte_name).as_(dst, quoted=True) for src, dst in columns], copy=False
            )
        every = exp.Column(this=exp.Star(), table=exp.to_identifier(BASE, quoted=True))
        ranked = exp.select(every).from_(exp.to_identifier(BASE, quoted=True), copy=False)
        # the metrics ranked or cut at a percent, one narrow column each (``__mv``): their
        # distributions are read from it, not from the wide ``__base`` (which, from a
        # rollup, then streams into ``__ranked`` instead of being held in memory)
        metrics = dict.fromkeys([*(m for m, _ in self.ranks), *(m for m, _, _ in self.thresholds)])
        if cut_offs is not None and not self.ranks:  # no distribution to read
            metrics = {}
            given = [
                lit(cut_offs[alias]).as_(alias, quoted=True) for alias in self.thresholds.values()
            ]
            ranked = ranked.select(*given, copy=False)
        metric_cols = {m: f"__mv{i}" for i, m in enumerate(metrics)}
        rank_ctes, source = self._values_ctes(metric_cols, population)
        for index, ((metric, direction), alias) in enumerate(self.ranks.items()):
            value = self.metric_value(metric)
            name = f"__rank{index}"
            shares = cume_dist(
                col(metric_cols[metric]), descending=direction == "top", source=source
            )
            rank_ctes.append((name, shares))
            ranked = ranked.join(
                exp.to_identifier(name, quoted=True),
                on=exp.EQ(this=col("__v", name), expression=value.copy()),
                join_type="left",
                copy=False,
            )
            ranked = ranked.select(col("__cd", name).as_(alias, quoted=True), copy=False)
        if metrics:
            ranked = self._cut_offs(ranked, rank_ctes, metric_cols, source, bands)
        for owner, alias in self.previous_columns.items():
            ids = [lit(pid) for pid in self.previous[owner]]
            kept = exp.In(this=col(lay.profile_id, BASE), expressions=ids)
            ranked = ranked.select(as_bool(kept).as_(alias, quoted=True), copy=False)
        final = exp.select(
            *self.identity(extra_columns),
            *[expr.as_(alias, quoted=True) for alias, expr in values],
            *[expr.as_(alias, quoted=True) for alias, expr in outputs],
        ).from_(exp.to_identifier(RANKED, quoted=True), copy=False)
        if where is not None:
            final = final.where(where, copy=False)
        ctes = [*self.scan.ctes(), (BASE, base), *rank_ctes, (RANKED, ranked)]
        for cte_name, cte in ctes:
            # the event scan is inlined into each consumer rather than held in memory; the
            # rollup's delta rows (a day or so) are read once for every consumer
            inline = (
                False if cte_name == EV else True if cte_name in (DR, METRICS, POPULATION) else None
            )
            if cte_name == BASE and metric_cols and self.scan.rollup is not None:
                # from the rollup, ``__base`` joins parts read once anyway: joined again
                # (narrowly, for ``__mv``) it costs less than holding its wide rows. From
                # raw events its features would be computed twice: then it is held
                inline = False
            final = final.with_(
                exp.to_identifier(cte_name, quoted=True), as_=cte, materialized=inline, copy=False
            )
        return final

    def _cut_offs(
        self,
        ranked: exp.Select,
        rank_ctes: list[tuple[str, exp.Select]],
        metric_cols: dict[str, str],
        source: str,
        bands: Mapping[str, tuple[float | None, float | None]] | None,
    ) -> exp.Select:
        """``ranked`` with every percent threshold as a column (one CTE each, added to
        ``rank_ctes``, over the distribution of ``source``): read from its band where
        ``bands`` gives one (``band_threshold``), else over the whole distribution (the
        cuts of one metric and direction together, ``thresholds``)."""
        by_metric: dict[tuple[str, str], list[tuple[float, str]]] = {}
        for (metric, direction, percent), alias in self.thresholds.items():
            if bands is not None and alias in bands:
                name = f"__thb{len(rank_ctes)}"
                low, high = bands[alias]
                banded = band_threshold(
                    col(metric_cols[metric]),
                    descending=direction == "top",
                    percent=percent,
                    band=(low, high),
                    alias=alias,
                    source=source,
                )
                rank_ctes.append((name, banded))
                ranked = ranked.join(
                    exp.to_identifier(name, quoted=True), join_type="cross", copy=False
                )
                ranked = ranked.select(col(alias, name), col(sure(alias), name), copy=False)
                continue
            by_metric.setdefault((metric, direction), []).append((percent, alias))
        for index, ((metric, direction), cuts) in enumerate(by_metric.items()):
            name = f"__thr{index}"
            value = col(metric_cols[metric])
            rank_ctes.append(
                (name, thresholds(value, descending=direction == "top", cuts=cuts, source=source))
            )
            ranked = ranked.join(
                exp.to_identifier(name, quoted=True), join_type="cross", copy=False
            )
            ranked = ranked.select(*[col(alias, name) for _, alias in cuts], copy=False)
        return ranked

    def _values_ctes(
        self,
        metric_cols: dict[str, str],
        population: Callable[[dict[str, str]], exp.Query] | None,
    ) -> tuple[list[tuple[str, exp.Select]], str]:
        """``__mv`` (the ranked metrics' values, ``metric_cols``) and, with a
        ``population``, ``__mvall``; and the CTE the distributions are read from."""
        if not metric_cols:
            return [], METRICS
        ctes = [
            (
                METRICS,
                exp.select(
                    *[self.metric_value(m).as_(a, quoted=True) for m, a in metric_cols.items()]
                ).from_(exp.to_identifier(BASE, quoted=True)),
            )
        ]
        if population is None:
            return ctes, METRICS
        everyone = exp.select(exp.Star()).from_(
            population(metric_cols).subquery("__everyone", copy=False), copy=False
        )
        return [*ctes, (POPULATION, everyone)], POPULATION

    def identity(self, extra_columns: Sequence[str] = ()) -> list[exp.Expr]:
        """The columns every run returns per profile: profile id, email, its key
        (``email_key_of``), consent and the ``extra_columns`` (``attr:<name>``)."""
        lay = self.schema.layout
        consent = self.consent_column()
        consent_expr: exp.Expr = as_bool(col(consent)) if consent else exp.false()
        return [
            col(lay.profile_id).as_("profile_id", quoted=True),
            col(lay.email).as_("email", quoted=True),
            self.email_key_of().as_("email_key", quoted=True),
            consent_expr.as_("consent", quoted=True),
            *[col(c).as_(f"attr:{c}", quoted=True) for c in extra_columns],
        ]

    def consent_column(self) -> str | None:
        """The profiles' consent column (None: the store has none, nobody consents)."""
        return StoreSchema.resolve(self.schema.layout.consent, self.schema.attributes)

    def email_key_of(self) -> exp.Expr:
        """The email's key (``email_key``) where the store holds emails as text, else NULL."""
        if self._text_emails():
            return email_key(col(self.schema.layout.email))
        return exp.cast(exp.null(), sql_type("VARCHAR"), copy=False)

    def fetched_key(self, key: exp.Expr, email: exp.Expr) -> list[exp.Expr]:
        """``fetched_key`` for this store's email column."""
        return fetched_key(key, email, text=self._text_emails())

    def _text_emails(self) -> bool:
        """The store holds emails as text (else they have no key)."""
        return self.schema.profile_columns.get(self.schema.layout.email) is ColumnType.TEXT


#: printable ASCII: there ``TRIM``, ``LOWER`` and the patterns below agree with Python's
#: ``strip``, ``lower`` and ``\\s`` (space is the only whitespace among these characters)
_PRINTABLE = "^[ -~]*$"
#: a printable-ASCII value whose trimmed, lower-cased form matches ``_EMAIL`` of
#: ``identity`` (``^[^@\\s]+@[^@\\s]+\\.[^@\\s.]+$``): spaces around the address, the address
#: of printable characters but space and ``@`` (and ``.`` after the last dot). Lower-casing
#: maps letters to letters, so the raw value matches exactly when its key would
_EMAIL_ASCII = "^ *[!-?A-~]+@[!-?A-~]+[.][!-,/-?A-~-]+ *$"


def email_key(email: exp.Expr) -> exp.Expr:
    """``normalise_email`` in SQL for printable-ASCII values: the trimmed, lower-cased
    address, ``''`` when it is not a valid one; NULL for other values (NULL or holding
    other characters), which Python normalises. One pattern on the raw value decides the
    usual case (a valid address); only the others are tested for printable ASCII."""
    trimmed = exp.Trim(this=email.copy())
    # the trimmed address's length, read from the raw value where that is short enough:
    # trimming never makes a value longer, and trimming a long text copies it
    short = exp.or_(
        exp.LTE(this=exp.Length(this=email.copy()), expression=lit(254)),
        exp.LTE(this=exp.Length(this=trimmed.copy()), expression=lit(254)),
    )
    valid = exp.and_(exp.RegexpLike(this=email.copy(), expression=lit(_EMAIL_ASCII)), short)
    printable = exp.RegexpLike(this=email.copy(), expression=lit(_PRINTABLE))
    return exp.Case(
        ifs=[
            exp.If(this=valid, true=exp.Lower(this=trimmed)),
            exp.If(this=printable, true=lit("")),
        ]
    )


#: beside ``email_key`` in a run's rows, what the key is (``EmailForm``): the key column
#: holds only keys that differ from the raw email (most addresses are stored trimmed and
#: lower-cased: a million addresses are fetched once, not twice)
EMAIL_FORM = "email_form"


class EmailForm(IntEnum):
    """What a row's ``email_key`` is (``email_form``)."""

    RAW = 0  #: the raw email itself (the key column is NULL)
    KEY = 1  #: the key column's value
    INVALID = 2  #: not a valid address (the key column is NULL)
    UNKNOWN = 3  #: not decided in SQL (NULL, or beyond printable ASCII): Python normalises


def fetched_key(key: exp.Expr, email: exp.Expr, *, text: bool = True) -> list[exp.Expr]:
    """``email_key`` and ``email_form`` as a run returns them, from the key
    (``email_key``'s: NULL for Python to normalise, ``''``: invalid) and email columns.
    ``text``: the store holds emails as text (else the key, always NULL, is not compared
    with them)."""
    if not text:
        return [
            key.copy().as_("email_key", quoted=True),
            lit(int(EmailForm.UNKNOWN)).as_(EMAIL_FORM, quoted=True),
        ]
    same = exp.EQ(this=key.copy(), expression=email.copy())
    invalid = exp.EQ(this=key.copy(), expression=lit(""))
    unknown = exp.Is(this=key.copy(), expression=exp.null())
    form = exp.Case(
        ifs=[
            exp.If(this=unknown, true=lit(int(EmailForm.UNKNOWN))),
            exp.If(this=invalid.copy(), true=lit(int(EmailForm.INVALID))),
            exp.If(this=same.copy(), true=lit(int(EmailForm.RAW))),
        ],
        default=lit(int(EmailForm.KEY)),
    )
    kept = exp.Case(ifs=[exp.If(this=exp.or_(same, invalid), true=exp.null())], default=key.copy())
    return [kept.as_("email_key", quoted=True), form.as_(EMAIL_FORM, quoted=True)]


def _epoch(moment: datetime) -> float:
    return moment.replace(tzinfo=UTC).timestamp()


def haversine_km(lat: exp.Expr, lon: exp.Expr, lat0: float, lon0: float) -> exp.Expr:
    """Great-circle distance in km between (lat, lon) columns and a fixed point."""

    # every argument below is built here and used once: adopted, not copied
    def rad(e: exp.Expr) -> exp.Expr:
        return exp.func("RADIANS", e, copy=False)

    def half_sin_sq(delta: exp.Expr) -> exp.Expr:
        sine = exp.func("SIN", exp.Div(this=rad(delta), expression=lit(2.0)), copy=False)
        return exp.Pow(this=sine, expression=lit(2))

    dlat = exp.Sub(this=lat.copy(), expression=lit(float(lat0)))
    dlon = exp.Sub(this=lon.copy(), expression=lit(float(lon0)))
    inner = exp.Add(
        this=half_sin_sq(dlat),
        expression=exp.Mul(
            this=exp.Mul(
                this=exp.func("COS", rad(lit(float(lat0))), copy=False),
                expression=exp.func("COS", rad(lat.copy()), copy=False),
            ),
            expression=half_sin_sq(dlon),
        ),
    )
    bounded = exp.func("LEAST", lit(1.0), exp.func("SQRT", inner, copy=False), copy=False)
    return exp.Mul(
        this=lit(2.0 * EARTH_RADIUS_KM), expression=exp.func("ASIN", bounded, copy=False)
    )
