"""The value parts of ``distinct_count`` and windowed min/max: a run from the rollup
recomputes only the profiles the change touches, and must find every one of them — those
with new events, and those none of whose events is new but one of which left the window
since the rollup was built — while the others keep their value of the rollup's instant."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from connector.evaluate.engine import Evaluation, evaluate
from connector.evaluate.incremental import advance
from connector.source import open_store, verdicts
from tests.evaluate.harness import load_duckdb, make_oracle_store, write_config

AS_OF = datetime(2026, 11, 23)
T0 = AS_OF - timedelta(days=1)  # the rollup's instant
WEEK = 7 * 86400
ORDER = "order_completed"
#: per profile: (seconds before AS_OF, category, amount); the window is 7 days
EVENTS = {
    # nothing new: books (the cheapest) and music (the dearest) leave the window after T0
    "edge-moved": [(WEEK + 1, "books", 1.0), (WEEK + 2, "music", 10.0),
                   (3 * 86400, "toys", 5.0), (2 * 86400, "games", 4.0)],
    # new events only (after T0)
    "new-events": [(3 * 86400, "toys", 5.0), (3600, "books", 0.5)],
    # nothing new, nothing left: the value of T0
    "untouched": [(3 * 86400, "toys", 5.0), (2 * 86400, "games", 6.0)],
    # on the window's edge at AS_OF: still in, so unchanged
    "on-the-edge": [(WEEK, "books", 1.0), (2 * 86400, "toys", 5.0)],
}  # fmt: skip
METRICS = {
    "cats": {"event": ORDER, "aggregate": "distinct_count", "property": "category",
             "within": "7d"},
}  # fmt: skip
RULES = {
    "cats-4": {"metric": "cats", "gte": 4},
    "cats-2": {"metric": "cats", "eq": 2},
    "min-below-2": {"event": ORDER, "within": "7d", "min": {"property": "amount", "lt": 2}},
    "min-4": {"event": ORDER, "within": "7d", "min": {"property": "amount", "eq": 4}},
    "max-10": {"event": ORDER, "within": "7d", "max": {"property": "amount", "gte": 10}},
    "max-5": {"event": ORDER, "within": "7d", "max": {"property": "amount", "eq": 5}},
}
EXPECTED = {
    "cats-4": set(),  # edge-moved had 4 at T0
    "cats-2": {"edge-moved", "new-events", "untouched", "on-the-edge"},
    "min-below-2": {"new-events", "on-the-edge"},
    "min-4": {"edge-moved"},
    "max-10": set(),  # edge-moved's 10 left
    "max-5": {"edge-moved", "new-events", "on-the-edge"},
}
#: at T0 (the rollup's own values)
AT_T0 = {
    "cats-4": {"edge-moved"},
    "cats-2": {"untouched", "on-the-edge"},
    "min-below-2": {"edge-moved", "on-the-edge"},
    "min-4": set(),
    "max-10": {"edge-moved"},
    "max-5": {"new-events", "on-the-edge"},
}


def _members(result: Evaluation) -> dict[str, set[str]]:
    ids = [str(p) for p in result.profile_ids]
    return {
        name: {pid for pid, yes in zip(ids, result.qualified[name], strict=True) if yes}
        for name in RULES
    }


def test_value_parts_recompute_every_touched_profile() -> None:
    events = [
        {"profile_id": pid, "event": ORDER, "ts": AS_OF - timedelta(seconds=ago),
         "category": category, "amount": amount}
        for pid, rows in EVENTS.items()
        for ago, category, amount in rows
    ]  # fmt: skip
    store = make_oracle_store([{"profile_id": pid} for pid in EVENTS], events)
    segments = {name: {"name": name, "rule": rule} for name, rule in RULES.items()}
    with (
        tempfile.TemporaryDirectory() as root,
        open_store("duckdb:///:memory:", read_only=False) as db,
    ):
        defs = write_config(Path(root), segments, METRICS)
        load_duckdb(store, db)
        # the rollup is built at T0 from the events up to then; the later event is in the
        # table already (a run reads events after T0 by their time, not only by rowid)
        built = evaluate(db, defs, as_of=T0)
        assert built.mode == "rebuilt"
        assert _members(built) == AT_T0
        verdicts.drop(db)  # the rollup's values are under test, not the snapshot's
        result = evaluate(db, defs, as_of=AS_OF)
        assert result.mode == "rollup"
        assert _members(result) == EXPECTED
        assert _members(evaluate(db, defs, as_of=AS_OF, incremental=False)) == EXPECTED
        assert advance(db, AS_OF)  # the values kept at AS_OF say the same
        advanced = evaluate(db, defs, as_of=AS_OF)
        assert advanced.mode == "rollup"
        assert _members(advanced) == EXPECTED
