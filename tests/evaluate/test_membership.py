"""Who ends up a member: percentiles, geo, in_segment, exclusive groups, holdout, emails.

The rest of docs/design.md's semantics at its boundaries (``test_semantics.py`` has the
operators). Every case also checks the evaluator against the oracle on every profile (the
``both`` fixture).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from connector.definitions.loader import load_definitions
from connector.esp.registry import destination_models
from connector.evaluate.audit import audit
from connector.evaluate.engine import evaluate
from connector.evaluate.identity import is_held_out, normalise_email
from tests.conftest import make_store, write_config
from tests.evaluate.conftest import AS_OF, Both
from tests.evaluate.oracle import held_out as oracle_held_out
from tests.evaluate.oracle import normalise_email as oracle_normalise

CLV = {"clv": {"attribute": "clv"}, "orders": {"event": "order_completed", "aggregate": "count"}}


def scores(*values: float | None) -> list[dict[str, Any]]:
    """Profiles ``t0``, ``t1``, ... with those clv values."""
    return [{"profile_id": f"t{i}", "clv": v} for i, v in enumerate(values)]


def ids(*indexes: int) -> set[str]:
    return {f"t{i}" for i in indexes}


# -- top_percent / bottom_percent ----------------------------------------------------------
TIE_AT_TOP = scores(100, 100, 90, 80, 70, 60, 50, 40, 30, 20)
DISTINCT = scores(10, 20, 30, 40, 50, 60, 70, 80, 90, 100)
WITH_NULLS = scores(10, 20, 30, 40, 50, 60, 70, 80, 90, 100, None, None, None, None, None)
TIE_AT_BOTTOM = scores(10, 10, 20, 30, 40, 50, 60, 70, 80, 90)


@pytest.mark.parametrize(
    ("profiles", "rule", "expected"),
    [
        pytest.param(TIE_AT_TOP, {"top_percent": 10}, set(), id="tie-at-cutoff-all-out"),
        pytest.param(TIE_AT_TOP, {"top_percent": 20}, ids(0, 1), id="tie-fits"),
        pytest.param(TIE_AT_TOP, {"top_percent": 29.9}, ids(0, 1), id="just-under-30"),
        pytest.param(DISTINCT, {"top_percent": 30}, ids(7, 8, 9), id="exact-share-30"),
        pytest.param(DISTINCT, {"top_percent": 10}, ids(9), id="top-one"),
        pytest.param(DISTINCT, {"top_percent": 100}, ids(*range(10)), id="top-all"),
        pytest.param(DISTINCT, {"bottom_percent": 30}, ids(0, 1, 2), id="bottom-30"),
        pytest.param(DISTINCT, {"bottom_percent": 70}, ids(*range(7)), id="bottom-70"),
        pytest.param(TIE_AT_BOTTOM, {"bottom_percent": 10}, set(), id="bottom-tie-all-out"),
        pytest.param(TIE_AT_BOTTOM, {"bottom_percent": 20}, ids(0, 1), id="bottom-tie-fits"),
        pytest.param(WITH_NULLS, {"top_percent": 20}, ids(8, 9), id="null-not-in-population"),
        pytest.param(WITH_NULLS, {"bottom_percent": 10}, ids(0), id="null-not-bottom"),
        pytest.param(scores(*range(8)), {"top_percent": 12.5}, ids(7), id="fractional-percent"),
        pytest.param(scores(*range(7)), {"top_percent": 42.9}, ids(4, 5, 6), id="3-of-7"),
        pytest.param(scores(*range(3)), {"top_percent": 33.3}, set(), id="third-under"),
        pytest.param(scores(*range(3)), {"top_percent": 33.34}, ids(2), id="third-over"),
    ],
)
def test_percentiles(
    both: Both, profiles: list[dict[str, Any]], rule: dict[str, Any], expected: set[str]
) -> None:
    assert both.qualifying({"metric": "clv", **rule}, profiles, metrics=CLV) == expected


def test_not_top_percent_includes_null(duck: Both) -> None:
    rule = {"not": {"metric": "clv", "top_percent": 10}}
    assert duck.qualifying(rule, WITH_NULLS, metrics=CLV) == ids(*range(9), *range(10, 15))


def test_count_metric_is_zero_without_events(both: Both) -> None:
    """Profiles without events are 0, not NULL: they are in the population (README)."""
    profiles = scores(*[None] * 10)
    events = [{"profile_id": "t3", "event": "order_completed", "ts": AS_OF}]
    top = {"metric": "orders", "top_percent": 10}
    assert both.qualifying(top, profiles, events, metrics=CLV) == ids(3)
    bottom = {"metric": "orders", "bottom_percent": 90}
    assert both.qualifying(bottom, profiles, events, metrics=CLV) == ids(*range(10)) - ids(3)
    assert both.qualifying({**bottom, "bottom_percent": 80}, profiles, events, metrics=CLV) == set()


# -- near ----------------------------------------------------------------------------------
PARIS = {"lat": 48.8566, "lon": 2.3522}
PLACES = [
    {"profile_id": "paris", "latitude": 48.8566, "longitude": 2.3522},
    {"profile_id": "lyon", "latitude": 45.764, "longitude": 4.8357},  # 391.50 km
    {"profile_id": "london", "latitude": 51.5074, "longitude": -0.1278},  # 343.56 km
    {"profile_id": "no-lon", "latitude": 48.8566},
    {"profile_id": "nowhere"},
]


@pytest.mark.parametrize(
    ("radius", "expected"),
    [
        (0.001, {"paris"}),
        (343.5, {"paris"}),
        (343.6, {"paris", "london"}),
        (391.4, {"paris", "london"}),
        (391.6, {"paris", "london", "lyon"}),
    ],
)
def test_near(both: Both, radius: float, expected: set[str]) -> None:
    rule = {"near": {**PARIS, "radius_km": radius}}
    assert both.qualifying(rule, PLACES) == expected
    others = {"lyon", "london", "no-lon", "nowhere", "paris"} - expected
    assert both.qualifying({"not": rule}, PLACES) == others


def test_near_across_the_antimeridian(duck: Both) -> None:
    profiles = [{"profile_id": "fiji", "latitude": -17.7, "longitude": 179.9}]
    rule = {"near": {"lat": -17.7, "lon": -179.9, "radius_km": 25}}  # about 21 km east
    assert duck.qualifying(rule, profiles) == {"fiji"}


# -- in_segment, exclusive groups, holdout -------------------------------------------------
PEOPLE = [
    {"profile_id": "p1", "region": "CA", "email": "p1@x.com"},
    {"profile_id": "p2", "region": "NY", "email": "p2@x.com"},
    {"profile_id": "p3", "region": "ca", "email": "p3@x.com"},
]
EVERYONE = {"attribute": "profile_id", "op": "exists"}
CA = {"attribute": "region", "op": "eq", "value": "CA"}


def members(evaluation: Any, name: str, what: str = "members") -> set[str]:
    flags = getattr(evaluation, what)[name]
    return {str(p) for p, ok in zip(evaluation.profile_ids, flags, strict=True) if ok}


def test_group_ties_go_to_the_first_name(both: Both) -> None:
    segments = {
        "b-seg": {"name": "b-seg", "rule": EVERYONE, "exclusive_group": "g"},
        "a-seg": {"name": "a-seg", "rule": EVERYONE, "exclusive_group": "g"},
    }
    evaluation, _ = both.run(segments, PEOPLE)
    assert members(evaluation, "a-seg") == {"p1", "p2", "p3"}
    assert members(evaluation, "b-seg") == set()
    assert members(evaluation, "b-seg", "qualified") == {"p1", "p2", "p3"}


def test_group_higher_priority_wins(both: Both) -> None:
    segments = {
        "a-seg": {"name": "a-seg", "rule": EVERYONE, "exclusive_group": "g", "priority": 1},
        "b-seg": {"name": "b-seg", "rule": CA, "exclusive_group": "g", "priority": 5},
        "c-seg": {"name": "c-seg", "rule": EVERYONE, "exclusive_group": "g", "priority": -2},
        "free": {"name": "free", "rule": EVERYONE},
        "other": {"name": "other", "rule": CA, "exclusive_group": "h", "priority": 0},
    }
    evaluation, _ = both.run(segments, PEOPLE)
    assert members(evaluation, "b-seg") == {"p1", "p3"}
    assert members(evaluation, "a-seg") == {"p2"}
    assert members(evaluation, "c-seg") == set()
    assert members(evaluation, "free") == {"p1", "p2", "p3"}
    assert members(evaluation, "other") == {"p1", "p3"}


def test_in_segment_is_the_rule_before_groups_and_holdout(both: Both) -> None:
    segments = {
        "winner": {"name": "winner", "rule": EVERYONE, "exclusive_group": "g", "priority": 9},
        "loser": {"name": "loser", "rule": CA, "exclusive_group": "g", "holdout": 50},
        "follower": {"name": "follower", "rule": {"in_segment": "loser"}},
        "contrary": {"name": "contrary", "rule": {"not": {"in_segment": "follower"}}},
    }
    evaluation, _ = both.run(segments, PEOPLE)
    assert members(evaluation, "loser") == set()
    assert members(evaluation, "follower") == {"p1", "p3"}
    assert members(evaluation, "contrary") == {"p2"}


def hash_bucket(segment: str, profile_id: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{segment}:{profile_id}".encode()).digest()[:8], "big")


# buckets (sha256 of "<segment>:<profile_id>", first 8 bytes, % 10000), computed by hand
BUCKETS = {
    ("promo", "p1"): 6286,
    ("promo", "p2"): 5455,
    ("promo", "p3"): 9331,
    ("other", "p1"): 7306,
    ("other", "p2"): 4970,
    ("other", "p3"): 1806,
    ("promo", "c14801"): 7,
    ("promo", "c8053"): 110,
    ("promo", "c4099"): 1,
    ("promo", "42"): 6095,
}


def test_hand_computed_buckets() -> None:
    for (segment, pid), bucket in BUCKETS.items():
        assert hash_bucket(segment, pid) % 10000 == bucket


@pytest.mark.parametrize(
    ("segment", "pid", "holdout", "held"),
    [
        ("other", "p2", 49.7, False),  # 4970 < 4970 is false
        ("other", "p2", 49.71, True),
        ("other", "p3", 18.06, False),
        ("other", "p3", 18.07, True),
        ("promo", "p1", 50, False),
        ("promo", "c4099", 0.01, False),  # bucket 1 < 1 is false
        ("promo", "c4099", 0.02, True),
        # holdout x 100 taken exactly: 0.07 * 100 is 7.000000000000001 in floating point
        ("promo", "c14801", 0.07, False),
        ("promo", "c14801", 0.08, True),
        ("promo", "c8053", 1.1, False),  # 1.1 * 100 is 110.00000000000001
        ("promo", "c8053", 1.11, True),
    ],
)
def test_holdout_buckets(segment: str, pid: str, holdout: float, held: bool) -> None:
    assert oracle_held_out(segment, pid, holdout) is held
    assert is_held_out(segment, pid, holdout) is held


def test_holdout_applies_to_members(both: Both) -> None:
    profiles = [{"profile_id": p} for p in ("p1", "p2", "p3", "c14801", "c8053")]
    segments = {
        "other": {"name": "other", "rule": EVERYONE, "holdout": 49.71},
        "promo": {"name": "promo", "rule": EVERYONE, "holdout": 1.1, "exclusive_group": "g"},
        "zeta": {"name": "zeta", "rule": EVERYONE, "holdout": 50, "exclusive_group": "g"},
    }
    evaluation, _ = both.run(segments, profiles)
    assert members(evaluation, "other", "held_out") == {"p2", "p3"}
    assert members(evaluation, "promo", "held_out") == {"c14801"}  # bucket 7 < 110
    # zeta loses every profile to promo (same priority, name first): nobody left to hold out
    assert members(evaluation, "zeta", "held_out") == set()


def test_holdout_with_integer_profile_ids(tmp_path: Path) -> None:
    """An integer id hashes as its decimal text: "promo:42", "promo:2"."""
    store = make_store(
        [(42, "a@x.com", True), (2, "b@x.com", True)],
        [(42, "order_completed", datetime(2026, 1, 1))],
        profile_columns="profile_id INTEGER, email VARCHAR, email_consent BOOLEAN",
        event_columns="profile_id INTEGER, event VARCHAR, ts TIMESTAMP",
    )
    segment = "name: promo\nholdout: 50\nrule: {attribute: profile_id, op: exists}\n"
    try:
        evaluation = evaluate(
            store,
            load_definitions(write_config(tmp_path, {"promo": segment}), destination_models()),
            as_of=AS_OF,
        )
    finally:
        store.close()
    held = zip([int(p) for p in evaluation.profile_ids], evaluation.held_out["promo"], strict=True)
    assert dict(held) == {2: True, 42: False}  # buckets 2985 and 6095 against 5000


# -- identity: emails ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "email"),
    [
        (" A@X.com ", "a@x.com"),
        ("a@x.com", "a@x.com"),
        ("First.Last+tag@Example.CO.UK", "first.last+tag@example.co.uk"),
        ("not-an-email", None),
        ("a@b", None),
        ("a b@x.com", None),
        ("a@@x.com", None),
        ("@x.com", None),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_emails_normalised(raw: str | None, email: str | None) -> None:
    assert normalise_email(raw) == email
    assert oracle_normalise(raw) == email


def test_evaluation_emails_and_shared_contacts(both: Both) -> None:
    """Two profiles with one email are one contact, a member if either qualifies."""
    profiles = [
        {"profile_id": "p1", "email": " A@X.com ", "region": "CA", "email_consent": False},
        {"profile_id": "p2", "email": "a@x.com", "region": "NY", "email_consent": True},
        {"profile_id": "p3", "email": "not-an-email", "region": "CA"},
        {"profile_id": "p4", "email": None, "region": "CA"},
    ]
    segments = {
        "ca": {"name": "ca", "rule": CA},
        "all": {"name": "all", "rule": EVERYONE},
    }
    evaluation, _ = both.run(segments, profiles)
    assert list(evaluation.emails) == ["a@x.com", "a@x.com", None, None]
    stats = {s.name: s for s in audit(evaluation, profiles_total=4).segments}
    # ca: p1 qualifies (p2 does not), so the contact a@x.com is a member; p3, p4 have no email
    assert (stats["ca"].members, stats["ca"].contacts, stats["ca"].no_valid_email) == (3, 1, 2)
    # all: p1 and p2 are one contact; consent from either (p2) lets it be created
    assert (stats["all"].members, stats["all"].contacts, stats["all"].without_consent) == (4, 1, 0)
