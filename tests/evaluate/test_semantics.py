"""The semantics (docs/design.md), operator by operator and rule by rule, at its boundaries.

Each case names who must qualify, worked out by hand; the ``both`` fixture also checks the
evaluator against the oracle on every profile, and runs on DuckDB and on PostgreSQL.
Membership (exclusive groups, holdout, emails, percentiles) is in ``test_membership.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from tests.evaluate.conftest import AS_OF, Both

SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Case:
    id: str
    rule: dict[str, Any]
    expected: set[str]
    profiles: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)


def cases(*items: Case) -> Any:
    return pytest.mark.parametrize("case", items, ids=[c.id for c in items])


def run(
    both: Both,
    case: Case,
    profiles: list[dict[str, Any]],
    events: list[Any],
    metrics: dict[str, Any] | None = None,
) -> None:
    """Who qualifies for ``case.rule`` is ``case.expected`` (and the oracle agrees)."""
    got = both.qualifying(
        case.rule, case.profiles or profiles, case.events or events, case.metrics or metrics
    )
    assert got == case.expected


# -- windows: as_of - D <= ts <= as_of, to the second; events after as_of do not exist ----------
WINDOW_PROFILES = [{"profile_id": p} for p in ("edge", "early", "now", "future", "none")]
WINDOW_EVENTS = [
    {"profile_id": "edge", "event": "order_completed", "ts": AS_OF - 30 * DAY},
    {"profile_id": "early", "event": "order_completed", "ts": AS_OF - 30 * DAY - SECOND},
    {"profile_id": "now", "event": "order_completed", "ts": AS_OF},
    {"profile_id": "future", "event": "order_completed", "ts": AS_OF + SECOND},
]
WINDOW_SIGNUPS = [
    {"profile_id": "edge", "signup_at": AS_OF - 30 * DAY},
    {"profile_id": "early", "signup_at": AS_OF - 30 * DAY - SECOND},
    {"profile_id": "now", "signup_at": AS_OF},
    {"profile_id": "future", "signup_at": AS_OF + SECOND},
    {"profile_id": "none"},
]


@cases(
    Case("within-inclusive", {"event": "order_completed", "within": "30d"}, {"edge", "now"}),
    Case("no-within-all-past", {"event": "order_completed"}, {"edge", "early", "now"}),
    Case(
        "did-not-within",
        {"event": "order_completed", "within": "30d", "count": {"eq": 0}},
        {"early", "future", "none"},
    ),
    Case("within-720h", {"event": "order_completed", "within": "720h"}, {"edge", "now"}),
    Case(
        "within-last-inclusive",
        {"attribute": "signup_at", "op": "within_last", "value": "30d"},
        {"edge", "now"},
        profiles=WINDOW_SIGNUPS,
    ),
    Case(
        "not-within-last-includes-null",
        {"attribute": "signup_at", "op": "not_within_last", "value": "30d"},
        {"early", "future", "none"},
        profiles=WINDOW_SIGNUPS,
    ),
)
def test_windows(both: Both, case: Case) -> None:
    run(both, case, WINDOW_PROFILES, WINDOW_EVENTS)


MICRO = timedelta(microseconds=1)
MICRO_PROFILES = [
    {"profile_id": "edge", "seen_at": AS_OF - DAY},
    {"profile_id": "early", "seen_at": AS_OF - DAY - MICRO},
    {"profile_id": "late", "seen_at": AS_OF + MICRO},
    {"profile_id": "inside", "seen_at": AS_OF - DAY + MICRO},
]
MICRO_EVENTS = [
    {"profile_id": p["profile_id"], "event": "page_view", "ts": p["seen_at"]}
    for p in MICRO_PROFILES
]


@cases(
    Case("event-window", {"event": "page_view", "within": "24h"}, {"edge", "inside"}),
    Case("event-window-1440m", {"event": "page_view", "within": "1440m"}, {"edge", "inside"}),
    Case(
        "timestamptz-within-last",
        {"attribute": "seen_at", "op": "within_last", "value": "1d"},
        {"edge", "inside"},
    ),
    Case(
        "timestamptz-before",
        {"attribute": "seen_at", "op": "before", "value": "2026-11-22T12:00:00Z"},
        {"early"},
    ),
    Case(
        "timestamptz-after-offset",
        {"attribute": "seen_at", "op": "after", "value": "2026-11-23T13:00:00+01:00"},
        {"late"},
    ),
    Case(
        "days-since-microsecond",
        {"metric": "recency", "eq": 0},
        {"inside"},
        metrics={"recency": {"event": "page_view", "aggregate": "days_since_last"}},
    ),
    Case(
        "days-since-exact-day",
        {"metric": "recency", "eq": 1},
        {"edge", "early"},
        metrics={"recency": {"event": "page_view", "aggregate": "days_since_last"}},
    ),
)
def test_to_the_microsecond(both: Both, case: Case) -> None:
    """README: windows are inclusive at both ends, to the microsecond; seen_at is TIMESTAMPTZ."""
    run(both, case, MICRO_PROFILES, MICRO_EVENTS)


def test_attribute_and_property_names_ignore_case(duck: Both) -> None:
    profiles = [{"profile_id": "a", "region": "CA"}, {"profile_id": "b", "region": "NY"}]
    events = [{"profile_id": "b", "event": "order_completed", "ts": AS_OF, "category": "tv"}]
    assert duck.qualifying({"attribute": "Region", "op": "eq", "value": "ca"}, profiles) == {"a"}
    where = [{"property": "CATEGORY", "op": "eq", "value": "TV"}]
    assert duck.qualifying({"event": "order_completed", "where": where}, profiles, events) == {"b"}


def test_future_events_do_not_count(duck: Both) -> None:
    events = [
        {"profile_id": "a", "event": "order_completed", "ts": AS_OF - DAY, "amount": 5.0},
        {"profile_id": "a", "event": "order_completed", "ts": AS_OF + DAY, "amount": 50.0},
    ]
    profiles = [{"profile_id": "a"}]
    for rule in (
        {"event": "order_completed", "count": {"gte": 2}},
        {"event": "order_completed", "sum": {"property": "amount", "gt": 5}},
        {"event": "order_completed", "max": {"property": "amount", "eq": 50}},
    ):
        assert duck.qualifying(rule, profiles, events) == set(), rule


# -- two-valued logic: NULL ---------------------------------------------------------------
NULLS = [
    {"profile_id": "ca", "region": "CA", "age": 30, "vip": True, "signup_at": AS_OF},
    {"profile_id": "ny", "region": "NY", "age": 40, "vip": False, "signup_at": AS_OF - 90 * DAY},
    {"profile_id": "blank", "region": "   ", "age": None},
    {"profile_id": "null"},
]


@cases(
    Case("eq-null-false", {"attribute": "region", "op": "eq", "value": "CA"}, {"ca"}),
    Case(
        "neq-null-true",
        {"attribute": "region", "op": "neq", "value": "CA"},
        {"ny", "blank", "null"},
    ),
    Case(
        "not-eq-equals-neq",
        {"not": {"attribute": "region", "op": "eq", "value": "CA"}},
        {"ny", "blank", "null"},
    ),
    Case("in-null-false", {"attribute": "region", "op": "in", "value": ["CA", "NY"]}, {"ca", "ny"}),
    Case(
        "not-in-null-true",
        {"attribute": "region", "op": "not_in", "value": ["CA"]},
        {"ny", "blank", "null"},
    ),
    Case("contains-null-false", {"attribute": "region", "op": "contains", "value": "a"}, {"ca"}),
    Case(
        "not-contains-null-true",
        {"attribute": "region", "op": "not_contains", "value": "a"},
        {"ny", "blank", "null"},
    ),
    Case("gt-null-false", {"attribute": "age", "op": "gt", "value": 0}, {"ca", "ny"}),
    Case(
        "not-gt-null-true",
        {"not": {"attribute": "age", "op": "gt", "value": 35}},
        {"ca", "blank", "null"},
    ),
    Case("exists-text-not-blank", {"attribute": "region", "op": "exists"}, {"ca", "ny"}),
    Case("not-exists-text-blank", {"attribute": "region", "op": "not_exists"}, {"blank", "null"}),
    Case("exists-number", {"attribute": "age", "op": "exists"}, {"ca", "ny"}),
    Case("bool-eq", {"attribute": "vip", "op": "eq", "value": True}, {"ca"}),
    Case(
        "bool-neq-null-true",
        {"attribute": "vip", "op": "neq", "value": True},
        {"ny", "blank", "null"},
    ),
    Case("bool-eq-false-not-null", {"attribute": "vip", "op": "eq", "value": False}, {"ny"}),
    Case(
        "not-within-last-null-true",
        {"attribute": "signup_at", "op": "not_within_last", "value": "7d"},
        {"ny", "blank", "null"},
    ),
    Case(
        "any-of-nulls",
        {
            "any": [
                {"attribute": "age", "op": "lt", "value": 35},
                {"attribute": "vip", "op": "eq", "value": False},
            ]
        },
        {"ca", "ny"},
    ),
    Case(
        "not-all-with-null",
        {
            "not": {
                "all": [
                    {"attribute": "age", "op": "gte", "value": 0},
                    {"attribute": "region", "op": "exists"},
                ]
            }
        },
        {"blank", "null"},
    ),
)
def test_null_logic(both: Both, case: Case) -> None:
    run(both, case, NULLS, [])


# -- text: trimmed, case-insensitive unless case_sensitive ---------------------------------
TEXTS = [
    {"profile_id": "padded", "region": " Ca ", "city": "New York"},
    {"profile_id": "upper", "region": "CA", "city": "york"},
    {"profile_id": "lower", "region": "ca", "city": "Boston"},
    {"profile_id": "b", "region": "B", "city": "  "},
    {"profile_id": "other", "region": "Cal", "city": None},
]


@cases(
    Case(
        "eq-ignores-case-and-spaces",
        {"attribute": "region", "op": "eq", "value": "cA "},
        {"padded", "upper", "lower"},
    ),
    Case(
        "eq-case-sensitive-still-trims",
        {"attribute": "region", "op": "eq", "value": " Ca", "case_sensitive": True},
        {"padded"},
    ),
    Case(
        "neq-case-sensitive",
        {"attribute": "region", "op": "neq", "value": "CA", "case_sensitive": True},
        {"padded", "lower", "b", "other"},
    ),
    Case(
        "in-trimmed",
        {"attribute": "region", "op": "in", "value": [" ca", "b "]},
        {"padded", "upper", "lower", "b"},
    ),
    Case(
        "in-case-sensitive",
        {"attribute": "region", "op": "in", "value": ["ca", "Cal"], "case_sensitive": True},
        {"lower", "other"},
    ),
    Case("contains", {"attribute": "city", "op": "contains", "value": "YORK"}, {"padded", "upper"}),
    Case(
        "contains-case-sensitive",
        {"attribute": "city", "op": "contains", "value": "York", "case_sensitive": True},
        {"padded"},
    ),
    Case(
        "starts-with-trimmed",
        {"attribute": "region", "op": "starts_with", "value": "c"},
        {"padded", "upper", "lower", "other"},
    ),
    Case(
        "starts-with-case-sensitive",
        {"attribute": "region", "op": "starts_with", "value": "C", "case_sensitive": True},
        {"padded", "upper", "other"},
    ),
    Case(
        "ends-with-trimmed",
        {"attribute": "region", "op": "ends_with", "value": "A"},
        {"padded", "upper", "lower"},
    ),
    Case(
        "gt-text-ignores-case",
        {"attribute": "region", "op": "gt", "value": "a"},
        {"padded", "upper", "lower", "b", "other"},
    ),
    Case(
        "gt-text-case-sensitive",
        {"attribute": "region", "op": "gt", "value": "a", "case_sensitive": True},
        {"lower"},
    ),
    Case(
        "between-text",
        {"attribute": "region", "op": "between", "value": ["b", "ca"]},
        {"padded", "upper", "lower", "b"},
    ),
    Case(
        "not-contains-blank",
        {"attribute": "city", "op": "not_contains", "value": "o"},
        {"b", "other"},
    ),
)
def test_text(both: Both, case: Case) -> None:
    run(both, case, TEXTS, [])


# -- non-ASCII text: a value equals itself, whatever the letters --------------------------
# Python's str.lower() and the databases' LOWER() differ on a few letters (final sigma, the
# dotted capital I), so the rule's value must be normalised by the same function as the column.
WORLD = [
    {"profile_id": "istanbul", "city": "İstanbul"},
    {"profile_id": "istanbul-caps", "city": " İSTANBUL"},
    {"profile_id": "odos", "city": "ΟΔΟΣ"},
    {"profile_id": "ete", "city": "ÉTÉ"},
    {"profile_id": "zurich", "city": "Zürich"},
]


@cases(
    Case(
        "dotted-i-eq",
        {"attribute": "city", "op": "eq", "value": "İstanbul"},
        {"istanbul", "istanbul-caps"},
    ),
    Case(
        "dotted-i-in",
        {"attribute": "city", "op": "in", "value": ["İSTANBUL"]},
        {"istanbul", "istanbul-caps"},
    ),
    Case(
        "dotted-i-starts",
        {"attribute": "city", "op": "starts_with", "value": "İst"},
        {"istanbul", "istanbul-caps"},
    ),
    Case(
        "dotted-i-contains",
        {"attribute": "city", "op": "contains", "value": "İs"},
        {"istanbul", "istanbul-caps"},
    ),
    Case(
        "dotted-i-not-contains",
        {"attribute": "city", "op": "not_contains", "value": "İs"},
        {"odos", "ete", "zurich"},
    ),
    Case("sigma-eq", {"attribute": "city", "op": "eq", "value": "ΟΔΟΣ"}, {"odos"}),
    Case("sigma-ends", {"attribute": "city", "op": "ends_with", "value": "ΟΣ"}, {"odos"}),
    Case(
        "sigma-case-sensitive",
        {"attribute": "city", "op": "eq", "value": "ΟΔΟΣ", "case_sensitive": True},
        {"odos"},
    ),
    Case("accents-ignore-case", {"attribute": "city", "op": "eq", "value": "été"}, {"ete"}),
    Case("umlaut-contains", {"attribute": "city", "op": "contains", "value": "ÜR"}, {"zurich"}),
)
def test_non_ascii_text(both: Both, case: Case) -> None:
    run(both, case, WORLD, [])


# -- values that look like SQL or patterns are just values ---------------------------------
INJECTION = "x'; drop table profiles; --"
AWKWARD = [
    {"profile_id": "sql", "region": INJECTION},
    {"profile_id": "pct", "region": "50%"},
    {"profile_id": "num", "region": "500"},
    {"profile_id": "under", "region": "a_b"},
    {"profile_id": "x", "region": "aXb"},
    {"profile_id": "slash", "region": "back\\slash"},
    {"profile_id": "quote", "region": 'say "hi"'},
]


@cases(
    Case("injection-eq", {"attribute": "region", "op": "eq", "value": INJECTION}, {"sql"}),
    Case("injection-in", {"attribute": "region", "op": "in", "value": [INJECTION, "'"]}, {"sql"}),
    Case("percent-is-literal", {"attribute": "region", "op": "contains", "value": "%"}, {"pct"}),
    Case("percent-prefix", {"attribute": "region", "op": "starts_with", "value": "50%"}, {"pct"}),
    Case(
        "underscore-is-literal", {"attribute": "region", "op": "contains", "value": "_"}, {"under"}
    ),
    Case("underscore-ends", {"attribute": "region", "op": "ends_with", "value": "_b"}, {"under"}),
    Case("backslash", {"attribute": "region", "op": "contains", "value": "\\"}, {"slash"}),
    Case("quote", {"attribute": "region", "op": "contains", "value": '"hi'}, {"quote"}),
    Case("semicolon-dashes", {"attribute": "region", "op": "ends_with", "value": "; --"}, {"sql"}),
)
def test_values_are_values(both: Both, case: Case) -> None:
    run(both, case, AWKWARD, [])


def test_injection_in_event_property(duck: Both) -> None:
    events = [{"profile_id": "sql", "event": "order_completed", "ts": AS_OF, "category": INJECTION}]
    rule = {
        "event": "order_completed",
        "where": [{"property": "category", "op": "eq", "value": INJECTION}],
    }
    assert duck.qualifying(rule, AWKWARD, events) == {"sql"}


# -- numbers, between, dates ---------------------------------------------------------------
NUMBERS = [{"profile_id": f"age{a}", "age": a, "clv": a / 2} for a in (29, 30, 35, 40, 41)]
NUMBERS.append({"profile_id": "nobody"})


@cases(
    Case(
        "between-inclusive",
        {"attribute": "age", "op": "between", "value": [30, 40]},
        {"age30", "age35", "age40"},
    ),
    Case("gt", {"attribute": "age", "op": "gt", "value": 40}, {"age41"}),
    Case("gte", {"attribute": "age", "op": "gte", "value": 40}, {"age40", "age41"}),
    Case("lt", {"attribute": "age", "op": "lt", "value": 30}, {"age29"}),
    Case("lte", {"attribute": "age", "op": "lte", "value": 30}, {"age29", "age30"}),
    Case("eq-float", {"attribute": "clv", "op": "eq", "value": 17.5}, {"age35"}),
    Case("in-numbers", {"attribute": "age", "op": "in", "value": [29, 41, 99]}, {"age29", "age41"}),
    Case(
        "not-between",
        {"not": {"attribute": "age", "op": "between", "value": [30, 40]}},
        {"age29", "age41", "nobody"},
    ),
)
def test_numbers(both: Both, case: Case) -> None:
    run(both, case, NUMBERS, [])


MIDNIGHT = datetime(2026, 5, 1)
DATES = [
    {"profile_id": "before", "signup_at": MIDNIGHT - SECOND, "birthday": date(2026, 4, 30)},
    {"profile_id": "midnight", "signup_at": MIDNIGHT, "birthday": date(2026, 5, 1)},
    {"profile_id": "after", "signup_at": MIDNIGHT + SECOND, "birthday": date(2026, 5, 2)},
    {"profile_id": "unknown"},
]


@cases(
    Case(
        "before-date-is-midnight",
        {"attribute": "signup_at", "op": "before", "value": "2026-05-01"},
        {"before"},
    ),
    Case(
        "after-date-is-midnight",
        {"attribute": "signup_at", "op": "after", "value": "2026-05-01"},
        {"after"},
    ),
    Case(
        "before-instant",
        {"attribute": "signup_at", "op": "before", "value": "2026-05-01T00:00:01Z"},
        {"before", "midnight"},
    ),
    Case(
        "after-offset-instant",
        {"attribute": "signup_at", "op": "after", "value": "2026-05-01T02:00:00+02:00"},
        {"after"},
    ),
    Case(
        "eq-date-is-midnight",
        {"attribute": "signup_at", "op": "eq", "value": "2026-05-01"},
        {"midnight"},
    ),
    Case(
        "between-dates",
        {"attribute": "signup_at", "op": "between", "value": ["2026-04-30", "2026-05-01"]},
        {"before", "midnight"},
    ),
    Case(
        "gte-instant",
        {"attribute": "signup_at", "op": "gte", "value": "2026-05-01T00:00:00"},
        {"midnight", "after"},
    ),
    Case(
        "date-column-before",
        {"attribute": "birthday", "op": "before", "value": "2026-05-01"},
        {"before"},
    ),
    Case(
        "date-column-after",
        {"attribute": "birthday", "op": "after", "value": "2026-05-01"},
        {"after"},
    ),
    Case(
        "date-column-eq", {"attribute": "birthday", "op": "eq", "value": "2026-05-01"}, {"midnight"}
    ),
    Case(
        "date-column-eq-instant",
        {"attribute": "birthday", "op": "eq", "value": "2026-05-01T00:00:00Z"},
        {"midnight"},
    ),
    Case(
        "date-column-after-instant",
        {"attribute": "birthday", "op": "after", "value": "2026-05-01T00:00:01Z"},
        {"after"},
    ),
)
def test_dates(both: Both, case: Case) -> None:
    run(both, case, DATES, [])


def test_date_column_within_last(duck: Both) -> None:
    as_of = datetime(2026, 5, 8, 0, 0, 0)  # 7 days after 2026-05-01 00:00
    rule = {"attribute": "birthday", "op": "within_last", "value": "7d"}
    got = duck.qualifying(rule, DATES, as_of=as_of)
    assert got == {"midnight", "after"}


# -- events: names, where, aggregates ------------------------------------------------------
ORDERS = [
    {
        "profile_id": "two",
        "event": "Order_Completed ",
        "ts": AS_OF - DAY,
        "amount": 10.0,
        "category": "TV",
    },
    {
        "profile_id": "two",
        "event": " ORDER_COMPLETED",
        "ts": AS_OF - 2 * DAY,
        "amount": None,
        "category": " tv",
    },
    {
        "profile_id": "three",
        "event": "order_completed",
        "ts": AS_OF - DAY,
        "amount": 10.0,
        "category": "books",
    },
    {
        "profile_id": "three",
        "event": "order_completed",
        "ts": AS_OF - DAY,
        "amount": 20.0,
        "category": "Books",
    },
    {
        "profile_id": "three",
        "event": "order_completed",
        "ts": AS_OF - 40 * DAY,
        "amount": 30.0,
        "category": None,
    },
    {"profile_id": "nulls", "event": "order_completed", "ts": AS_OF - DAY, "amount": None},
    {"profile_id": "cart", "event": "added_to_cart", "ts": AS_OF - DAY, "amount": 99.0},
]
EVENT_PROFILES = [{"profile_id": p} for p in ("two", "three", "nulls", "cart", "none")]


@cases(
    Case("name-case-and-spaces", {"event": " order_COMPLETED"}, {"two", "three", "nulls"}),
    Case("count-range", {"event": "order_completed", "count": {"gte": 2, "lte": 2}}, {"two"}),
    Case("did-not", {"event": "order_completed", "count": {"eq": 0}}, {"cart", "none"}),
    Case(
        "count-neq",
        {"event": "order_completed", "count": {"neq": 3}},
        {"two", "nulls", "cart", "none"},
    ),
    Case(
        "count-lt-includes-zero",
        {"event": "order_completed", "count": {"lt": 2}},
        {"nulls", "cart", "none"},
    ),
    Case(
        "sum-ignores-null",
        {"event": "order_completed", "sum": {"property": "amount", "eq": 10}},
        {"two"},
    ),
    Case(
        "sum-none-is-null",
        {"event": "order_completed", "sum": {"property": "amount", "lt": 1000}},
        {"two", "three"},
    ),
    Case(
        "sum-null-neq-false",
        {"event": "order_completed", "sum": {"property": "amount", "neq": 60}},
        {"two"},
    ),
    Case(
        "avg-ignores-null",
        {"event": "order_completed", "avg": {"property": "amount", "eq": 20}},
        {"three"},
    ),
    Case(
        "avg-within",
        {"event": "order_completed", "within": "7d", "avg": {"property": "amount", "eq": 15}},
        {"three"},
    ),
    Case(
        "min",
        {"event": "order_completed", "min": {"property": "amount", "lte": 10}},
        {"two", "three"},
    ),
    Case(
        "max-within",
        {"event": "order_completed", "within": "30d", "max": {"property": "amount", "gte": 20}},
        {"three"},
    ),
    Case(
        "where-text",
        {
            "event": "order_completed",
            "where": [{"property": "category", "op": "eq", "value": "tv"}],
            "count": {"gte": 2},
        },
        {"two"},
    ),
    Case(
        "where-null-false",
        {
            "event": "order_completed",
            "where": [{"property": "category", "op": "neq", "value": "books"}],
        },
        {"two", "three", "nulls"},
    ),
    Case(
        "where-all-must-hold",
        {
            "event": "order_completed",
            "where": [
                {"property": "category", "op": "eq", "value": "books"},
                {"property": "amount", "op": "gt", "value": 15},
            ],
        },
        {"three"},
    ),
    Case("not-event", {"not": {"event": "order_completed", "within": "7d"}}, {"cart", "none"}),
)
def test_events(both: Both, case: Case) -> None:
    run(both, case, EVENT_PROFILES, ORDERS)


# -- per: for some single value; NULL belongs to no group ----------------------------------
FLIGHTS = [
    # same city three times, spelled differently
    *(
        {"profile_id": "paris", "event": "order_completed", "ts": AS_OF - DAY, "destination": d}
        for d in ("Paris", " paris", "PARIS ")
    ),
    # three flights, but to three cities
    *(
        {"profile_id": "spread", "event": "order_completed", "ts": AS_OF - DAY, "destination": d}
        for d in ("Paris", "Lyon", "Nice")
    ),
    # two to Lyon and two with no destination: NULL is no group
    *(
        {
            "profile_id": "nulls",
            "event": "order_completed",
            "ts": AS_OF - DAY,
            "destination": d,
            "amount": 5.0,
        }
        for d in ("Lyon", "lyon", None, None)
    ),
    {"profile_id": "blank", "event": "order_completed", "ts": AS_OF - DAY, "destination": "  "},
]
PER_PROFILES = [{"profile_id": p} for p in ("paris", "spread", "nulls", "blank", "none")]


@cases(
    Case(
        "per-three",
        {"event": "order_completed", "per": "destination", "count": {"gte": 3}},
        {"paris"},
    ),
    Case(
        "per-null-no-group",
        {"event": "order_completed", "per": "destination", "count": {"gte": 2, "lte": 2}},
        {"nulls"},
    ),
    Case(
        "per-once",
        {"event": "order_completed", "per": "destination", "count": {"eq": 1}},
        {"spread", "blank"},
    ),
    Case(
        "per-no-aggregate",
        {"event": "order_completed", "per": "destination"},
        {"paris", "spread", "nulls", "blank"},
    ),
    Case(
        "per-eq-0-never",
        {"event": "order_completed", "per": "destination", "count": {"eq": 0}},
        set(),
    ),
    Case(
        "per-sum",
        {"event": "order_completed", "per": "destination", "sum": {"property": "amount", "eq": 10}},
        {"nulls"},
    ),
    Case(
        "per-where",
        {
            "event": "order_completed",
            "per": "destination",
            "where": [{"property": "destination", "op": "neq", "value": "nice"}],
            "count": {"eq": 1},
        },
        {"spread", "blank"},
    ),
)
def test_per(both: Both, case: Case) -> None:
    run(both, case, PER_PROFILES, FLIGHTS)


# -- not_followed_by -----------------------------------------------------------------------
H = timedelta(hours=1)


def cart_then(pid: str, carts: list[timedelta], orders: list[timedelta]) -> list[dict[str, Any]]:
    return [
        {"profile_id": pid, "event": "added_to_cart", "ts": AS_OF - c, "category": "tv"}
        for c in carts
    ] + [{"profile_id": pid, "event": "order_completed", "ts": AS_OF - o} for o in orders]


CARTS = [
    *cart_then("abandoned", [2 * H], []),
    *cart_then("bought", [2 * H], [1 * H]),
    *cart_then("bought-before", [2 * H], [3 * H]),
    *cart_then("same-instant", [2 * H], [2 * H]),
    *cart_then("bought-later", [2 * H], [-1 * H]),  # after as_of: does not exist
    *cart_then("recarted", [5 * H, 2 * H], [3 * H]),  # latest cart is after the order
    *cart_then("old-cart", [30 * H], []),  # outside the 24h window
    *cart_then("at-now", [timedelta(0)], []),
    *cart_then("slow", [5 * H], [3 * H]),  # order 2h after the cart
    *cart_then("quick", [5 * H], [4 * H]),  # order 1h after the cart (edge of 1h)
]
NFB_PROFILES = [{"profile_id": p} for p in sorted({e["profile_id"] for e in CARTS} | {"none"})]


@cases(
    Case(
        "abandoned-cart",
        {
            "event": "added_to_cart",
            "within": "24h",
            "not_followed_by": {"event": "order_completed"},
        },
        {"abandoned", "bought-before", "same-instant", "bought-later", "recarted", "at-now"},
    ),
    Case(
        "follow-up-within",
        {
            "event": "added_to_cart",
            "within": "24h",
            "not_followed_by": {"event": "order_completed", "within": "1h"},
        },
        {
            "abandoned",
            "bought-before",
            "same-instant",
            "bought-later",
            "recarted",
            "at-now",
            "slow",
        },
    ),
    Case(
        "follow-up-where",
        {
            "event": "added_to_cart",
            "not_followed_by": {
                "event": "order_completed",
                "where": [{"property": "category", "op": "exists"}],
            },
        },
        {p["profile_id"] for p in NFB_PROFILES} - {"none"},
    ),
    Case(
        "not-abandoned",
        {
            "not": {
                "event": "added_to_cart",
                "within": "24h",
                "not_followed_by": {"event": "order_completed"},
            }
        },
        {"bought", "old-cart", "slow", "quick", "none"},
    ),
)
def test_not_followed_by(both: Both, case: Case) -> None:
    run(both, case, NFB_PROFILES, CARTS)


# -- metrics -------------------------------------------------------------------------------
RECENCY = [
    {"profile_id": "d1", "event": "order_completed", "ts": AS_OF - DAY - SECOND, "category": "TV"},
    {"profile_id": "d1", "event": "order_completed", "ts": AS_OF - 9 * DAY, "category": " tv"},
    {"profile_id": "d1", "event": "order_completed", "ts": AS_OF - 9 * DAY, "category": "Books"},
    {"profile_id": "d0", "event": "order_completed", "ts": AS_OF - DAY + SECOND, "category": None},
    {"profile_id": "d2", "event": "order_completed", "ts": AS_OF - 2 * DAY, "amount": 4.0},
    {"profile_id": "d2", "event": "order_completed", "ts": AS_OF + DAY},  # does not exist
]
RECENCY_PROFILES = [
    {"profile_id": p, "clv": c} for p, c in (("d0", 1.0), ("d1", None), ("d2", 3.0), ("none", 2.0))
]
METRICS = {
    "recency": {"event": "order_completed", "aggregate": "days_since_last"},
    "orders": {"event": "order_completed", "aggregate": "count"},
    "orders_7d": {"event": "order_completed", "aggregate": "count", "within": "7d"},
    "categories": {
        "event": "order_completed",
        "aggregate": "distinct_count",
        "property": "category",
    },
    "spend": {"event": "order_completed", "aggregate": "sum", "property": "amount"},
    "clv": {"attribute": "clv"},
}


@cases(
    Case("days-since-floor-1", {"metric": "recency", "eq": 1}, {"d1"}),
    Case("days-since-floor-0", {"metric": "recency", "eq": 0}, {"d0"}),
    Case("days-since-exact-2", {"metric": "recency", "eq": 2}, {"d2"}),
    Case("days-since-null", {"metric": "recency", "gte": 0}, {"d0", "d1", "d2"}),
    Case("days-since-null-neq", {"metric": "recency", "neq": 1}, {"d0", "d2"}),
    Case("count-metric-zero", {"metric": "orders", "eq": 0}, {"none"}),
    Case("count-metric-within", {"metric": "orders_7d", "eq": 1}, {"d1", "d0", "d2"}),
    Case("distinct-count", {"metric": "categories", "eq": 2}, {"d1"}),
    Case("distinct-count-zero", {"metric": "categories", "eq": 0}, {"d0", "d2", "none"}),
    Case("sum-metric-null", {"metric": "spend", "lt": 100}, {"d2"}),
    Case("attribute-metric", {"metric": "clv", "gte": 2, "lte": 3}, {"d2", "none"}),
    Case("metric-range-and-not", {"not": {"metric": "orders", "gte": 1, "lte": 2}}, {"d1", "none"}),
)
def test_metrics(both: Both, case: Case) -> None:
    run(both, case, RECENCY_PROFILES, RECENCY, METRICS)
