"""``load_file``: every format, replace and append, conversions, and every bad input — one
located message, and nothing written."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from connector.errors import ConfigError
from connector.settings import StoreLayout
from connector.source import load_file
from connector.source.duckdb_loader import LoadReport, Target

PROFILES_CSV = (
    "profile_id,email,email_consent,region,age\n007,a@x.com,yes,CA,30\nc2,b@x.com,no,NY,\n"
)
EVENTS_CSV = (
    "profile_id,event,ts,amount\n"
    "007,order_completed,2026-01-01T10:00:00+02:00,5.5\n"
    "c2,page_view,2026-01-02 00:00:00,\n"
)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def url(path: str = "data/store.duckdb") -> str:
    return f"duckdb:///{path}"


def write(name: str, text: str) -> Path:
    path = Path(name)
    path.write_text(text, encoding="utf-8")
    return path


def load(
    target: Target, name: str, *, append: bool = False, replace: bool = False, dry_run: bool = False
) -> LoadReport:
    return load_file(
        url(), StoreLayout(), target, Path(name), append=append, replace=replace, dry_run=dry_run
    )


def rows(sql: str, store: str = "data/store.duckdb") -> list[tuple[Any, ...]]:
    con = duckdb.connect(store, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def fail(target: Target, name: str, *, append: bool = False) -> str:
    with pytest.raises(ConfigError) as info:
        load(target, name, append=append)
    assert len(info.value.issues) == 1
    return str(info.value)


def digest(path: str = "data/store.duckdb") -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def parquet(name: str, select: str) -> Path:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"COPY ({select}) TO '{name}' (FORMAT parquet)")
    con.close()
    return Path(name)


# -- formats --------------------------------------------------------------------------------
def test_csv_creates_the_store_and_its_directory(workdir: Path) -> None:
    write("p.csv", PROFILES_CSV)
    report = load(Target.PROFILES, "p.csv")
    assert (report.rows, report.total_rows, report.created, report.appended) == (2, 2, True, False)
    assert report.store == "duckdb:///data/store.duckdb"
    assert report.columns == [
        ("profile_id", "VARCHAR"),
        ("email", "VARCHAR"),
        ("email_consent", "BOOLEAN"),
        ("region", "VARCHAR"),
        ("age", "BIGINT"),
    ]
    assert report.warnings == []
    # ids read as text keep their leading zeros; consent words become booleans
    assert rows("SELECT * FROM profiles ORDER BY profile_id") == [
        ("007", "a@x.com", True, "CA", 30),
        ("c2", "b@x.com", False, "NY", None),
    ]


def test_gzipped_csv(workdir: Path) -> None:
    Path("p.csv.gz").write_bytes(gzip.compress(PROFILES_CSV.encode()))
    assert load(Target.PROFILES, "p.csv.gz").rows == 2


@pytest.mark.parametrize("name", ["e.jsonl", "e.ndjson"])
def test_jsonl_events_with_offsets_become_naive_utc(workdir: Path, name: str) -> None:
    lines = [
        {"profile_id": "p1", "event": "open", "ts": "2026-03-01T12:00:00+05:00", "n": 1},
        {"profile_id": "p2", "event": "open", "ts": "2026-03-01T12:00:00Z", "n": 2},
    ]
    write(name, "".join(json.dumps(line) + "\n" for line in lines))
    report = load(Target.EVENTS, name)
    assert dict(report.columns)["ts"] == "TIMESTAMP"
    assert rows("SELECT profile_id, ts FROM events ORDER BY profile_id") == [
        ("p1", datetime(2026, 3, 1, 7, 0)),
        ("p2", datetime(2026, 3, 1, 12, 0)),
    ]


def test_parquet_with_aware_and_naive_timestamps(workdir: Path) -> None:
    parquet(
        "p.parquet",
        "SELECT 1::BIGINT AS profile_id, 'a@x.com' AS email, "
        "TIMESTAMPTZ '2026-01-01 00:30:00+01:00' AS signup_at, "
        "TIMESTAMP_NS '2026-01-02 03:04:05' AS seen_at",
    )
    report = load(Target.PROFILES, "p.parquet")
    assert dict(report.columns) == {
        "profile_id": "BIGINT",
        "email": "VARCHAR",
        "signup_at": "TIMESTAMP",
        "seen_at": "TIMESTAMP",
    }
    assert rows("SELECT signup_at, seen_at FROM profiles") == [
        (datetime(2025, 12, 31, 23, 30), datetime(2026, 1, 2, 3, 4, 5))
    ]
    assert report.warnings == [
        "p.parquet: no 'email_consent' column, so nobody has email consent: segsync will not "
        "create new ESP contacts for these profiles (existing contacts are still updated)"
    ]


def test_csv_timestamps_with_and_without_offsets(workdir: Path) -> None:
    write("e.csv", EVENTS_CSV)
    load(Target.EVENTS, "e.csv")
    assert rows("SELECT ts FROM events ORDER BY ts") == [
        (datetime(2026, 1, 1, 8, 0),),
        (datetime(2026, 1, 2, 0, 0),),
    ]


def test_date_ts_becomes_a_timestamp(workdir: Path) -> None:
    write("e.csv", "profile_id,event,ts\np1,x,2026-01-05\n")
    load(Target.EVENTS, "e.csv")
    assert rows("SELECT ts FROM events") == [(datetime(2026, 1, 5),)]


# -- replace and append ---------------------------------------------------------------------
def test_a_table_with_rows_is_replaced_only_with_replace(workdir: Path) -> None:
    write("p.csv", PROFILES_CSV)
    load(Target.PROFILES, "p.csv")
    write("q.csv", "profile_id,email\nz9,z@x.com\n")
    with pytest.raises(ConfigError) as info:
        load(Target.PROFILES, "q.csv")
    assert "p.csv" not in str(info.value) and "q.csv: the store's 'profiles' table" in str(
        info.value
    )
    assert "already holds 2 rows and this file has 1: nothing was written" in str(info.value)
    assert rows("SELECT profile_id FROM profiles ORDER BY 1") == [("007",), ("c2",)]
    report = load(Target.PROFILES, "q.csv", replace=True)
    assert (report.rows_before, report.rows, report.total_rows, report.created) == (2, 1, 1, False)
    assert rows("SELECT profile_id FROM profiles") == [("z9",)]


def test_an_empty_table_is_replaced_without_asking(workdir: Path) -> None:
    Path("data").mkdir()
    con = duckdb.connect("data/store.duckdb")
    con.execute("CREATE TABLE profiles (profile_id VARCHAR, email VARCHAR)")
    con.close()
    write("p.csv", PROFILES_CSV)
    report = load(Target.PROFILES, "p.csv")
    assert (report.rows_before, report.total_rows, report.created) == (0, 2, False)


def test_dry_run_checks_and_counts_but_writes_nothing(workdir: Path) -> None:
    write("p.csv", PROFILES_CSV)
    report = load(Target.PROFILES, "p.csv", dry_run=True)
    assert (report.dry_run, report.created, report.rows, report.total_rows) == (True, True, 2, 2)
    assert not Path("data/store.duckdb").exists()  # not even an empty store file
    load(Target.PROFILES, "p.csv")
    write("q.csv", "profile_id,email\nz9,z@x.com\n")
    report = load(Target.PROFILES, "q.csv", replace=True, dry_run=True)
    assert (report.rows_before, report.total_rows, report.appended) == (2, 1, False)
    report = load(Target.PROFILES, "q.csv", append=True, dry_run=True)
    assert (report.rows_before, report.total_rows, report.appended) == (2, 3, True)
    with pytest.raises(ConfigError, match="already holds 2 rows"):
        load(Target.PROFILES, "q.csv", dry_run=True)
    write("dup.csv", "profile_id,email\nc2,again@x.com\n")
    with pytest.raises(ConfigError, match="c2"):  # the store's checks run in a dry run too
        load(Target.PROFILES, "dup.csv", append=True, dry_run=True)
    assert rows("SELECT profile_id FROM profiles ORDER BY 1") == [("007",), ("c2",)]


def test_append_inserts_and_casts_to_the_table_types(workdir: Path) -> None:
    write("p.csv", PROFILES_CSV)
    load(Target.PROFILES, "p.csv")
    # no age, consent as 1/0: columns missing from the file become NULL
    write("more.csv", "profile_id,email,email_consent,region\nc3,c@x.com,1,TX\n")
    report = load(Target.PROFILES, "more.csv", append=True)
    assert (report.rows, report.total_rows, report.appended) == (1, 3, True)
    assert rows("SELECT * FROM profiles WHERE profile_id = 'c3'") == [
        ("c3", "c@x.com", True, "TX", None)
    ]


def test_append_to_a_missing_table_creates_it(workdir: Path) -> None:
    write("e.csv", EVENTS_CSV)
    report = load(Target.EVENTS, "e.csv", append=True)
    assert (report.created, report.appended, report.total_rows) == (True, False, 2)


def test_events_ids_take_the_profiles_id_type(workdir: Path) -> None:
    parquet("p.parquet", "SELECT 7::BIGINT AS profile_id, 'a@x.com' AS email")
    load(Target.PROFILES, "p.parquet")
    write("e.csv", "profile_id,event,ts\n7,open,2026-01-01\n")
    report = load(Target.EVENTS, "e.csv")
    assert dict(report.columns)["profile_id"] == "BIGINT"
    assert rows("SELECT profile_id FROM events") == [(7,)]


def test_profiles_warn_when_events_ids_differ(workdir: Path) -> None:
    write("e.csv", EVENTS_CSV)
    load(Target.EVENTS, "e.csv")
    parquet(
        "p.parquet", "SELECT 7::BIGINT AS profile_id, 'a@x.com' AS email, true AS email_consent"
    )
    report = load(Target.PROFILES, "p.parquet")
    assert report.warnings == [
        "events.profile_id is VARCHAR but profiles.profile_id is now BIGINT: load the events "
        "again so the two match"
    ]


def test_layout_names_are_honoured(workdir: Path) -> None:
    write("p.csv", "customer_id,mail\nc1,a@x.com\n")
    layout = StoreLayout(profiles_table="crm.customers", profile_id="customer_id", email="mail")
    report = load_file(url(), layout, Target.PROFILES, Path("p.csv"))
    assert report.table == "crm.customers"
    assert rows("SELECT customer_id FROM crm.customers") == [("c1",)]


# -- bad input: one message, nothing written ------------------------------------------------
@pytest.fixture
def loaded(workdir: Path) -> str:
    """A store holding profiles and events; returns its digest."""
    write("p.csv", PROFILES_CSV)
    load(Target.PROFILES, "p.csv")
    write("e.csv", EVENTS_CSV)
    load(Target.EVENTS, "e.csv")
    return digest()


BAD_INPUTS: list[tuple[str, str, Target, bool, str]] = [
    (
        "p.csv",
        "id,email,region\n1,a@x.com,CA\n",
        Target.PROFILES,
        False,
        "p.csv: missing column 'profile_id' (columns found: id, email, region)",
    ),
    (
        "p.csv",
        "Profile_ID,email\n1,a@x.com\n",
        Target.PROFILES,
        False,
        "p.csv: missing column 'profile_id' (columns found: Profile_ID, email) — did you mean "
        "'Profile_ID'?",
    ),
    (
        "e.csv",
        "profile_id,name\n1,x\n",
        Target.EVENTS,
        False,
        "e.csv: missing columns 'event', 'ts' (columns found: profile_id, name)",
    ),
    (
        "p.csv",
        "profile_id;email\n1;a@x.com\n",
        Target.PROFILES,
        False,
        "p.csv: missing columns 'profile_id', 'email' (columns found: profile_id;email) — "
        "segsync reads comma-separated files",
    ),
    ("p.csv", "profile_id,email\n", Target.PROFILES, False, "p.csv: the file has no rows"),
    (
        "e.csv",
        "profile_id,event,ts\np1,open,2026-01-01\np2,open,yesterday\n",
        Target.EVENTS,
        False,
        "e.csv: row 2: ts 'yesterday' is not a timestamp: write timestamps in ISO 8601, e.g. "
        "2026-05-01T12:00:00Z or 2026-05-01 12:00:00",
    ),
    (
        "e.csv",
        "profile_id,event,ts\np1,open,1700000000\n",
        Target.EVENTS,
        False,
        "e.csv: ts must be a timestamp, not BIGINT: write timestamps in ISO 8601, e.g. "
        "2026-05-01T12:00:00Z or 2026-05-01 12:00:00",
    ),
    (
        "e.csv",
        "profile_id,event,ts\np1,open,2026-01-01\np2,open,\n",
        Target.EVENTS,
        False,
        "e.csv: row 2: ts is empty",
    ),
    (
        "e.csv",
        "profile_id,event,ts\np1, ,2026-01-01\n",
        Target.EVENTS,
        False,
        "e.csv: row 1: event is empty",
    ),
    (
        "p.csv",
        "profile_id,email\nc1,a@x.com\n,b@x.com\n",
        Target.PROFILES,
        False,
        "p.csv: row 2: profile_id is empty",
    ),
    (
        "p.csv",
        "profile_id,email\nc1,a@x.com\nc2,b@x.com\nc1,c@x.com\nc2,d@x.com\n",
        Target.PROFILES,
        False,
        "p.csv: profile_id 'c1' appears 2 times (rows 1 and 3): profile ids must be unique; "
        "1 more ids repeat too",
    ),
    (
        "p.csv",
        "profile_id,email,email_consent\nc1,a@x.com,maybe\n",
        Target.PROFILES,
        False,
        "p.csv: row 1: email_consent 'maybe' is not true or false (use true/false, yes/no or 1/0)",
    ),
    (
        "p.csv",
        "profile_id,email\nc1,a@x.com\nc2\n",
        Target.PROFILES,
        False,
        "p.csv: line 3: cannot read it as CSV: Expected Number of Columns: 2 Found: 1 ('c2')",
    ),
    (
        "p.csv",
        "profile_id,email\n007,a@x.com\n",
        Target.PROFILES,
        True,
        "p.csv: row 1: profile_id '007' is already in the store's 'profiles' table: profile ids "
        "must be unique (load without --append to replace the table)",
    ),
    (
        "p.csv",
        "profile_id,email,shoe_size\nc9,a@x.com,42\n",
        Target.PROFILES,
        True,
        "p.csv: columns not in the existing table: 'shoe_size' (load without --append to "
        "replace the table)",
    ),
    (
        "p.csv",
        "profile_id,email,age\nc9,a@x.com,old\n",
        Target.PROFILES,
        True,
        "p.csv: row 1: age 'old' cannot be converted to BIGINT like 'age' in the table",
    ),
    (
        "p.xlsx",
        "profile_id,email\n",
        Target.PROFILES,
        False,
        "p.xlsx: unknown file format (use one of .csv, .csv.gz, .jsonl, .jsonl.gz, .ndjson, "
        ".ndjson.gz, .parquet, .pq)",
    ),
    (
        "bad.jsonl",
        '{"profile_id": "p1"\n',
        Target.PROFILES,
        False,
        "bad.jsonl: cannot read it as JSONL: Invalid Input Error: Malformed JSON",
    ),
    (
        "bad.parquet",
        "not parquet",
        Target.PROFILES,
        False,
        "bad.parquet: cannot read it as Parquet: Invalid Input Error:",
    ),
]


@pytest.mark.parametrize(
    ("name", "text", "target", "append", "message"),
    BAD_INPUTS,
    ids=[f"{i:02d}-{case[4].split(': ', 1)[1][:40]}" for i, case in enumerate(BAD_INPUTS)],
)
def test_bad_input_is_one_message_and_nothing_is_written(
    loaded: str, name: str, text: str, target: Target, append: bool, message: str
) -> None:
    write(name, text)
    error = fail(target, name, append=append)
    assert error.startswith(message), error
    assert digest() == loaded


def test_events_id_that_does_not_fit_the_profiles_type(workdir: Path) -> None:
    parquet("p.parquet", "SELECT 7::BIGINT AS profile_id, 'a@x.com' AS email")
    load(Target.PROFILES, "p.parquet")
    before = digest()
    write("e.csv", "profile_id,event,ts\n7,open,2026-01-01\nx1,open,2026-01-01\n")
    assert fail(Target.EVENTS, "e.csv") == (
        "e.csv: row 2: profile_id 'x1' cannot be converted to BIGINT, the type of "
        "profiles.profile_id"
    )
    assert digest() == before
    assert rows("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'events'") == [(0,)]


def test_append_duplicates_counts_the_others(loaded: str) -> None:
    write("p.csv", "profile_id,email\n007,a@x.com\nc2,b@x.com\nc3,c@x.com\n")
    assert "'007' is already in the store's 'profiles' table (and 1 more row)" in fail(
        Target.PROFILES, "p.csv", append=True
    )
    assert digest() == loaded


def test_invalid_input_creates_no_store_and_no_directory(workdir: Path) -> None:
    write("p.csv", "id,email\n1,a@x.com\n")
    fail(Target.PROFILES, "p.csv")
    assert not Path("data").exists()


def test_missing_file(workdir: Path) -> None:
    assert fail(Target.PROFILES, "nope.csv") == "nope.csv: file not found"
    assert not Path("data").exists()


def test_a_view_is_not_replaced(workdir: Path) -> None:
    Path("data").mkdir()
    con = duckdb.connect("data/store.duckdb")
    con.execute("CREATE VIEW profiles AS SELECT 'c1' AS profile_id, 'a@x.com' AS email")
    con.close()
    before = digest()
    write("p.csv", PROFILES_CSV)
    assert fail(Target.PROFILES, "p.csv") == (
        "p.csv: 'profiles' in the customer store is a view: segsync load writes tables (point "
        "SEGSYNC_STORE__PROFILES_TABLE at another name)"
    )
    assert digest() == before


@pytest.mark.parametrize(
    ("store_url", "message"),
    [
        (
            "duckdb:///:memory:",
            "SEGSYNC_SOURCE_URL: load needs a DuckDB file to write to, not an in-memory store",
        ),
    ],
)
def test_a_duckdb_store_must_be_a_file(workdir: Path, store_url: str, message: str) -> None:
    write("p.csv", PROFILES_CSV)
    with pytest.raises(ConfigError) as info:
        load_file(store_url, StoreLayout(), Target.PROFILES, Path("p.csv"))
    assert str(info.value).startswith(message)


def test_a_type_guess_from_the_first_rows_is_revised(workdir: Path) -> None:
    lines = [f"c{i},a{i}@x.com,{i}" for i in range(30_000)]
    write("p.csv", "profile_id,email,code\n" + "\n".join([*lines, "cz,z@x.com,A7"]) + "\n")
    report = load(Target.PROFILES, "p.csv")
    assert dict(report.columns)["code"] == "VARCHAR"
    assert report.rows == 30_001
