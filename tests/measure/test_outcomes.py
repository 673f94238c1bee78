"""The outcome scan on both store backends against a loop over the events; id lookups."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg
import pytest

from connector.definitions.kpis import Kpis
from connector.measure.outcomes import Outcomes, scan_outcomes
from connector.settings import StoreLayout
from connector.source import Store, open_store
from tests.conftest import make_store
from tests.measure.conftest import EVENT_COLUMNS, PROFILE_COLUMNS, T
from tests.measure.test_report_cmd import WINDOW, generate


def expected(events: list[dict[str, Any]]) -> dict[str, tuple[int, float]]:
    found: dict[str, tuple[int, float]] = {}
    for e in events:
        if e["event"].strip().lower() == "order_completed" and T < e["ts"] <= T + WINDOW:
            c, r = found.get(e["profile_id"], (0, 0.0))
            found[e["profile_id"]] = (c + 1, r + (e.get("amount") or 0.0))
    return found


def rows(items: list[dict[str, Any]], columns: dict[str, str]) -> list[tuple[Any, ...]]:
    return [tuple(item.get(c) for c in columns) for item in items]


@pytest.fixture
def pg_store(postgres_url: str) -> Iterator[tuple[str, Store]]:
    schema = f"segsync_measure_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    layout = StoreLayout(profiles_table=f"{schema}.profiles", events_table=f"{schema}.events")
    store = open_store(postgres_url, layout)
    yield schema, store
    store.close()
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute(f"DROP SCHEMA {schema} CASCADE")


def _check(store: Store, events: list[dict[str, Any]]) -> None:
    outcomes = scan_outcomes(store, Kpis(), T)
    want = expected(events)
    assert sorted(outcomes.profile_ids.tolist()) == sorted(want)
    c, r = outcomes.lookup(np.asarray([*sorted(want), "nobody"], dtype=object))
    assert c.tolist() == [want[p][0] for p in sorted(want)] + [0]
    assert r.tolist() == pytest.approx([want[p][1] for p in sorted(want)] + [0.0])


def test_duckdb_scan_matches_a_loop() -> None:
    profiles, events = generate(11)
    store = make_store(
        rows(profiles, PROFILE_COLUMNS),
        rows(events, EVENT_COLUMNS),
        profile_columns=", ".join(f"{k} {v}" for k, v in PROFILE_COLUMNS.items()),
        event_columns=", ".join(f"{k} {v}" for k, v in EVENT_COLUMNS.items()),
    )
    try:
        _check(store, events)
    finally:
        store.close()


@pytest.mark.postgres
def test_postgres_scan_matches_a_loop(pg_store: tuple[str, Store], postgres_url: str) -> None:
    schema, store = pg_store
    profiles, events = generate(12)
    types = {"DOUBLE": "DOUBLE PRECISION"}
    with psycopg.connect(postgres_url, autocommit=True) as con:
        for table, columns, items in (("profiles", PROFILE_COLUMNS, profiles),
                                      ("events", EVENT_COLUMNS, events)):  # fmt: skip
            body = ", ".join(f"{k} {types.get(v, v)}" for k, v in columns.items())
            con.execute(f"CREATE TABLE {schema}.{table} ({body})")
            with con.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO {schema}.{table} VALUES ({', '.join('%s' for _ in columns)})",
                    rows(items, columns),
                )
    store.discover(refresh=True)
    _check(store, events)


def test_integer_and_text_ids_are_looked_up_alike() -> None:
    ints = Outcomes(np.array([2, 5, 9]), np.array([1, 2, 3]), np.array([1.0, 2.0, 3.0]))
    c, r = ints.lookup(np.array([9, 1, 5, 10], dtype=np.int64))
    assert c.tolist() == [3, 0, 2, 0] and r.tolist() == [3.0, 0.0, 2.0, 0.0]
    texts = Outcomes(np.array(["a", "c"], dtype=object), np.array([1, 4]), np.array([5.0, 6.0]))
    c, _ = texts.lookup(np.array(["c", "b", "a"], dtype=object))
    assert c.tolist() == [4, 0, 1]
    assert ints.lookup(np.zeros(0, dtype=np.int64))[0].size == 0
