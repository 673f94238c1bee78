"""Sums and averages sit exactly on thresholds: the incremental run, the full run and the
oracle agree, on DuckDB (events appended in random chunks, the rollup advanced now and
then) and on PostgreSQL.

Amounts are decimals that binary floating point cannot hold (0.1, 0.2, 0.7, 33.33, ...):
adding them in different orders, or subtracting the ones that left a window from a
stored total, gives different doubles (0.1 + 0.2 != 0.3). Thresholds are drawn from the
exact decimal sums of the profiles' events, so every comparison is decided at its edge.
"""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.definitions.loader import load_definitions
from connector.esp.registry import destination_models
from connector.evaluate.engine import evaluate
from connector.evaluate.incremental import advance
from connector.source import Store, open_store, verdicts
from tests.evaluate.harness import (
    append_events,
    compare,
    load_duckdb,
    load_postgres,
    make_oracle_store,
    write_config,
)
from tests.evaluate.oracle import exact_amount
from tests.evaluate.test_property import PROFILE

AS_OF = datetime(2026, 11, 23, 12, 0, 0)
AMOUNTS = [0.1, 0.2, 0.3, 0.7, 1.1, 2.675, 33.33, 66.67, 99.9, 0.01, -0.1, 0.1, 0.2, None]
#: on both sides of the 30-day window's edge, and inside it
MOMENTS = [AS_OF - timedelta(days=d) for d in (400, 31, 10, 2, 0)]
MOMENTS += [AS_OF - timedelta(days=30, seconds=s) for s in (-1, 0, 1)]
OPS = ["eq", "gte", "lte", "gt", "lt"]
PROFILES = [{"profile_id": f"p{i}", "email": f"p{i}@x.com"} for i in range(3)]
#: every event name a rule uses exists from the start (a profile outside the store)
ORPHAN = {"profile_id": "zz-orphan", "event": "order_completed", "ts": AS_OF, "amount": 1}


def _exact_sums(events: list[dict[str, Any]], since: datetime | None) -> list[Decimal]:
    """Per profile, the exact sum of its amounts (since ``since``), and partial sums."""
    found: list[Decimal] = []
    for profile in PROFILES:
        total = Decimal(0)
        for ev in events:
            if ev["profile_id"] != profile["profile_id"] or ev["amount"] is None:
                continue
            if since is None or ev["ts"] >= since:
                total += exact_amount(ev["amount"])
                found.append(total)
    return found


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Order events and segments comparing their sums and averages with exact values."""
    event = st.fixed_dictionaries(
        {
            "profile_id": st.sampled_from([p["profile_id"] for p in PROFILES]),
            "event": st.just("order_completed"),
            "ts": st.sampled_from(MOMENTS),
            "amount": st.sampled_from(AMOUNTS),
        }
    )
    events = draw(st.lists(event, min_size=2, max_size=16))
    segments: dict[str, Any] = {}
    for index in range(draw(st.integers(2, 4))):
        within = draw(st.sampled_from([None, "30d"]))
        since = None if within is None else AS_OF - timedelta(days=30)
        kind = draw(st.sampled_from(["sum", "sum", "avg"]))
        sums = _exact_sums(events, since) or [Decimal("0.3")]
        value = draw(st.sampled_from(sums))
        if kind == "avg":  # an average that is exact: n equal amounts
            value = exact_amount(draw(st.sampled_from([a for a in AMOUNTS if a is not None])))
        rule: dict[str, Any] = {
            "event": "order_completed",
            kind: {"property": "amount", draw(st.sampled_from(OPS)): float(value)},
        }
        if within is not None:
            rule["within"] = within
        segments[f"s{index}"] = {"name": f"s{index}", "rule": rule}
    return events, segments


def _check(db: Store, events: list[dict[str, Any]], segments: dict[str, Any], root: Path) -> Any:
    store = make_oracle_store(PROFILES, [ORPHAN, *events])
    evaluation, _, report = compare(db, store, root, segments, {}, AS_OF)
    if report:
        pytest.fail(f"{db.dialect} and oracle disagree\n" + "\n".join(report), pytrace=False)
    return evaluation


@pytest.mark.slow
@settings(PROFILE, max_examples=max(20, PROFILE.max_examples // 2))
@given(case=cases(), data=st.data())
def test_incremental_sums_are_exact(
    case: tuple[list[dict[str, Any]], dict[str, Any]], data: st.DataObject
) -> None:
    events, segments = case
    order = data.draw(st.permutations(range(len(events))), label="arrival order")
    cuts = sorted(data.draw(st.lists(st.integers(0, len(events)), max_size=3), label="cuts"))
    bounds = zip([0, *cuts], [*cuts, len(events)], strict=True)
    chunks = [[events[i] for i in order[a:b]] for a, b in bounds]
    back = data.draw(st.sampled_from([timedelta(days=d) for d in (0, 1, 5, 45)]), label="T0")
    with (
        tempfile.TemporaryDirectory() as root,
        open_store("duckdb:///:memory:", read_only=False) as db,
    ):
        defs = write_config(Path(root), segments, {})
        load_duckdb(make_oracle_store(PROFILES, [ORPHAN, *chunks[0]]), db)
        built = evaluate(db, defs, as_of=AS_OF - back)
        assert built.mode == "rebuilt"
        verdicts.drop(db)  # the rollup's sums are under test, not the verdicts kept
        moment = AS_OF - back
        for chunk in chunks[1:]:
            append_events(db, chunk)
            if data.draw(st.booleans(), label="advance the rollup"):
                moment += (AS_OF - moment) / 2
                assert advance(db, moment)
        incremental = _check(db, events, segments, Path(root))
        assert incremental.mode == "rollup"
        full = evaluate(
            db, load_definitions(Path(root), destination_models()), as_of=AS_OF, incremental=False
        )
        assert list(incremental.profile_ids) == list(full.profile_ids)
        for name in segments:
            assert np.array_equal(incremental.qualified[name], full.qualified[name]), name


@pytest.mark.slow
@settings(PROFILE, max_examples=max(10, PROFILE.max_examples // 4))
@given(case=cases())
def test_full_sums_are_exact_on_duckdb(
    duckdb_db: Store, case: tuple[list[dict[str, Any]], dict[str, Any]]
) -> None:
    events, segments = case
    with tempfile.TemporaryDirectory() as root:
        _check(load_duckdb(make_oracle_store(PROFILES, [ORPHAN, *events]), duckdb_db),
               events, segments, Path(root))  # fmt: skip


@pytest.mark.postgres
@settings(PROFILE, max_examples=max(10, PROFILE.max_examples // 4))
@given(case=cases())
def test_sums_are_exact_on_postgres(
    pg_db: Store, case: tuple[list[dict[str, Any]], dict[str, Any]]
) -> None:
    events, segments = case
    with tempfile.TemporaryDirectory() as root:
        _check(load_postgres(pg_db, make_oracle_store(PROFILES, [ORPHAN, *events])),
               events, segments, Path(root))  # fmt: skip


#: n equal amounts each: their average is the amount itself, on either side of a threshold
EQUAL_AMOUNTS = {"p0": (0.1, 3), "p1": (9.99, 7), "p2": (33.33, 3)}


def _equal_amount_case() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    events = [
        {"profile_id": pid, "event": "order_completed", "ts": AS_OF - timedelta(days=i + 1),
         "amount": amount}
        for pid, (amount, n) in EQUAL_AMOUNTS.items() for i in range(n)
    ]  # fmt: skip
    segments = {
        f"{op}-{pid}": {
            "name": f"{op}-{pid}",
            "rule": {"event": "order_completed", "avg": {"property": "amount", op: amount}},
        }
        for pid, (amount, _) in EQUAL_AMOUNTS.items()
        for op in ("gte", "lte", "eq")
    }
    return events, segments


@pytest.mark.parametrize("kind", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_an_average_of_equal_amounts_is_that_amount(
    kind: str, request: pytest.FixtureRequest
) -> None:
    """Three orders of 0.1 average 0.1 (a double quotient gives 0.09999999999999999, which
    would fail ``gte: 0.1``), seven of 9.99 average 9.99, three of 33.33 average 33.33."""
    events, segments = _equal_amount_case()
    db: Store = request.getfixturevalue("duckdb_db" if kind == "duckdb" else "pg_db")
    oracle_store = make_oracle_store(PROFILES, [ORPHAN, *events])
    loaded = load_duckdb(oracle_store, db) if kind == "duckdb" else load_postgres(db, oracle_store)
    with tempfile.TemporaryDirectory() as root:
        evaluation = _check(loaded, events, segments, Path(root))
    ids = list(evaluation.profile_ids)
    compare_as = {"gte": Decimal.__ge__, "lte": Decimal.__le__, "eq": Decimal.__eq__}
    for name in segments:
        op, pid = name.split("-")
        threshold = exact_amount(EQUAL_AMOUNTS[pid][0])
        expected = {
            other
            for other, (amount, _) in EQUAL_AMOUNTS.items()
            if compare_as[op](exact_amount(amount), threshold)
        }
        members = {ids[i] for i in np.flatnonzero(evaluation.qualified[name])}
        assert members == expected, name
