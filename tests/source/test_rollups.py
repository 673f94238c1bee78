"""The rollup's event counts: describing a store that keeps a valid rollup reads only the
events appended since it was built, and says the same as reading the whole table."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connector.evaluate.engine import evaluate
from connector.source import open_store, rollups
from connector.source.duckdb_store import DuckDBStore
from connector.source.store import Store
from tests.evaluate.harness import append_events, load_duckdb, make_oracle_store, write_config

AS_OF = datetime(2026, 11, 23)
T0 = AS_OF - timedelta(days=1)
SEGMENTS = {"buyers": {"name": "buyers", "rule": {"event": "order_completed", "within": "7d"}}}


def _event(pid: str, name: str, ago: timedelta) -> dict[str, Any]:
    return {"profile_id": pid, "event": name, "ts": AS_OF - ago, "amount": 1.0}


@pytest.fixture
def db() -> Iterator[Store]:
    """A store whose rollup was built at T0 over two profiles' events."""
    events = [
        _event("a", "order_completed", timedelta(days=2)),
        _event("a", " Page_View ", timedelta(days=3)),
        _event("b", "order_completed", timedelta(days=30)),
    ]
    store = make_oracle_store([{"profile_id": "a"}, {"profile_id": "b"}], events)
    with (
        tempfile.TemporaryDirectory() as root,
        open_store("duckdb:///:memory:", read_only=False) as db,
    ):
        load_duckdb(store, db)
        assert evaluate(db, write_config(Path(root), SEGMENTS, {}), as_of=T0).mode == "rebuilt"
        yield db


def _whole_table(db: Store) -> list[tuple[Any, ...]]:
    return sorted(Store.event_stats(db), key=repr)


def _scans(db: Store) -> list[str]:
    """The SQL of every query ``discover`` sends."""
    sent: list[str] = []
    original = db.rows

    def spy(query: Any) -> list[tuple[Any, ...]]:
        sent.append(db.sql(query))
        return original(query)

    db.rows = spy  # type: ignore[method-assign]
    try:
        db.discover(refresh=True)
    finally:
        del db.rows
    return sent


def test_appended_events_are_counted_from_the_rows_after_the_watermark(db: Store) -> None:
    append_events(
        db,
        [
            _event("b", "order_completed", timedelta(hours=1)),
            _event("b", "email_open", timedelta(0)),
            _event("a", "late_arrival", timedelta(days=90)),  # late data: an old timestamp
        ],
    )
    schema = db.discover(refresh=True)
    assert sorted(db.event_stats(), key=repr) == _whole_table(db)
    assert schema.event_counts == {
        "order_completed": 3,
        "page_view": 1,
        "email_open": 1,
        "late_arrival": 1,
    }
    assert schema.event_count == 6
    assert schema.latest_event == AS_OF
    events_scans = [q for q in _scans(db) if 'FROM "events"' in q and "GROUP BY" in q]
    assert events_scans and all("rowid >" in q for q in events_scans), events_scans


def test_without_a_valid_rollup_the_whole_table_is_read(db: Store) -> None:
    con = db.con  # type: ignore[attr-defined]
    con.execute("DELETE FROM events WHERE profile_id = 'b'")  # rows gone: the rollup is stale
    assert rollups.read_state(db) is None
    schema = db.discover(refresh=True)
    assert schema.event_counts == {"order_completed": 1, "page_view": 1}
    assert sorted(db.event_stats(), key=repr) == _whole_table(db)


def test_the_counts_go_with_the_rollup(db: Store) -> None:
    assert isinstance(db, DuckDBStore)
    rollups.drop(db)
    tables = {row[0] for row in db.con.execute("SELECT table_name FROM duckdb_tables").fetchall()}
    assert not {t for t in tables if t.startswith("segsync_rollup")}
    assert sorted(db.event_stats(), key=repr) == _whole_table(db)
