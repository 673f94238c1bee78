"""The normalised email that ``segsync load`` keeps beside the raw one: evaluation reads
it where the store has it and computes it in the query where not, with equal results
(members and emails), odd addresses and appends included; DuckDB and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.definitions.loader import Definitions, load_definitions
from connector.esp.registry import destination_models
from connector.evaluate.engine import evaluate
from connector.evaluate.identity import normalise_email
from connector.settings import StoreLayout
from connector.source import load_file, open_store
from connector.source.duckdb_loader import Target
from connector.source.email_key import EMAIL_KEY_COLUMN
from tests.conftest import POSTGRES_URL, write_config

AS_OF = datetime(2026, 3, 1)
ODD = [
    "a@x.com",
    " A@X.com ",
    "UPPER@EXAMPLE.COM",
    "First.Last+tag@Example.CO.UK",
    "\ttab@x.com\n",  # whitespace beyond the space: normalised in Python
    "Ünïcode@Exämple.com",
    "a\u00a0@x.com",  # no-break space
    "ß@x.com",
    "İ@x.com",  # lower() lengthens it
    None,
    "",
    "   ",
    "not-an-email",
    "a@b",
    "a b@x.com",
    "a@@x.com",
    "@x.com",
    "x@y.z",
    "a@x.",
    "a" * 250 + "@x.com",  # too long
    "a" * 244 + "@x.com",  # 250 characters: fine
    "a@x.com",  # a second profile with the same address
]
SEGMENTS = {
    "everyone": "name: everyone\nrule: {attribute: profile_id, op: exists}\n",
    "ca": "name: ca\nrule: {attribute: region, op: eq, value: CA}\n",
}


def _profiles(emails: list[str | None], start: int = 0) -> list[dict[str, Any]]:
    return [
        {"profile_id": f"p{start + i:04d}", "email": e, "region": "CA" if i % 2 else "NY"}
        for i, e in enumerate(emails)
    ]


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _defs(root: Path) -> Definitions:
    return load_definitions(write_config(root, SEGMENTS), destination_models())


def _outcome(url: str, layout: StoreLayout, defs: Definitions) -> tuple[bool, Any]:
    """Whether the store holds the key column, and what evaluation gives (ids, raw and
    normalised emails, members per segment)."""
    with open_store(url, layout) as store:
        stored = store.discover().stored_email_key
        result = evaluate(store, defs, as_of=AS_OF)
    members = {name: sorted(result.profile_ids[rows]) for name, rows in result.members.items()}
    return stored, (list(result.profile_ids), list(result.raw_emails), list(result.emails), members)


def _load(url: str, layout: StoreLayout, folder: Path, rows: list[dict[str, Any]]) -> None:
    load_file(url, layout, Target.PROFILES, _jsonl(folder / "p.jsonl", rows), replace=True)
    events = folder / "e.csv"
    events.write_text("profile_id,event,ts\np0000,open,2026-02-01\n", encoding="utf-8")
    load_file(url, layout, Target.EVENTS, events, replace=True)


def _check(url: str, layout: StoreLayout, folder: Path, drop: str) -> None:
    defs = _defs(folder / "config")
    stored, with_key = _outcome(url, layout, defs)
    assert stored
    _ids, raw, emails, members = with_key
    assert emails == [normalise_email(r) for r in raw]
    assert len(members["everyone"]) == len(raw)
    _run(url, drop)
    stored, without_key = _outcome(url, layout, defs)
    assert not stored
    assert without_key == with_key


def _run(url: str, sql: str) -> None:
    if url.startswith("duckdb"):
        with open_store(url, read_only=False) as store:
            store.con.execute(sql)  # type: ignore[attr-defined]
    else:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as con:
            con.execute(sql)


# -- DuckDB ------------------------------------------------------------------------------
def test_duckdb_members_and_emails_equal_with_and_without_the_column(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'store.duckdb'}"
    _load(url, StoreLayout(), tmp_path, _profiles(ODD))
    _check(url, StoreLayout(), tmp_path, f"ALTER TABLE profiles DROP COLUMN {EMAIL_KEY_COLUMN}")


def test_duckdb_append_keeps_the_column_right(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'store.duckdb'}"
    _load(url, StoreLayout(), tmp_path, _profiles(ODD[:8]))
    more = _jsonl(tmp_path / "more.jsonl", _profiles(ODD[8:], start=100))
    load_file(url, StoreLayout(), Target.PROFILES, more, append=True)
    _check(url, StoreLayout(), tmp_path, f"ALTER TABLE profiles DROP COLUMN {EMAIL_KEY_COLUMN}")


def test_duckdb_append_to_a_table_without_the_column_leaves_it_without(tmp_path: Path) -> None:
    """A table another tool wrote (no key column) is appended to as it is; evaluation
    then computes the key itself."""
    url = f"duckdb:///{tmp_path / 'store.duckdb'}"
    _load(url, StoreLayout(), tmp_path, _profiles(ODD[:8]))
    _run(url, f"ALTER TABLE profiles DROP COLUMN {EMAIL_KEY_COLUMN}")
    more = _jsonl(tmp_path / "more.jsonl", _profiles(ODD[8:], start=100))
    load_file(url, StoreLayout(), Target.PROFILES, more, append=True)
    stored, (_ids, raw, emails, _members) = _outcome(url, StoreLayout(), _defs(tmp_path / "c"))
    assert not stored
    assert emails == [normalise_email(r) for r in raw]
    assert len(raw) == len(ODD)


def test_a_key_column_in_the_file_is_not_taken_from_it(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'store.duckdb'}"
    rows = [{**row, EMAIL_KEY_COLUMN: "forged@x.com"} for row in _profiles(["A@X.com", None])]
    _load(url, StoreLayout(), tmp_path, rows)
    with open_store(url) as store:
        keys = store.con.execute(  # type: ignore[attr-defined]
            f"SELECT {EMAIL_KEY_COLUMN} FROM profiles ORDER BY profile_id"
        ).fetchall()
        assert EMAIL_KEY_COLUMN not in store.discover().profile_columns
    assert keys == [("a@x.com",), (None,)]


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.text(alphabet=st.sampled_from(" \t@.aAbZ0-_+éÉß\u00a0İ"), max_size=12),
            st.builds(
                "{}@{}.{}".format,
                st.text(alphabet=st.sampled_from(" aAZ.+é"), min_size=1, max_size=5),
                st.text(alphabet=st.sampled_from(" bB-é"), min_size=1, max_size=5),
                st.sampled_from(["com", "CO", "x ", ""]),
            ),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_duckdb_stored_key_is_normalise_email(tmp_path: Path, emails: list[str | None]) -> None:
    folder = tmp_path / uuid.uuid4().hex
    folder.mkdir()
    url = f"duckdb:///{folder / 'store.duckdb'}"
    _load(url, StoreLayout(), folder, _profiles(emails))
    # (a column of only NULLs is not text: then there is no key column, and no difference)
    _stored, (_ids, raw, normalised, _members) = _outcome(url, StoreLayout(), _defs(folder / "c"))
    assert normalised == [normalise_email(r) for r in raw]


# -- PostgreSQL --------------------------------------------------------------------------
@pytest.fixture
def pg_schema() -> Iterator[str]:
    name = f"ekey_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {name}")
        try:
            yield name
        finally:
            con.execute(f"DROP SCHEMA {name} CASCADE")


@pytest.mark.postgres
def test_postgres_members_and_emails_equal_with_and_without_the_column(
    tmp_path: Path, pg_schema: str
) -> None:
    layout = StoreLayout(profiles_table=f"{pg_schema}.profiles", events_table=f"{pg_schema}.events")
    _load(POSTGRES_URL, layout, tmp_path, _profiles(ODD[:8]))
    more = _jsonl(tmp_path / "more.jsonl", _profiles(ODD[8:], start=100))
    load_file(POSTGRES_URL, layout, Target.PROFILES, more, append=True)
    with psycopg.connect(POSTGRES_URL, autocommit=True) as con:
        keys = dict(
            con.execute(f"SELECT email, {EMAIL_KEY_COLUMN} FROM {pg_schema}.profiles").fetchall()
        )
    assert keys["not-an-email"] == ""  # invalid, known in SQL (not NULL, left to Python)
    assert keys[" A@X.com "] == "a@x.com"
    drop = f"ALTER TABLE {pg_schema}.profiles DROP COLUMN {EMAIL_KEY_COLUMN}"
    _check(POSTGRES_URL, layout, tmp_path, drop)


def test_evaluation_reads_the_stored_key(tmp_path: Path) -> None:
    """Where the column is there, the query takes it as it is (segsync wrote it) instead
    of normalising the raw address again."""
    url = f"duckdb:///{tmp_path / 'store.duckdb'}"
    _load(url, StoreLayout(), tmp_path, _profiles(["a@x.com", "b@x.com"]))
    _run(url, f"UPDATE profiles SET {EMAIL_KEY_COLUMN} = 'stored@x.com' WHERE email = 'a@x.com'")
    _stored, (_ids, _raw, emails, _members) = _outcome(url, StoreLayout(), _defs(tmp_path / "c"))
    assert emails == ["stored@x.com", "b@x.com"]
