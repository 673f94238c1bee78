"""Evaluate hand-written cases with segsync (DuckDB or PostgreSQL; Spark local for the
property test) and with the oracle.

``both.qualifying(rule, profiles, events)`` returns who qualifies, after asserting that the
evaluator and the oracle agree on every profile. The PostgreSQL backend uses a schema of its
own for the test session, dropped at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from connector.evaluate.engine import Evaluation
from connector.source import Store, open_store
from tests.evaluate.harness import (
    compare,
    load_duckdb,
    load_postgres,
    make_oracle_store,
    postgres_layout,
    spark_layout,
)
from tests.evaluate.oracle import OracleResult, OracleStore

PG_URL = os.environ.get("SEGSYNC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
AS_OF = datetime(2026, 11, 23, 12, 0, 0)
#: events of a profile that is not in the store, so that every event name a rule uses exists
ORPHANS = [
    {"profile_id": "zz-orphan", "event": name, "ts": datetime(2000, 1, 1)}
    for name in ("order_completed", "added_to_cart", "page_view")
]


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str]:
    """A uniquely named schema for this test session (one per xdist worker)."""
    name = f"segsync_eval_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {name}")
    yield name
    with psycopg.connect(PG_URL, autocommit=True) as con:
        con.execute(f"DROP SCHEMA {name} CASCADE")


@pytest.fixture(scope="session")
def pg_db(pg_schema: str) -> Iterator[Store]:
    """One PostgreSQL connection for the session; each case replaces the tables."""
    db = open_store(PG_URL, postgres_layout(pg_schema))
    yield db
    db.close()


@pytest.fixture(scope="session")
def spark_db(spark_url: str) -> Iterator[Store]:
    """The Spark local store of the test session (one SparkSession per process); each case
    replaces its temporary views."""
    db = open_store(spark_url, spark_layout())
    yield db
    db.close()


@pytest.fixture(scope="module")
def duckdb_db() -> Iterator[Store]:
    """One in-memory DuckDB per module; each case replaces the tables (opening costs more
    than evaluating these tiny stores)."""
    db = open_store("duckdb:///:memory:", read_only=False)
    yield db
    db.close()


class Both:
    """Runs the evaluator on one backend and the oracle; they must agree on every profile."""

    def __init__(self, root: Path, load: Callable[[OracleStore], Store], backend: str) -> None:
        self.root = root
        self.load = load
        self.backend = backend

    def run(
        self,
        segments: Mapping[str, Mapping[str, Any]],
        profiles: Sequence[Mapping[str, Any]],
        events: Sequence[Mapping[str, Any]] = (),
        metrics: Mapping[str, Any] | None = None,
        as_of: datetime = AS_OF,
        previous: Mapping[str, Sequence[Any]] | None = None,
    ) -> tuple[Evaluation, OracleResult]:
        store = make_oracle_store(profiles, [*events, *ORPHANS])
        db = self.load(store)
        evaluation, expected, report = compare(
            db, store, self.root, segments, metrics or {}, as_of, previous=previous
        )
        assert not report, "evaluator and oracle disagree\n" + "\n".join(report)
        return evaluation, expected

    def qualifying(
        self,
        rule: Mapping[str, Any],
        profiles: Sequence[Mapping[str, Any]],
        events: Sequence[Mapping[str, Any]] = (),
        metrics: Mapping[str, Any] | None = None,
        as_of: datetime = AS_OF,
        previous: Sequence[Any] | None = None,
    ) -> set[str]:
        """Who qualifies for ``rule`` (the evaluator's answer, equal to the oracle's);
        ``previous``: who qualified at the segment's last run (for ``hysteresis``)."""
        segments = {"seg": {"name": "seg", "rule": rule}}
        before = None if previous is None else {"seg": previous}
        evaluation, _ = self.run(segments, profiles, events, metrics, as_of, before)
        rows = zip(evaluation.profile_ids, evaluation.qualified["seg"], strict=True)
        return {str(pid) for pid, ok in rows if ok}


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def both(request: pytest.FixtureRequest, tmp_path: Path, duckdb_db: Store) -> Both:
    """The evaluator on DuckDB and on PostgreSQL, each checked against the oracle."""
    if request.param == "duckdb":
        return Both(tmp_path, lambda store: load_duckdb(store, duckdb_db), "duckdb")
    pg: Store = request.getfixturevalue("pg_db")
    return Both(tmp_path, lambda store: load_postgres(pg, store), "postgres")


@pytest.fixture
def duck(tmp_path: Path, duckdb_db: Store) -> Both:
    """The evaluator on DuckDB only, checked against the oracle."""
    return Both(tmp_path, lambda store: load_duckdb(store, duckdb_db), "duckdb")
