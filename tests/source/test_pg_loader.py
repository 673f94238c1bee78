"""``load_file`` into a real PostgreSQL server (a schema of the test's own): the DuckDB
loader's checks and flags, COPY in one transaction, the indexes, nothing written on errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from connector.errors import ConfigError, DependencyError
from connector.settings import StoreLayout
from connector.source import load_file, open_store
from connector.source.duckdb_loader import Target
from tests.conftest import POSTGRES_URL, scratch_schema

pytestmark = pytest.mark.postgres

PROFILES_CSV = (
    "profile_id,email,email_consent,region,age\n007,a@x.com,yes,CA,30\nc2,b@x.com,no,NY,\n"
)
EVENTS_CSV = (
    "profile_id,event,ts,amount\n"
    "007,order_completed,2026-01-01T10:00:00+02:00,5.5\n"
    "c2,page_view,2026-01-02 00:00:00,\n"
)


@pytest.fixture
def pg_schema() -> Iterator[str]:
    with scratch_schema("load") as name:
        yield name


@pytest.fixture
def layout(pg_schema: str) -> StoreLayout:
    return StoreLayout(profiles_table=f"{pg_schema}.profiles", events_table=f"{pg_schema}.events")


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def query(sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as con:
        return list(con.execute(sql).fetchall())


def test_profiles_and_events_are_copied_with_types_and_indexes(
    tmp_path: Path, pg_schema: str, layout: StoreLayout
) -> None:
    report = load_file(
        POSTGRES_URL, layout, Target.PROFILES, write(tmp_path, "p.csv", PROFILES_CSV)
    )
    assert (report.rows, report.total_rows, report.created) == (2, 2, True)
    assert report.store.startswith("postgresql://")
    assert report.columns == [
        ("profile_id", "text"),
        ("email", "text"),
        ("email_consent", "boolean"),
        ("region", "text"),
        ("age", "bigint"),
    ]
    events = load_file(POSTGRES_URL, layout, Target.EVENTS, write(tmp_path, "e.csv", EVENTS_CSV))
    assert ("ts", "timestamp without time zone") in events.columns
    assert query(f"SELECT * FROM {pg_schema}.profiles ORDER BY profile_id") == [
        ("007", "a@x.com", True, "CA", 30),
        ("c2", "b@x.com", False, "NY", None),
    ]
    assert query(f"SELECT profile_id, ts, amount FROM {pg_schema}.events ORDER BY ts") == [
        ("007", datetime(2026, 1, 1, 8), 5.5),  # naive UTC
        ("c2", datetime(2026, 1, 2), None),
    ]
    indexes = query(f"SELECT indexdef FROM pg_indexes WHERE schemaname = '{pg_schema}'")
    defs = " ".join(d for (d,) in indexes)
    assert "UNIQUE INDEX profiles_pkey" in defs and "USING brin (ts)" in defs
    with open_store(POSTGRES_URL, layout) as store:  # the evaluation reads what load wrote
        schema = store.discover()
    assert (schema.profile_count, schema.event_count) == (2, 2)


def test_replace_append_and_dry_run(tmp_path: Path, pg_schema: str, layout: StoreLayout) -> None:
    big = "profile_id,email,email_consent\n" + "".join(f"c{i},m{i}@x.com,1\n" for i in range(50))
    load_file(POSTGRES_URL, layout, Target.PROFILES, write(tmp_path, "big.csv", big))
    small = write(tmp_path, "p.csv", PROFILES_CSV)
    with pytest.raises(ConfigError) as info:
        load_file(POSTGRES_URL, layout, Target.PROFILES, small)
    assert "'" + layout.profiles_table + "' table already holds 50 rows" in str(info.value)
    dry = load_file(POSTGRES_URL, layout, Target.PROFILES, small, replace=True, dry_run=True)
    assert (dry.dry_run, dry.rows_before, dry.total_rows) == (True, 50, 2)
    assert query(f"SELECT count(*) FROM {pg_schema}.profiles") == [(50,)]
    # appending ids already there fails in a dry run too, naming the file's row
    again = write(tmp_path, "a.csv", "profile_id,email,email_consent\nn1,n@x.com,1\nc7,c@x.com,0\n")
    with pytest.raises(ConfigError) as info:
        load_file(POSTGRES_URL, layout, Target.PROFILES, again, append=True, dry_run=True)
    assert "row 2: profile_id 'c7' is already in the store's" in str(info.value)
    new = write(tmp_path, "q.csv", "profile_id,email,email_consent\nz1,z@x.com,no\n")
    dry = load_file(POSTGRES_URL, layout, Target.PROFILES, new, append=True, dry_run=True)
    assert (dry.appended, dry.total_rows) == (True, 51)
    assert query(f"SELECT count(*) FROM {pg_schema}.profiles") == [(50,)]
    done = load_file(POSTGRES_URL, layout, Target.PROFILES, new, append=True)
    assert (done.appended, done.rows_before, done.total_rows) == (True, 50, 51)
    replaced = load_file(POSTGRES_URL, layout, Target.PROFILES, small, replace=True)
    assert (replaced.rows_before, replaced.total_rows) == (51, 2)
    assert query(f"SELECT count(*) FROM {pg_schema}.profiles") == [(2,)]


def test_a_bad_row_or_a_failed_append_changes_nothing(
    tmp_path: Path, pg_schema: str, layout: StoreLayout
) -> None:
    load_file(POSTGRES_URL, layout, Target.EVENTS, write(tmp_path, "e.csv", EVENTS_CSV))
    before = query(f"SELECT * FROM {pg_schema}.events ORDER BY ts")
    bad = write(tmp_path, "bad.csv", "profile_id,event,ts\nc1,x,2026-01-01\nc2,x,soon\n")
    with pytest.raises(ConfigError) as info:
        load_file(POSTGRES_URL, layout, Target.EVENTS, bad, append=True)
    assert "row 2: ts 'soon' is not a timestamp" in str(info.value)
    extra = write(tmp_path, "x.csv", "profile_id,event,ts,coupon\nc1,x,2026-01-01,A\n")
    with pytest.raises(ConfigError) as info:
        load_file(POSTGRES_URL, layout, Target.EVENTS, extra, append=True)
    assert "columns not in the existing table: 'coupon'" in str(info.value)
    assert query(f"SELECT * FROM {pg_schema}.events ORDER BY ts") == before


def test_events_take_the_type_of_the_profiles_ids(
    tmp_path: Path, pg_schema: str, layout: StoreLayout
) -> None:
    profiles = tmp_path / "p.jsonl"  # JSON ids are numbers; a CSV's are text
    profiles.write_text('{"profile_id": 1, "email": "a@x.com"}\n{"profile_id": 2, "email": "b"}\n')
    load_file(POSTGRES_URL, layout, Target.PROFILES, profiles)
    events = "profile_id,event,ts\n1,x,2026-01-01\n2,x,2026-01-02\n"
    report = load_file(POSTGRES_URL, layout, Target.EVENTS, write(tmp_path, "e.csv", events))
    assert ("profile_id", "bigint") in report.columns
    bad = write(tmp_path, "e.csv", events.replace("\n2,", "\nx2,"))
    with pytest.raises(ConfigError) as info:
        load_file(POSTGRES_URL, layout, Target.EVENTS, bad, replace=True)
    assert "row 2: profile_id 'x2' cannot be converted to BIGINT" in str(info.value)


def test_an_unreachable_server_is_exit_2_without_the_password(tmp_path: Path) -> None:
    with pytest.raises(DependencyError) as info:
        load_file(
            "postgresql://u:hunter2@127.0.0.1:1/db",
            StoreLayout(),
            Target.PROFILES,
            write(tmp_path, "p.csv", PROFILES_CSV),
        )
    assert "hunter2" not in str(info.value)
