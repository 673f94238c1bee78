"""Trait values from the evaluator's one query vs plain Python over the same rows, on
DuckDB and PostgreSQL (docs/design.md, Traits: top_value, bucket, map, metrics, attributes)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from connector.definitions.traits import Trait
from connector.evaluate.engine import evaluate
from connector.evaluate.traits import trait_value
from connector.plan.membership import everyone_rule
from tests.evaluate.conftest import AS_OF, ORPHANS, Both
from tests.evaluate.harness import make_oracle_store, write_config

TRAITS: dict[str, Any] = {
    "fav": {"top_value": {"event": "Order_Completed", "property": "category", "within": "365d"}},
    "fav_big": {
        "top_value": {
            "event": "order_completed",
            "property": "category",
            "where": [{"property": "amount", "op": "gte", "value": 50}],
        }
    },
    "band": {"bucket": {"attribute": "clv", "edges": [100, 500], "labels": ["low", "mid", "hi"]}},
    "nband": {"bucket": {"metric": "orders", "edges": [1, 3], "labels": ["none", "few", "many"]}},
    "tier": {"map": {"attribute": "region", "values": {"CA": "premium", " ny": "premium"}}},
    "tier2": {"map": {"attribute": "region", "values": {"tx": "b"}, "default": "a"}},
    "orders": {"metric": "orders"},
    "days": {"metric": "days"},
    "clv": {"attribute": "clv"},
}
METRICS = {
    "orders": {"event": "order_completed", "aggregate": "count", "within": "365d"},
    "days": {"event": "order_completed", "aggregate": "days_since_last"},
}
CATEGORIES = ["tv", "TV ", " books", "Books", "toys", "", None]
REGIONS = ["CA", " ca ", "NY", "tx", "TX", "", None]


def expected(
    profiles: list[dict[str, Any]], events: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Each profile's traits, computed directly from the rows."""
    out: dict[str, dict[str, Any]] = {}
    for p in profiles:
        mine = [e for e in events if e["profile_id"] == p["profile_id"] and e["ts"] <= AS_OF]
        orders = [e for e in mine if e["event"].strip().lower() == "order_completed"]
        recent = [e for e in orders if e["ts"] >= AS_OF - timedelta(days=365)]

        def top(rows: list[dict[str, Any]]) -> str | None:
            counts = Counter(
                e["category"].strip().lower()
                for e in rows
                if e["category"] is not None and e["category"].strip()
            )
            if not counts:
                return None
            best = max(counts.values())
            return min(c for c, n in counts.items() if n == best)

        clv, region = p["clv"], p["region"]
        key = None if region is None else region.strip().lower()
        n = len(recent)
        last = max((e["ts"] for e in orders), default=None)
        out[p["profile_id"]] = {
            "fav": top(recent),
            "fav_big": top([e for e in orders if e["amount"] is not None and e["amount"] >= 50]),
            "band": None if clv is None else "low" if clv < 100 else "mid" if clv < 500 else "hi",
            "nband": "none" if n < 1 else "few" if n < 3 else "many",
            "tier": "premium" if key in ("ca", "ny") else None,
            "tier2": "b" if key == "tx" else "a",
            "orders": n,
            "days": None if last is None else int((AS_OF - last).total_seconds() // 86400),
            "clv": None if clv is None else (int(clv) if float(clv).is_integer() else clv),
        }
    return out


profile_rows = st.lists(
    st.fixed_dictionaries(
        {
            "region": st.sampled_from(REGIONS),
            "clv": st.one_of(st.none(), st.sampled_from([0.0, 99.5, 100.0, 250.0, 500.0, 900.25])),
        }
    ),
    min_size=1,
    max_size=8,
)
event_rows = st.lists(
    st.fixed_dictionaries(
        {
            "who": st.integers(0, 7),
            "event": st.sampled_from(["order_completed", " Order_completed", "page_view"]),
            "days": st.integers(-2, 500),
            "category": st.sampled_from(CATEGORIES),
            "amount": st.one_of(st.none(), st.sampled_from([10.0, 50.0, 80.0])),
        }
    ),
    max_size=30,
)


def event_dicts(happenings: list[dict[str, Any]], as_of: datetime) -> list[dict[str, Any]]:
    """The drawn events (``event_rows``) as store rows: ``days`` (and an hour) before
    ``as_of``, by profile ``p<who>``."""
    return [
        {
            "profile_id": f"p{e['who']}",
            "event": e["event"],
            "ts": as_of - timedelta(days=e["days"], hours=1),
            "category": e["category"],
            "amount": e["amount"],
        }
        for e in happenings
    ]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(people=profile_rows, happenings=event_rows)
def test_trait_values_match_plain_python(
    both: Both, people: list[dict[str, Any]], happenings: list[dict[str, Any]]
) -> None:
    profiles = [
        {"profile_id": f"p{i}", "email": f"u{i}@x.com", "email_consent": True, **p}
        for i, p in enumerate(people)
    ]
    events = event_dicts([e for e in happenings if e["who"] < len(profiles)], AS_OF)
    store = make_oracle_store(profiles, [*events, *ORPHANS])
    db = both.load(store)
    defs = write_config(both.root, {}, METRICS)
    traits = {k: TypeAdapter(Trait).validate_python(v) for k, v in TRAITS.items()}
    result = evaluate(
        db,
        defs,
        as_of=AS_OF,
        names=[],
        extra_rules={"all": everyone_rule("profile_id")},
        traits=traits,
    )
    want = expected(profiles, events)
    assert sorted(str(p) for p in result.profile_ids) == sorted(want)
    for row, pid in enumerate(result.profile_ids):
        got = {
            k: trait_value(
                result.traits[k][row], "number" if k in ("orders", "days", "clv") else "text"
            )
            for k in TRAITS
        }
        assert got == want[str(pid)], pid
