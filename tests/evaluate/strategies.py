"""Hypothesis strategies: small awkward stores, and random rules whose values come from them.

Stores are built around ``as_of`` so that data sits exactly on the edges that matter:
``as_of`` itself, one second either side, and ``as_of - D`` (+/- 1 s) for every duration a rule
may use. Text mixes case and spaces, has blanks, NULLs and SQL-looking values; numbers tie.
Rules are random trees over every kind of condition, with values drawn from the store (so
conditions bite), metrics are random too, and segments get exclusive groups and holdouts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from tests.evaluate.harness import make_oracle_store
from tests.evaluate.oracle import Oracle, OracleStore, haversine_km, parse_instant

__all__ = ["Example", "examples", "keyed_examples"]

AS_OFS = (
    datetime(2026, 11, 23, 0, 0, 0),
    datetime(2026, 3, 1, 12, 34, 56),
    datetime(2024, 2, 29, 23, 59, 59, 250_000),
)
DURATIONS = {
    "90m": timedelta(minutes=90),
    "24h": timedelta(hours=24),
    "1d": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "2w": timedelta(weeks=2),
}
SECOND = timedelta(seconds=1)
MICRO = timedelta(microseconds=1)
#: where data sits relative to as_of: on it, a second or a microsecond either side, and the
#: same around as_of - D for every duration a rule may use
OFFSETS = sorted(
    {timedelta(0), -SECOND, SECOND, -MICRO, MICRO, timedelta(days=1), -timedelta(days=3, hours=5)}
    | {-timedelta(days=400), -timedelta(days=1, microseconds=-1)}
    | {-d + s for d in DURATIONS.values() for s in (-SECOND, -MICRO, timedelta(0), MICRO, SECOND)}
)
TEXT = ["CA", "ca", " Ca ", "NY", "ny  ", "New York", "new york ", "", "   "]
AWKWARD = ["x'; drop table profiles; --", "50%", "a_b", "aXb", 'say "hi"', "back\\slash"]
# non-ASCII letters whose lower case Python and the databases agree on (for the others, see
# test_semantics.py: the database's LOWER() decides)
CITIES = ["Paris", "paris", "PARIS ", "Lyon", " lyon", "Nice", "Zürich", "ZÜRICH ", "été"]
EMAILS = ["a@x.com", " A@X.com ", "b@x.com", "B@x.COM", "not-an-email", "", "c@y.org", "d@e"]
PLACES = [(48.8566, 2.3522), (45.764, 4.8357), (51.5074, -0.1278), (40.7128, -74.006)]
EVENT_NAMES = ["order_completed", "Order_Completed ", " ORDER_COMPLETED", "added_to_cart"]
EVENT_NAMES += ["Added_To_Cart", "page_view"]
RULE_EVENTS = ["order_completed", "Order_Completed", " added_to_cart ", "page_view"]
CATEGORIES = ["electronics", "Electronics ", "books", " BOOKS", "", "50%", AWKWARD[0]]
DESTINATIONS = ["Paris", "paris ", "Lyon", "", " LYON"]
AMOUNTS = [0, 0.5, 10, 10, 25.5, -3, 100]
SEGMENT_NAMES = ["alpha", "beta", "gamma", "delta"]
METRIC_NAMES = ["m0", "m1", "m2", "m3"]

TEXT_OPS = [
    "eq", "neq", "in", "not_in", "gt", "gte", "lt", "lte", "between", "contains",
    "not_contains", "starts_with", "ends_with", "exists", "not_exists",
]  # fmt: skip
TIME_OPS = ["within_last", "not_within_last", "before", "after"]
ORDER_OPS = ["eq", "neq", "in", "not_in", "gt", "gte", "lt", "lte", "between"]
OPS = {
    "text": TEXT_OPS,
    "number": [*ORDER_OPS, "exists", "not_exists"],
    "boolean": ["eq", "neq", "in", "not_in", "exists", "not_exists"],
    "timestamp": [*ORDER_OPS, "exists", "not_exists", *TIME_OPS],
}
OPS["date"] = OPS["timestamp"]
COMPARATORS = ["eq", "neq", "gt", "gte", "lt", "lte"]


@dataclass
class Example:
    """One generated case: the store, the definitions (raw mappings) and ``as_of``."""

    store: OracleStore
    segments: dict[str, dict[str, Any]]
    metrics: dict[str, dict[str, Any]]
    as_of: datetime
    #: per segment, who qualified at its last run (``hysteresis``); absent: no earlier run
    previous: dict[str, list[Any]] = field(default_factory=dict)


def _nullable(values: list[Any]) -> st.SearchStrategy[Any]:
    return st.sampled_from([None, *values])


# -- stores -------------------------------------------------------------------------------
@st.composite
def stores(draw: st.DrawFn, as_of: datetime) -> OracleStore:
    moments = [as_of + o for o in OFFSETS]
    days = [(as_of + timedelta(days=k)).date() for k in (-365, -30, -7, -1, 0, 1)]
    count = draw(st.integers(2, 8))
    profiles = []
    for index in range(count):
        place = draw(_nullable(PLACES))
        profiles.append(
            {
                "profile_id": draw(st.sampled_from([f"p{index}", f"P {index}", f"é{index}'"])),
                "email": draw(_nullable(EMAILS)),
                "email_consent": draw(_nullable([True, False])),
                "region": draw(_nullable(TEXT + AWKWARD)),
                "city": draw(_nullable(CITIES)),
                "age": draw(_nullable([18, 30, 30, 41, 65])),
                "clv": draw(_nullable([-1.5, 0.0, 0.5, 10.0, 10.0, 99.5])),
                "vip": draw(_nullable([True, False])),
                "signup_at": draw(_nullable(moments)),
                "seen_at": draw(_nullable(moments)),
                "birthday": draw(_nullable(days)),
                # now and then only one coordinate is known
                "latitude": None if place is None or draw(st.integers(0, 6)) == 0 else place[0],
                "longitude": None if place is None or draw(st.integers(0, 6)) == 0 else place[1],
            }
        )
    ids = [p["profile_id"] for p in profiles]
    event = st.fixed_dictionaries(
        {
            "profile_id": st.sampled_from(ids),
            # now and then an event without a name or a time: it matches nothing
            "event": st.sampled_from([*EVENT_NAMES, *EVENT_NAMES, None]),
            "ts": st.sampled_from([*moments, *moments, None]),
            "category": _nullable(CATEGORIES),
            "destination": _nullable(DESTINATIONS),
            "amount": _nullable(AMOUNTS),
            "qty": _nullable([1, 2, 3]),
            "gift": _nullable([True, False]),
        }
    )
    events = draw(st.lists(event, min_size=3, max_size=24))
    # every event name a rule may use exists in the store (else validation fails), through
    # events of a profile that is not in the profiles table and so qualifies for nothing
    for name in ("order_completed", "added_to_cart", "page_view"):
        events.append({"profile_id": "zz-orphan", "event": name, "ts": as_of, "amount": 1})
    return make_oracle_store(profiles, events)


# -- values drawn from the store ----------------------------------------------------------
def _seen(rows: list[dict[str, Any]], column: str) -> list[Any]:
    return [r[column] for r in rows if r[column] is not None]


def _text_value(draw: st.DrawFn, seen: list[Any], op: str) -> str:
    base = draw(st.sampled_from(seen + TEXT + AWKWARD))
    if base and op in ("contains", "not_contains", "starts_with", "ends_with"):
        start = draw(st.integers(0, len(base) - 1))
        end = draw(st.integers(start, len(base)))
        if op == "starts_with":
            base = base[:end]
        elif op == "ends_with":
            base = base[start:]
        else:
            base = base[start:end]
    return str(draw(st.sampled_from([base, base.upper(), base.lower(), f" {base} "])))


def _time_value(draw: st.DrawFn, seen: list[Any], as_of: datetime) -> str:
    moment = draw(st.sampled_from([*seen, as_of, as_of - timedelta(days=30)]))
    spellings = [moment.date().isoformat(), moment.isoformat(), moment.isoformat() + "Z"]
    return str(draw(st.sampled_from(spellings)))


def _one_value(draw: st.DrawFn, kind: str, seen: list[Any], op: str, as_of: datetime) -> Any:
    if kind == "text":
        return _text_value(draw, seen, op)
    if kind == "number":
        return draw(st.sampled_from([*seen, 0, 10, -1.5, 30]))
    if kind == "boolean":
        return draw(st.booleans())
    return _time_value(draw, [_as_datetime(v) for v in seen], as_of)


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day)


@st.composite
def comparison(
    draw: st.DrawFn,
    columns: dict[str, str],
    rows: list[dict[str, Any]],
    as_of: datetime,
    key: str,
) -> dict[str, Any]:
    """``{attribute|property: c, op, value, case_sensitive?}`` with a value from ``rows``."""
    real = draw(st.sampled_from(sorted(columns)))
    kind = columns[real]
    # names resolve exactly, else case-insensitively
    column = draw(st.sampled_from([real, real, real, real.upper()]))
    op = draw(st.sampled_from(OPS[kind]))
    seen = _seen(rows, real)
    cond: dict[str, Any] = {key: column, "op": op}
    if op in ("exists", "not_exists"):
        pass
    elif op in ("within_last", "not_within_last"):
        cond["value"] = draw(st.sampled_from(sorted(DURATIONS)))
    elif op in ("in", "not_in"):
        size = draw(st.integers(1, 3))
        cond["value"] = [_one_value(draw, kind, seen, op, as_of) for _ in range(size)]
    elif op == "between":
        pair = [_one_value(draw, kind, seen, op, as_of) for _ in range(2)]
        if kind in ("number",):
            pair.sort()
        elif kind in ("timestamp", "date"):
            pair.sort(key=parse_instant)
        cond["value"] = pair
    else:
        cond["value"] = _one_value(draw, kind, seen, op, as_of)
    if kind == "text" and draw(st.integers(0, 3)) == 0:
        cond["case_sensitive"] = True
    return cond


def _where(
    props: dict[str, str], events: list[dict[str, Any]], as_of: datetime
) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Mostly no ``where`` (so that aggregates see events), else one or two conditions."""
    size = st.sampled_from([0, 0, 0, 1, 1, 2])
    cond = comparison(props, events, as_of, "property")
    return size.flatmap(lambda n: st.lists(cond, min_size=n, max_size=n))


def _comparisons(draw: st.DrawFn, values: list[Any]) -> dict[str, Any]:
    ops = draw(st.lists(st.sampled_from(COMPARATORS), min_size=1, max_size=2, unique=True))
    return {op: draw(st.sampled_from(values)) for op in ops}


# -- rules --------------------------------------------------------------------------------
@dataclass
class _Context:
    store: OracleStore
    as_of: datetime
    metrics: dict[str, dict[str, Any]]
    metric_values: dict[str, list[Any]]
    earlier: list[str]


@st.composite
def event_condition(draw: st.DrawFn, ctx: _Context) -> dict[str, Any]:
    store = ctx.store
    props = {c: k for c, k in store.event_types.items() if c not in ("profile_id", "event", "ts")}
    cond: dict[str, Any] = {"event": draw(st.sampled_from(RULE_EVENTS))}
    where = draw(_where(props, store.events, ctx.as_of))
    if where:
        cond["where"] = where
    if draw(st.booleans()):
        cond["within"] = draw(st.sampled_from(sorted(DURATIONS)))
    shape = draw(st.sampled_from(["plain", "count", "count", "numeric", "numeric", "followed"]))
    amounts = [*_seen(store.events, "amount"), 0, 10.5, 20]
    if shape == "count":
        cond["count"] = _comparisons(draw, [0, 1, 2, 3])
    elif shape == "numeric":
        name = draw(st.sampled_from(["sum", "avg", "min", "max"]))
        prop = draw(st.sampled_from(["amount", "amount", "qty"]))
        values = amounts if prop == "amount" else [0, 1, 1.5, 2, 3, 4]
        cond[name] = {"property": prop, **_comparisons(draw, values)}
    if shape == "followed":
        follow: dict[str, Any] = {"event": draw(st.sampled_from(RULE_EVENTS))}
        follow_where = draw(
            st.lists(comparison(props, store.events, ctx.as_of, "property"), max_size=1)
        )
        if follow_where:
            follow["where"] = follow_where
        if draw(st.booleans()):
            follow["within"] = draw(st.sampled_from(sorted(DURATIONS)))
        cond["not_followed_by"] = follow
    elif draw(st.integers(0, 2)) == 0:
        cond["per"] = draw(st.sampled_from(["category", "destination", "amount", "gift"]))
    return cond


@st.composite
def metric_condition(draw: st.DrawFn, ctx: _Context) -> dict[str, Any]:
    name = draw(st.sampled_from(sorted(ctx.metrics)))
    cond: dict[str, Any] = {"metric": name}
    form = draw(st.sampled_from(["compare", "compare", "top", "bottom"]))
    if form == "compare":
        cond.update(_comparisons(draw, [*ctx.metric_values[name], 0, 1, 2.5]))
        return cond
    size = max(1, len(ctx.metric_values[name]))  # the population: non-NULL values
    percent = draw(st.sampled_from([*(100 * k / size for k in range(1, size + 1)), 10, 12.5, 50]))
    cond["top_percent" if form == "top" else "bottom_percent"] = round(percent, 6) or 1
    if draw(st.booleans()):
        cond["hysteresis"] = draw(st.sampled_from([0, 2, 10, 12.5, 100 / size, 100]))
    return cond


def _without_hysteresis(node: dict[str, Any]) -> dict[str, Any]:
    """``node`` with no ``hysteresis`` (it is a validation error under ``not``)."""
    if "hysteresis" in node:
        return {k: v for k, v in node.items() if k != "hysteresis"}
    if "all" in node or "any" in node:
        key = "all" if "all" in node else "any"
        return {key: [_without_hysteresis(child) for child in node[key]]}
    if "not" in node:
        return {"not": _without_hysteresis(node["not"])}
    return node


@st.composite
def near_condition(draw: st.DrawFn, ctx: _Context) -> dict[str, Any]:
    lat, lon = draw(st.sampled_from([*PLACES, (48.85, 2.35), (0.0, 0.0)]))
    located = [
        p for p in ctx.store.profiles if p["latitude"] is not None and p["longitude"] is not None
    ]
    radii: list[float] = [1, 400, 500, 6000]
    for p in located:
        distance = haversine_km(p["latitude"], p["longitude"], lat, lon)
        if distance > 0:  # just inside and just outside a profile's exact distance
            radii += [distance * (1 + 1e-7), distance * (1 - 1e-7)]
    return {"near": {"lat": lat, "lon": lon, "radius_km": draw(st.sampled_from(radii))}}


def condition(ctx: _Context, depth: int) -> st.SearchStrategy[dict[str, Any]]:
    attrs = {c: k for c, k in ctx.store.profile_types.items()}
    leaves: list[st.SearchStrategy[dict[str, Any]]] = [
        comparison(attrs, ctx.store.profiles, ctx.as_of, "attribute"),
        comparison(attrs, ctx.store.profiles, ctx.as_of, "attribute"),
        event_condition(ctx),
        event_condition(ctx),
        metric_condition(ctx),
        near_condition(ctx),
    ]
    if ctx.earlier:
        leaves.append(st.sampled_from(ctx.earlier).map(lambda n: {"in_segment": n}))
    if depth == 0:
        return st.one_of(leaves)
    child = condition(ctx, depth - 1)
    nested: list[st.SearchStrategy[dict[str, Any]]] = [
        st.lists(child, min_size=1, max_size=3).map(lambda xs: {"all": xs}),
        st.lists(child, min_size=1, max_size=3).map(lambda xs: {"any": xs}),
        child.map(lambda x: {"not": _without_hysteresis(x)}),
    ]
    return st.one_of(*leaves, *nested)


@st.composite
def metric_definition(draw: st.DrawFn, store: OracleStore, as_of: datetime) -> dict[str, Any]:
    if draw(st.integers(0, 4)) == 0:
        return {"attribute": draw(st.sampled_from(["clv", "age", "latitude"]))}
    aggregate = draw(
        st.sampled_from(["count", "sum", "avg", "min", "max", "distinct_count", "days_since_last"])
    )
    metric: dict[str, Any] = {"event": draw(st.sampled_from(RULE_EVENTS)), "aggregate": aggregate}
    if aggregate in ("sum", "avg", "min", "max"):
        metric["property"] = draw(st.sampled_from(["amount", "qty"]))
    elif aggregate == "distinct_count":
        metric["property"] = draw(st.sampled_from(["category", "destination", "amount"]))
    props = {c: k for c, k in store.event_types.items() if c not in ("profile_id", "event", "ts")}
    where = draw(_where(props, store.events, as_of))
    if where:
        metric["where"] = where
    if draw(st.booleans()):
        metric["within"] = draw(st.sampled_from(sorted(DURATIONS)))
    return metric


@st.composite
def examples(draw: st.DrawFn, max_segments: int = 4, depth: int = 2) -> Example:
    """A store, 1 to ``max_segments`` segments and their metrics, and ``as_of``."""
    as_of = draw(st.sampled_from(AS_OFS))
    store = draw(stores(as_of))
    count = draw(st.integers(1, len(METRIC_NAMES)))
    metrics = {name: draw(metric_definition(store, as_of)) for name in METRIC_NAMES[:count]}
    oracle = Oracle(store, {}, metrics, as_of)
    values = {
        name: [v for p in store.profiles if (v := oracle.metric_value(name, p)) is not None]
        for name in metrics
    }
    ctx = _Context(store, as_of, metrics, values, [])
    segments: dict[str, dict[str, Any]] = {}
    for name in SEGMENT_NAMES[: draw(st.integers(1, max_segments))]:
        segment: dict[str, Any] = {"name": name, "rule": draw(condition(ctx, depth))}
        group = draw(st.sampled_from([None, None, "g1", "g2"]))
        if group is not None:
            segment["exclusive_group"] = group
            segment["priority"] = draw(st.sampled_from([0, 0, 1, 5]))
        holdout = draw(st.sampled_from([0, 0, 0, 10, 50, 33.3, 0.07]))
        if holdout:
            segment["holdout"] = holdout
        segments[name] = segment
        ctx.earlier.append(name)
    ids = [p["profile_id"] for p in store.profiles]
    previous = {
        name: draw(st.lists(st.sampled_from(ids), unique=True)) if ids else []
        for name in segments
        if draw(st.booleans())
    }
    return Example(store, segments, metrics, as_of, previous)


# -- features kept as keyed rollup parts ---------------------------------------------------
@st.composite
def keyed_condition(draw: st.DrawFn, ctx: _Context) -> dict[str, Any]:
    """A windowed condition of a kind the rollup keeps in a table of its own (windowed
    min/max, ``per`` over count/sum/avg, alone or with a second test of its groups) or
    reads from events around it
    (``not_followed_by`` with ``within``); a metric condition on a windowed
    ``distinct_count``."""
    store = ctx.store
    props = {c: k for c, k in store.event_types.items() if c not in ("profile_id", "event", "ts")}
    shape = draw(st.sampled_from(["extreme", "extreme", "per", "per", "followed", "distinct"]))
    if shape == "distinct":
        name = draw(st.sampled_from(sorted(ctx.metrics)))
        return {"metric": name, **_comparisons(draw, [*ctx.metric_values[name], 0, 1, 2, 3])}
    cond: dict[str, Any] = {
        "event": draw(st.sampled_from(RULE_EVENTS)),
        "within": draw(st.sampled_from(sorted(DURATIONS))),
    }
    where = draw(_where(props, store.events, ctx.as_of))
    if where:
        cond["where"] = where
    amounts = [*_seen(store.events, "amount"), 0, 10.5, 20]
    if shape == "extreme":
        cond[draw(st.sampled_from(["min", "max"]))] = {
            "property": "amount",
            **_comparisons(draw, amounts),
        }
    elif shape == "per":
        name = draw(st.sampled_from(["count", "count", "sum", "avg"]))
        if name == "count":
            cond["count"] = _comparisons(draw, [0, 1, 2, 3])
        else:
            cond[name] = {"property": "amount", **_comparisons(draw, amounts)}
        cond["per"] = draw(st.sampled_from(["category", "destination", "amount", "gift"]))
        if draw(st.booleans()):
            # another test of the same groups (one kept table, a verdict per test): the
            # other of count / sum / avg, or other comparisons
            other = {k: v for k, v in cond.items() if k != name}
            kind = draw(st.sampled_from(["count", "sum", "avg"]))
            if kind == "count":
                other["count"] = _comparisons(draw, [0, 1, 2, 3])
            else:
                other[kind] = {"property": "amount", **_comparisons(draw, amounts)}
            return {draw(st.sampled_from(["all", "any"])): [cond, other]}
    else:
        cond["not_followed_by"] = {
            "event": draw(st.sampled_from(RULE_EVENTS)),
            "within": draw(st.sampled_from(sorted(DURATIONS))),
        }
    return cond


@st.composite
def keyed_examples(draw: st.DrawFn) -> Example:
    """A store, windowed ``distinct_count`` metrics and 1 to 4 segments, each one
    ``keyed_condition``: every feature the rollup keeps in a table of its own, on data
    around its window edges."""
    as_of = draw(st.sampled_from(AS_OFS))
    store = draw(stores(as_of))
    metrics: dict[str, dict[str, Any]] = {}
    for name in METRIC_NAMES[: draw(st.integers(1, 2))]:
        metrics[name] = {
            "event": draw(st.sampled_from(RULE_EVENTS)),
            "aggregate": "distinct_count",
            "property": draw(st.sampled_from(["category", "destination", "amount"])),
            "within": draw(st.sampled_from(sorted(DURATIONS))),
        }
    oracle = Oracle(store, {}, metrics, as_of)
    values = {
        name: [v for p in store.profiles if (v := oracle.metric_value(name, p)) is not None]
        for name in metrics
    }
    ctx = _Context(store, as_of, metrics, values, [])
    segments = {
        name: {"name": name, "rule": draw(keyed_condition(ctx))}
        for name in SEGMENT_NAMES[: draw(st.integers(1, len(SEGMENT_NAMES)))]
    }
    return Example(store, segments, metrics, as_of)
