"""Incremental runs equal full runs and the oracle while events arrive in random chunks.

A rollup is built at an earlier instant ``T0`` from a first chunk of events; the other
chunks are appended afterwards (late data included: their timestamps are anywhere), the
rollup is now and then advanced to an instant between ``T0`` and ``as_of``; then a run at
``as_of`` from the rollup must equal a full run and the oracle, for every profile.
"""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from connector.definitions.loader import load_definitions
from connector.esp.registry import destination_models
from connector.evaluate.engine import evaluate
from connector.evaluate.incremental import advance
from connector.source import open_store, rollups, verdicts
from connector.source.store import Store
from tests.evaluate.harness import (
    append_events,
    arrival_chunks,
    compare,
    load_duckdb,
    make_oracle_store,
    same_rows,
    write_config,
)
from tests.evaluate.oracle import OracleStore
from tests.evaluate.strategies import Example, examples, keyed_examples
from tests.evaluate.test_property import PROFILE

#: how long before as_of the rollup is first built: none, a second, across window edges
BACKS = [timedelta(0), timedelta(seconds=1), timedelta(days=1), timedelta(days=3, hours=5)]
BACKS += [timedelta(days=8), timedelta(days=40), timedelta(days=500)]


@pytest.mark.slow
@settings(PROFILE, max_examples=max(10, PROFILE.max_examples // 2))
@given(example=examples(), data=st.data())
def test_incremental_equals_full_and_oracle(example: Example, data: st.DataObject) -> None:
    check(example, data)


@pytest.mark.slow
@settings(PROFILE, max_examples=max(10, PROFILE.max_examples // 2))
@given(example=keyed_examples(), data=st.data())
def test_keyed_rollup_parts_equal_full_and_oracle(example: Example, data: st.DataObject) -> None:
    """The features kept in tables of their own (windowed distinct_count, min/max,
    ``per``) and not_followed_by with ``within``, every rule one of them."""
    check(example, data)


def check(example: Example, data: st.DataObject) -> None:
    """Events arrive in random chunks after the rollup is built; a run from the rollup
    equals a full run and the oracle."""
    chunks = arrival_chunks(example.store.events, data)
    t0 = example.as_of - data.draw(st.sampled_from(BACKS), label="as_of - T0")
    first = OracleStore(
        profiles=example.store.profiles,
        events=chunks[0],
        profile_types=example.store.profile_types,
        event_types=example.store.event_types,
    )
    with (
        tempfile.TemporaryDirectory() as root,
        open_store("duckdb:///:memory:", read_only=False) as db,
    ):
        defs = write_config(Path(root), example.segments, example.metrics)
        load_duckdb(first, db)
        built = evaluate(db, defs, as_of=t0)
        event(f"rollup: {built.mode}")
        if data.draw(st.booleans(), label="the rollup alone (no verdict snapshot)"):
            verdicts.drop(db)
        moment = t0
        for chunk in chunks[1:]:
            append_events(db, chunk)
            if data.draw(st.booleans(), label="advance the rollup"):
                step = data.draw(st.sampled_from([0.0, 0.5, 1.0]), label="to")
                moment += (example.as_of - moment) * step
                assert advance(db, moment) == (built.mode != "full")
        # the store's description from the rollup's counts and the rows since: the same
        assert sorted(db.event_stats(), key=repr) == sorted(Store.event_stats(db), key=repr)
        incremental, _, report = compare(
            db, example.store, Path(root), example.segments, example.metrics, example.as_of
        )
        if report:
            pytest.fail("incremental run and oracle disagree\n" + "\n".join(report), False)
        if built.mode != "full":
            assert incremental.mode in ("rollup", "snapshot")
        event(f"run: {incremental.mode}")
        full = evaluate(
            db,
            load_definitions(Path(root), destination_models()),
            as_of=example.as_of,
            incremental=False,
        )
        problems = same_rows(incremental, full, what="incremental")
        assert not problems, "\n".join(problems)
        assert rollups.read_state(db) is not None or built.mode == "full"


AS_OF = datetime(2026, 11, 23)
WEEK = timedelta(days=7)
#: per kind: a rule, events (seconds before as_of, value) and who qualifies at as_of; the
#: rollup is built a day earlier, when the oldest event was still in the 7-day window
EDGES: dict[str, tuple[dict[str, Any], list[tuple[int, str | None, float]], bool]] = {
    # "books" was last seen a second before the window: two categories, not three
    "distinct_count": (
        {"metric": "cats", "gte": 3},
        [(7 * 86400 + 1, "books", 5.0), (3600, "toys", 5.0), (60, "games", 5.0)],
        False,
    ),
    # the cheapest order left the window; the next cheapest (4) is not the latest (7)
    "min": (
        {
            "event": "order_completed",
            "within": "7d",
            "min": {"property": "amount", "gt": 3, "lt": 5},
        },
        [(7 * 86400 + 1, "a", 1.0), (86400 * 3, "a", 4.0), (60, "a", 7.0)],
        True,
    ),
    # the dearest order left the window; the next dearest (6) is not the latest (2)
    "max": (
        {
            "event": "order_completed",
            "within": "7d",
            "max": {"property": "amount", "gt": 5, "lt": 8},
        },
        [(7 * 86400 + 1, "a", 9.0), (86400 * 3, "a", 6.0), (60, "a", 2.0)],
        True,
    ),
    # one of the three "a" orders left the window
    "per": (
        {"event": "order_completed", "within": "7d", "count": {"gte": 3}, "per": "category"},
        [(7 * 86400 + 1, "a", 1.0), (86400 * 3, "a", 1.0), (60, "a", 1.0), (30, "b", 1.0)],
        False,
    ),
    # on the window's edge itself: still in
    "per-edge": (
        {"event": "order_completed", "within": "7d", "count": {"gte": 3}, "per": "category"},
        [(7 * 86400, "a", 1.0), (86400 * 3, "a", 1.0), (60, "a", 1.0)],
        True,
    ),
}


@pytest.mark.parametrize("kind", sorted(EDGES))
def test_keyed_parts_drop_what_left_the_window(kind: str) -> None:
    """The rollup, built when the oldest event was inside the window, is read a day later
    when it is a second outside (or exactly on the edge): it no longer counts."""
    rule, rows, expected = EDGES[kind]
    events = [
        {"profile_id": "p1", "event": "order_completed", "ts": AS_OF - timedelta(seconds=ago),
         "category": category, "amount": amount}
        for ago, category, amount in rows
    ]  # fmt: skip
    store = make_oracle_store([{"profile_id": "p1"}], events)
    metrics = {
        "cats": {"event": "order_completed", "aggregate": "distinct_count",
                 "property": "category", "within": "7d"}
    }  # fmt: skip
    with (
        tempfile.TemporaryDirectory() as root,
        open_store("duckdb:///:memory:", read_only=False) as db,
    ):
        defs = write_config(Path(root), {"s": {"name": "s", "rule": rule}}, metrics)
        load_duckdb(store, db)
        assert evaluate(db, defs, as_of=AS_OF - timedelta(days=1)).mode == "rebuilt"
        assert evaluate(db, defs, as_of=AS_OF).mode == "snapshot"
        verdicts.drop(db)  # then the rollup's parts alone
        result = evaluate(db, defs, as_of=AS_OF)
        assert result.mode == "rollup"
        assert bool(result.qualified["s"].any()) is expected
        full = evaluate(db, defs, as_of=AS_OF, incremental=False)
        assert bool(full.qualified["s"].any()) is expected
        assert advance(db, AS_OF)  # advanced, the rollup says the same
        assert bool(evaluate(db, defs, as_of=AS_OF).qualified["s"].any()) is expected
