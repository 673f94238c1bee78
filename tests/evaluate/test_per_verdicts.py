"""The verdicts of ``per`` conditions kept in the rollup's row per profile (value parts
``gv``): after events are appended, a run recomputes only the profiles whose groups the
change touches — a matching event added (after the rollup's instant, or late), or a counted
one that left the window — from their groups and the delta, and every other profile keeps
its verdict of the rollup's instant. Each test (aggregate and comparisons) is a part of its
own, so a changed threshold rebuilds the rollup."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from connector.evaluate.engine import Evaluation, evaluate
from connector.evaluate.incremental import advance, segment_features
from connector.source import open_store, rollups, verdicts
from connector.source.store import Store
from tests.evaluate.harness import append_events, load_duckdb, make_oracle_store, write_config

AS_OF = datetime(2026, 11, 23)
T0 = AS_OF - timedelta(days=1)  # the rollup's instant
DAY = 86400
WEEK = 7 * DAY
ORDER = "order_completed"
#: per profile: events loaded before the rollup is built and events appended after it,
#: each (seconds before AS_OF, category, amount); the window is 7 days
LOADED = {
    "new-events": [(3 * DAY, "books", 5.0), (2 * DAY, "books", 5.0)],
    # the first one is exactly on T0's edge (counted then), gone at AS_OF: nothing new
    "edge-moved": [(WEEK + DAY, "toys", 2.0), (3 * DAY, "toys", 5.0), (2 * DAY, "toys", 5.0)],
    # exactly on AS_OF's edge: still in, nothing changes
    "on-the-edge": [(WEEK, "toys", 5.0), (3 * DAY, "toys", 5.0), (2 * DAY, "toys", 5.0)],
    "untouched": [(3 * DAY, "games", 5.0), (2 * DAY, "games", 5.0), (DAY + 1, "games", 5.0)],
    "other-group": [(3 * DAY, "toys", 5.0), (2 * DAY, "toys", 5.0), (DAY + 1, "toys", 5.0)],
    "late": [(3 * DAY, "books", 5.0), (2 * DAY, "books", 5.0)],
    "null-group": [(3 * DAY, "games", 5.0), (2 * DAY, "games", 5.0), (DAY + 1, "games", 5.0)],
    # every event leaves the window: no group at AS_OF
    "all-gone": [(WEEK + 12 * 3600, "toys", 5.0)] * 3,
}  # fmt: skip
APPENDED = {
    "new-events": [(3600, "books", 5.0)],
    "other-group": [(3600, "books", 1.0)],  # touched; its toys still pass
    "late": [(DAY + 3600, "books", 5.0)],  # before T0, appended after the rollup: late data
    "null-group": [(3600, None, 50.0)],  # in no group: changes nothing
}
#: touched by the change (recomputed); the others keep their verdicts of T0
TOUCHED = {"new-events", "edge-moved", "other-group", "late", "all-gone"}
PER = {"event": ORDER, "within": "7d", "per": "category"}
RULES: dict[str, dict[str, Any]] = {
    "thrice": {**PER, "count": {"gte": 3}},
    "twice": {**PER, "count": {"gte": 2, "lte": 2}},
    "sum-10": {**PER, "sum": {"property": "amount", "gte": 10}},
    "avg-5": {**PER, "avg": {"property": "amount", "eq": 5}},
}
EVERYONE = set(LOADED)
AT_T0 = {
    "thrice": {"edge-moved", "on-the-edge", "untouched", "other-group", "null-group", "all-gone"},
    "twice": {"new-events", "late"},
    "sum-10": EVERYONE,
    "avg-5": EVERYONE - {"edge-moved"},
}
EXPECTED = {
    "thrice": EVERYONE - {"edge-moved", "all-gone"},
    "twice": {"edge-moved"},
    "sum-10": EVERYONE - {"all-gone"},
    "avg-5": EVERYONE - {"all-gone"},
}


def _rows(events: dict[str, list[tuple[int, str | None, float]]]) -> list[dict[str, Any]]:
    return [
        {"profile_id": pid, "event": ORDER, "ts": AS_OF - timedelta(seconds=ago),
         "category": category, "amount": amount}
        for pid, rows in events.items()
        for ago, category, amount in rows
    ]  # fmt: skip


def _members(result: Evaluation) -> dict[str, set[str]]:
    ids = [str(p) for p in result.profile_ids]
    return {
        name: {pid for pid, yes in zip(ids, result.qualified[name], strict=True) if yes}
        for name in result.qualified
    }


def _built_then_appended(db: Store, root: Path) -> Any:
    """The rollup built at T0 from the loaded events, then the others appended."""
    segments = {name: {"name": name, "rule": rule} for name, rule in RULES.items()}
    defs = write_config(root, segments, {})
    load_duckdb(make_oracle_store([{"profile_id": p} for p in LOADED], _rows(LOADED)), db)
    built = evaluate(db, defs, as_of=T0)
    assert built.mode == "rebuilt"
    assert _members(built) == AT_T0
    verdicts.drop(db)  # the rollup's verdicts are under test, not the snapshot's
    append_events(db, _rows(APPENDED))
    return defs


def _verdicts(db: Store) -> dict[str, tuple[str, list[list[Any]]]]:
    """The rollup's ``gv`` parts: column -> (aggregate, comparisons)."""
    state = rollups.read_state(db)
    assert state is not None
    return {
        column: (spec["test"]["aggregate"], spec["test"]["comparisons"])
        for column, spec in state.parts.items()
        if spec["kind"] == "gv"
    }


def test_per_verdicts_after_appends_equal_a_full_run() -> None:
    with (
        tempfile.TemporaryDirectory() as root,
        open_store("duckdb:///:memory:", read_only=False) as db,
    ):
        defs = _built_then_appended(db, Path(root))
        assert sorted(_verdicts(db).values()) == [
            ("avg", [["eq", 5]]),
            ("count", [["gte", 2], ["lte", 2]]),
            ("count", [["gte", 3]]),
            ("sum", [["gte", 10]]),
        ]
        result = evaluate(db, defs, as_of=AS_OF)
        assert result.mode == "rollup"
        assert _members(result) == EXPECTED
        assert _members(evaluate(db, defs, as_of=AS_OF, incremental=False)) == EXPECTED
        assert advance(db, AS_OF)  # `load events --append` moves the verdicts kept
        advanced = evaluate(db, defs, as_of=AS_OF)
        assert advanced.mode == "rollup"
        assert _members(advanced) == EXPECTED


def test_only_touched_profiles_are_recomputed() -> None:
    """With every verdict kept at T0 flipped, the run shows the flipped verdict for the
    profiles the change did not touch (read as kept) and the true one for the others (all
    recomputed, whichever way they were touched)."""
    with (
        tempfile.TemporaryDirectory() as root,
        open_store("duckdb:///:memory:", read_only=False) as db,
    ):
        defs = _built_then_appended(db, Path(root))
        con = db.con  # type: ignore[attr-defined]
        flips = ", ".join(f"{c} = NOT coalesce({c}, FALSE)" for c in _verdicts(db))
        con.execute(f"UPDATE {rollups.ROLLUP} SET {flips}")
        result = evaluate(db, defs, as_of=AS_OF)
        assert result.mode == "rollup"
        flipped = {
            name: (EXPECTED[name] & TOUCHED) | (EVERYONE - TOUCHED - AT_T0[name]) for name in RULES
        }
        assert _members(result) == flipped


def test_a_changed_threshold_rebuilds_the_verdicts() -> None:
    with (
        tempfile.TemporaryDirectory() as root,
        open_store("duckdb:///:memory:", read_only=False) as db,
    ):
        _built_then_appended(db, Path(root))
        rule = {**PER, "count": {"gte": 2}}
        defs = write_config(Path(root), {"thrice": {"name": "thrice", "rule": rule}}, {})
        result = evaluate(db, defs, as_of=AS_OF)
        assert result.mode == "rebuilt"
        assert _members(result)["thrice"] == EVERYONE - {"all-gone"}
        assert ("count", [["gte", 2]]) in _verdicts(db).values()


def test_validate_lists_each_per_test_as_kept() -> None:
    with tempfile.TemporaryDirectory() as root:
        segments = {name: {"name": name, "rule": rule} for name, rule in RULES.items()}
        defs = write_config(Path(root), segments, {})
        db = load_duckdb(make_oracle_store([{"profile_id": "p"}], _rows(LOADED)))
        schema = db.discover()
        lines = {name: segment_features(defs, schema, name, AS_OF) for name in RULES}
        db.close()
    assert lines["twice"] == [f"count gte 2 lte 2 of {ORDER} per category, 7d [rollup]"]
    assert lines["avg-5"] == [f"avg(amount) eq 5 of {ORDER} per category, 7d [rollup]"]
