"""Schema discovery on real DuckDB and PostgreSQL stores."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import duckdb
import psycopg
import pytest
from sqlglot import exp
from sqlglot import parse_one as sqlglot_parse

from connector.errors import ConfigError, DependencyError
from connector.settings import StoreLayout
from connector.source import ColumnType, Store, open_store

PG_URL = os.environ.get("SEGSYNC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
PROFILES = [("p1", "a@x.com", True, "CA", 30, 1.5, False, datetime(2026, 1, 1), 1.0, 2.0)]
EVENTS = [
    ("p1", " Order_Completed", datetime(2026, 11, 1, 12), "tv", 9.5, None),
    ("p1", "page_view", datetime(2026, 11, 2, 8), None, None, None),
]


def test_duckdb_discovery(store_factory: Callable[..., Store]) -> None:
    schema = store_factory(PROFILES, EVENTS).discover()
    assert schema.profile_columns["age"] is ColumnType.NUMBER
    assert schema.profile_columns["vip"] is ColumnType.BOOLEAN
    assert schema.profile_columns["signup_at"] is ColumnType.TIMESTAMP
    assert schema.properties == {
        "category": ColumnType.TEXT,
        "amount": ColumnType.NUMBER,
        "destination": ColumnType.TEXT,
    }
    assert schema.event_names == {"order_completed", "page_view"}
    assert schema.latest_event == datetime(2026, 11, 2, 8)
    assert (schema.profile_count, schema.event_count) == (1, 2)


def test_missing_duckdb_file_is_not_created(tmp_path: Path) -> None:
    target = tmp_path / "nope.duckdb"
    with pytest.raises(ConfigError) as info:
        open_store(f"duckdb:///{target}")
    assert "not found" in str(info.value) and "segsync demo" in str(info.value)
    assert not target.exists()


def test_missing_table_and_column(store_factory: Callable[..., Store]) -> None:
    store = store_factory(PROFILES, EVENTS)
    store.layout = StoreLayout(events_table="evts")
    with pytest.raises(ConfigError, match="table 'evts' not found"):
        store.discover()
    store.layout = StoreLayout(email="mail")
    with pytest.raises(ConfigError, match="has no column 'mail'"):
        store.discover(refresh=True)


def test_ts_must_be_a_timestamp(store_factory: Callable[..., Store]) -> None:
    store = store_factory(
        [("p1", "a@x.com")],
        [("p1", "x", "yesterday")],
        profile_columns="profile_id VARCHAR, email VARCHAR",
        event_columns="profile_id VARCHAR, event VARCHAR, ts VARCHAR",
    )
    with pytest.raises(ConfigError, match="must be a timestamp"):
        store.discover()


def test_profile_id_types_must_match(store_factory: Callable[..., Store]) -> None:
    store = store_factory(
        [(1, "a@x.com")],
        [("1", "x", datetime(2026, 1, 1))],
        profile_columns="profile_id INTEGER, email VARCHAR",
        event_columns="profile_id VARCHAR, event VARCHAR, ts TIMESTAMP",
    )
    with pytest.raises(ConfigError, match="must have the same type"):
        store.discover()


@pytest.fixture
def pg_schema() -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {name}")
        con.execute(
            f"CREATE TABLE {name}.profiles (profile_id bigint, email text, email_consent boolean,"
            " clv numeric(10,2), signup_at date)"
        )
        con.execute(
            f"CREATE TABLE {name}.events (profile_id bigint, event text, ts timestamptz,"
            " amount double precision)"
        )
        con.execute(f"INSERT INTO {name}.profiles VALUES (1, 'a@x.com', true, 3.5, '2026-01-01')")
        con.execute(f"INSERT INTO {name}.events VALUES (1, 'Buy', '2026-11-01 12:00:00+02', 1.0)")
        try:
            yield name
        finally:
            con.execute(f"DROP SCHEMA {name} CASCADE")


@pytest.mark.postgres
def test_postgres_discovery(pg_schema: str) -> None:
    layout = StoreLayout(profiles_table=f"{pg_schema}.profiles", events_table=f"{pg_schema}.events")
    with open_store(PG_URL, layout) as store:
        schema = store.discover()
    assert schema.profile_columns == {
        "profile_id": ColumnType.NUMBER,
        "email": ColumnType.TEXT,
        "email_consent": ColumnType.BOOLEAN,
        "clv": ColumnType.NUMBER,
        "signup_at": ColumnType.DATE,
    }
    assert schema.event_names == {"buy"}
    assert schema.latest_event == datetime(2026, 11, 1, 10)  # UTC


def test_postgres_unreachable_is_a_dependency_failure() -> None:
    with pytest.raises(DependencyError) as info:
        open_store("postgresql://nobody:pw@127.0.0.1:1/none")
    assert info.value.exit_code == 2
    assert "cannot connect to the customer store postgresql://nobody@127.0.0.1:1/none" in str(
        info.value
    )
    assert "pw" not in str(info.value).replace("postgresql://nobody@", "")


def _mixed_profiles() -> list[tuple[object, ...]]:
    base = (datetime(2026, 1, 1), 1.0, 2.0)
    return [
        ("p1", "Shared@x.com ", True, None, None, None, False, *base),
        ("p2", "shared@X.com", False, "CA", 31, 2.0, False, *base),
        ("p3", "unknown@x.com", True, "NY", 32, 3.0, False, *base),
        ("p4", "unknown@x.com", None, "NY", 33, 4.0, False, *base),
        ("p5", "agreed@x.com", True, "NY", 34, 5.0, False, *base),
        ("p6", "agreed@x.com", True, "NY", 35, 6.0, False, *base),
        ("p7", None, False, "TX", 36, 7.0, False, *base),
    ]


def test_duckdb_null_values_come_back_as_none_never_as_text(
    store_factory: Callable[..., Store],
) -> None:
    store = store_factory(_mixed_profiles(), EVENTS)
    query = (
        exp.select("profile_id", "email", "region", "age").from_("profiles").order_by("profile_id")
    )
    columns = store.columns(query)
    assert list(columns["region"]) == [None, "CA", "NY", "NY", "NY", "NY", "TX"]
    assert columns["email"][6] is None
    assert columns["age"][0] is None and columns["age"][1] == 31
    assert "?" not in [str(v) for c in columns.values() for v in c]


def test_a_shared_email_has_consent_only_if_every_profile_has_it(
    store_factory: Callable[..., Store],
) -> None:
    store = store_factory(_mixed_profiles(), EVENTS)
    # an explicit false and an unknown (NULL) both win over a true
    assert store.emails_without_shared_consent() == {"shared@x.com", "unknown@x.com"}


@pytest.mark.postgres
def test_postgres_shared_consent(pg_schema: str) -> None:
    with psycopg.connect(PG_URL, autocommit=True) as con:
        con.execute(
            f"INSERT INTO {pg_schema}.profiles VALUES (2, ' A@x.com', NULL, NULL, NULL),"
            " (3, 'b@x.com', true, NULL, NULL)"
        )
    layout = StoreLayout(profiles_table=f"{pg_schema}.profiles", events_table=f"{pg_schema}.events")
    with open_store(PG_URL, layout) as store:
        assert store.emails_without_shared_consent() == {"a@x.com"}


def test_a_query_beyond_duckdbs_memory_limit_is_a_setting_to_change(tmp_path: Path) -> None:
    """Out of memory is one located line naming ?memory_limit=, not a DuckDB traceback."""
    path = tmp_path / "big.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE t AS SELECT range AS x FROM range(2000000)")
    query = sqlglot_parse("SELECT list(x ORDER BY x DESC) FROM t")
    with (
        open_store(f"duckdb:///{path}?memory_limit=2MB") as store,
        pytest.raises(ConfigError) as caught,
    ):
        store.rows(query)
    message = str(caught.value)
    assert "ran out of memory" in message and "2MB" in message
    assert "?memory_limit=SIZE" in message and "SEGSYNC_SOURCE_URL" in message
    with open_store(f"duckdb:///{path}?memory_limit=1GB") as store:
        assert len(store.rows(query)[0][0]) == 2_000_000
