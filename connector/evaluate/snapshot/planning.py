"""Which runs can use the verdict snapshot, and what a snapshot of their rules holds: the
fingerprints of the compiled rules and ranked metrics, the profile columns the rules read,
and the durations the rules measure back from ``as_of`` (the bands of ``changed``).

What cannot be bounded so runs the whole run in full: hysteresis with previous members,
property conditions relative to ``as_of`` (``within_last`` in a ``where``), percent ranks of
``days_since_last`` and traits of its value unbucketed (for those ``plan`` returns
``None``); stores without rollups, profile ids that are NULL or repeated (``writing.due`` /
``write`` and ``evaluation.run`` find those).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

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
from connector.definitions.traits import BucketTrait, MetricTrait, TopValueTrait, Trait
from connector.definitions.walk import children
from connector.evaluate.compile import RuleCompiler
from connector.evaluate.sql import text_key
from connector.evaluate.traits import compile_trait
from connector.source.schema import StoreSchema
from connector.source.verdicts import VerdictMeta, thresholds_key

#: the instant rules are compiled at for their fingerprints (any fixed one would do)
REFERENCE = datetime(2000, 1, 1)
_RELATIVE = (Op.WITHIN_LAST, Op.NOT_WITHIN_LAST)


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
    #: per trait value of the run (``__trait<i>``), the fingerprint of its expression
    traits: list[str]
    #: per trait, the ``days_since_last`` metric it is the value of (``aged``), or None
    aged: list[str | None]
    #: ranked metric name -> fingerprint
    metrics: dict[str, str]
    #: (metric, direction, percent) of the compiler's thresholds -> key in the snapshot
    thresholds: dict[tuple[str, str, float], str]
    #: the profile columns the rules read, the email and the consent (the digest's; a
    #: snapshot's adds the attributes its writing run returned)
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
) -> _Bounds | str:
    """The durations the rules measure back from ``as_of``; or, when some rule depends on
    ``as_of`` in a way not bounded here, why (``full_reason``)."""
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
                return f"a where relative to as_of (within_last) on {node.event}"
            if node.within is not None:
                found.window(node.event, node.within.delta)
            # a follow-up's own ``within`` counts from the latest matching event, not
            # from as_of: follow-ups between T0 and T1 are in D by their time
        elif isinstance(node, MetricCondition):
            if node.hysteresis and hysteresis:
                return f"hysteresis on {node.metric} (once there are previous members)"
            metric = defs.metrics[node.metric]
            if not isinstance(metric, EventMetric):
                continue  # an attribute: in the digest
            if _relative(metric.where):
                return f"a where relative to as_of (within_last) in metric {node.metric}"
            if metric.within is not None:
                found.window(metric.event, metric.within.delta)
            if metric.aggregate == "days_since_last":
                if node.percent() is not None:  # every profile's value moves with as_of
                    return f"a percent rank of days_since_last ({node.metric})"
                for days in _day_counts(node.comparisons()):
                    found.window(metric.event, timedelta(days=days))
        else:
            return f"a condition the ESP evaluates ({type(node).__name__})"
    return found


def full_reason(defs: Definitions, schema: StoreSchema, rule: Condition) -> str | None:
    """Why runs with this rule evaluate every profile rather than use the verdict snapshot
    (``None``: they can use it). Run-wide reasons (traits, a store without rollups,
    repeated profile ids) are not the rule's."""
    found = _bounds(defs, schema, [rule], hysteresis=True)
    return found if isinstance(found, str) else None


def _metric_bounds(
    defs: Definitions, name: str, found: _Bounds, edges: Sequence[float] | None
) -> str | None:
    """A metric's value as a trait (``edges``: bucketed at them): its window, the day
    counts a ``days_since_last`` crosses an edge at; or why it is not bounded (a
    relative ``where``)."""
    metric = defs.metrics[name]
    if not isinstance(metric, EventMetric):
        return None  # an attribute: in the digest
    if _relative(metric.where):
        return f"a where relative to as_of (within_last) in metric {name}"
    if metric.within is not None:
        found.window(metric.event, metric.within.delta)
    if metric.aggregate == "days_since_last" and edges is not None:
        for days in _day_counts([("lt", edge) for edge in edges]):
            found.window(metric.event, timedelta(days=days))
    # unbucketed, the value moves with as_of for every profile: the snapshot keeps the
    # latest event's time instead (``aged``), from which a run works it out
    return None


def _trait_bounds(defs: Definitions, trait: Trait, found: _Bounds) -> str | None:
    """The durations a trait's value measures back from ``as_of`` (added to ``found``), or
    why it is not bounded. Attributes are in the digest."""
    if isinstance(trait, MetricTrait):
        return _metric_bounds(defs, trait.metric, found, None)
    if isinstance(trait, BucketTrait) and trait.bucket.metric is not None:
        return _metric_bounds(defs, trait.bucket.metric, found, trait.bucket.edges)
    if isinstance(trait, TopValueTrait):
        spec = trait.top_value
        if _relative(spec.where):
            return f"a where relative to as_of (within_last) in a top_value of {spec.event}"
        if spec.within is not None:
            found.window(spec.event, spec.within.delta)
    return None


def aged(defs: Definitions, trait: Trait) -> str | None:
    """The ``days_since_last`` metric a trait is the value of (the snapshot keeps its
    latest event's time: ``RuleCompiler.last_seen``), else ``None``."""
    if not isinstance(trait, MetricTrait):
        return None
    metric = defs.metrics[trait.metric]
    if isinstance(metric, EventMetric) and metric.aggregate == "days_since_last":
        return trait.metric
    return None


def trait_reason(defs: Definitions, trait: Trait) -> str | None:
    """Why runs computing this trait evaluate every profile (``None``: they can use the
    verdict snapshot)."""
    return _trait_bounds(defs, trait, _Bounds({}, {}))


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
            # rendered in place (a root of the reference compiler, not shared)
            expr.sql(dialect="duckdb", copy=expr.parent is not None),
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
    traits: Sequence[Trait] = (),
) -> Plan | None:
    """The snapshot plan of a run's rules (compiled by ``compiler``) and ``traits`` (the
    run's trait values, in order), or ``None`` when they cannot use one. ``hysteresis``:
    the run keeps previous members (then a percent condition with hysteresis is not
    bounded)."""
    if not outputs or compiler.previous_columns or compiler.ranks:
        return None
    found = _bounds(defs, schema, [o.rule for o in outputs], hysteresis)
    if isinstance(found, str):
        return None
    for trait in traits:
        if _trait_bounds(defs, trait, found) is not None:
            return None
    trait_prints = []
    for trait in traits:
        reference = RuleCompiler(defs, schema, REFERENCE)
        printed = _fingerprint(reference, compile_trait(reference, trait))
        # an aged trait's column holds another value (the latest event's time)
        trait_prints.append(_digest_of(f"last_ts {printed}") if aged(defs, trait) else printed)
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
    consent = [c for c in [compiler.consent_column()] if c is not None]
    return Plan(
        outputs=outputs,
        rules=fingerprints,
        traits=trait_prints,
        aged=[aged(defs, trait) for trait in traits],
        metrics=metrics,
        thresholds=keys,
        # the email and consent too: a profile outside D keeps the snapshot's identity
        digest=sorted({*compiler.attributes, schema.layout.email, *consent}),
        windows={e: frozenset(d) for e, d in found.windows.items()},
        attributes={a: frozenset(d) for a, d in found.attributes.items()},
    )


def fits(meta: VerdictMeta | None, plan_: Plan, as_of: datetime, watermark: int) -> bool:
    """The snapshot belongs to the rollup of ``as_of`` / ``watermark`` and holds every rule,
    ranked metric and threshold of ``plan_``, its digest over the columns the rules read."""
    return (
        meta is not None
        and meta.as_of == as_of
        and meta.watermark == watermark
        and set(plan_.rules) <= set(meta.rules)
        and set(plan_.traits) <= set(meta.traits)
        and set(plan_.metrics.values()) <= set(meta.metrics)
        and set(plan_.thresholds.values()) <= set(meta.thresholds)
        and set(plan_.digest) <= set(meta.digest)
    )
