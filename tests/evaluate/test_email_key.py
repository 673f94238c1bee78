"""``email_key`` (the SQL half of email normalisation) and Python's ``normalise_email`` give
the same address for any value, in DuckDB and PostgreSQL: what the query leaves NULL,
Python normalises (``engine._emails``), so the two together must equal Python alone. The
key is fetched as a run fetches it (``fetched_key``: NULL with a flag where it is the raw
email itself)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import psycopg
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from connector.evaluate.compile import EmailForm, email_key, fetched_key
from connector.evaluate.engine import _emails, evaluate
from connector.evaluate.identity import normalise_email
from connector.evaluate.sql import col
from connector.source import open_store
from tests.evaluate.harness import write_config
from tests.evaluate.test_property import PROFILE

PG_URL = os.environ.get("SEGSYNC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

#: the characters addresses are made of, and those at the edges of the patterns: space,
#: tab and newline, '@', '.', '-', the ends of printable ASCII, upper case, non-ASCII
_CHARS = st.sampled_from(list("aZz09.@-+_ ~!?/,A\t\n\x7f\x1fé߿€"))
_PART = st.text(_CHARS, max_size=6)
_SPACES = st.text(st.sampled_from([" ", "\t", "\n"]), max_size=2)


@st.composite
def _addresses(draw: st.DrawFn) -> str:
    """Mostly address-shaped values (so that both outcomes are common), else any text."""
    if draw(st.booleans()):
        return draw(st.text(_CHARS, max_size=12))
    local, domain, tld = draw(_PART), draw(_PART), draw(_PART)
    body = f"{local}@{domain}.{tld}" if draw(st.booleans()) else f"{local}@{domain}{tld}"
    if draw(st.integers(0, 9)) == 0:  # the 254-character limit, either side of it
        body = "a" * draw(st.sampled_from([243, 244, 245])) + body
    return draw(_SPACES) + body + draw(_SPACES)


def _query(plain: bool) -> exp.Select:
    """Per row of ``t``, in order: ``email_key`` and ``email_form`` as a run fetches them
    (``plain``: the key alone, as a run of no rule returns it)."""
    keyed = exp.select(col("i"), col("email"), email_key(col("email")).as_("k")).from_("t")
    fetched = [col("k")] if plain else fetched_key(col("k"), col("email"))
    return exp.select(*fetched).from_(keyed.subquery("keyed")).order_by("i")


def _rows(rows: list[tuple[Any, ...]], plain: bool) -> list[Any]:
    return [row[0] if plain else tuple(row) for row in rows]


def _duckdb_keys(values: Sequence[str | None], plain: bool = False) -> list[Any]:
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE t (i INTEGER, email VARCHAR)")
        con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(values)))
        return _rows(con.execute(_query(plain).sql("duckdb")).fetchall(), plain)
    finally:
        con.close()


def _postgres_keys(values: Sequence[str | None], plain: bool = False) -> list[Any]:
    with psycopg.connect(PG_URL, autocommit=True) as con:
        con.execute("CREATE TEMPORARY TABLE t (i INTEGER, email TEXT)")
        with con.cursor() as cur:
            cur.executemany("INSERT INTO t VALUES (%s, %s)", list(enumerate(values)))
        return _rows(con.execute(_query(plain).sql("postgres")).fetchall(), plain)


def _check(keys_of: Callable[..., list[Any]], values: list[str | None]) -> None:
    raw = np.asarray(values, dtype=object)
    fetched = keys_of(values)
    keys = np.asarray([key for key, _ in fetched] + [None], dtype=object)[:-1]
    form = np.asarray([kind for _, kind in fetched], dtype=np.int8)
    expected = [normalise_email(v) for v in values]
    assert list(_emails(raw, keys, form)) == expected
    assert (
        list(_emails(raw, np.asarray(keys_of(values, plain=True), dtype=object), None)) == expected
    )
    for value, key, kind in zip(values, keys, form, strict=True):
        if kind == EmailForm.RAW:  # only the flag is fetched: the raw email is the key
            assert key is None and value == normalise_email(value), value
        elif kind == EmailForm.KEY:
            assert key is not None and key != value, value
        elif kind == EmailForm.INVALID:
            assert key is None and normalise_email(value) is None, value
        else:  # SQL decides every printable value
            assert value is None or not all(" " <= c <= "~" for c in value), value


_EDGES = [
    " A@X.com ",
    "a@x.com",
    "a@b",
    "a@b.",
    "a@.b",
    "a@b.c.",
    "a.@b.c",
    "a@b..c",
    "@b.c",
    "a@b.c d",
    # 254 characters trimmed (the limit: an address), with spaces around it longer
    " " + "a" * 249 + "@b.co ",
    "  " + "a" * 249 + "@b.co",
    # 255 trimmed: too long, however it is padded
    " " + "a" * 250 + "@b.co ",
]


@settings(PROFILE)
@given(values=st.lists(st.none() | _addresses(), min_size=1, max_size=20))
@example(values=_EDGES)
def test_duckdb_email_key_matches_python(values: list[str | None]) -> None:
    _check(_duckdb_keys, values)


@pytest.mark.postgres
@settings(PROFILE, max_examples=max(10, PROFILE.max_examples // 4))
@given(values=st.lists(st.none() | _addresses(), min_size=1, max_size=20))
@example(values=_EDGES)
def test_postgres_email_key_matches_python(values: list[str | None]) -> None:
    _check(_postgres_keys, [v.replace("\x00", "") if v else v for v in values])


def test_a_store_whose_emails_are_not_text_gives_no_address(tmp_path: Path) -> None:
    """The key is compared with the raw email only where emails are text: a numeric
    column is no address, and the query must not compare it with a text key (strict
    dialects such as BigQuery reject that; DuckDB would cast)."""
    sent: list[exp.Expr] = []
    with open_store("duckdb:///:memory:", read_only=False) as db:
        con = db.con  # type: ignore[attr-defined]
        con.execute("CREATE TABLE profiles (profile_id BIGINT, email BIGINT, age INTEGER)")
        con.execute("INSERT INTO profiles VALUES (1, 42, 30), (2, NULL, 40)")
        con.execute("CREATE TABLE events (profile_id BIGINT, event VARCHAR, ts TIMESTAMP)")
        original = db.columns

        def spy(query: exp.Expr) -> Any:
            sent.append(query.copy())
            return original(query)

        db.columns = spy  # type: ignore[method-assign]
        segments = {"all": {"name": "all", "rule": {"attribute": "age", "op": "gte", "value": 0}}}
        result = evaluate(db, write_config(tmp_path, segments, {}), as_of=datetime(2026, 11, 23))
    assert list(result.profile_ids) == [1, 2]
    assert list(result.emails) == [None, None]
    (query,) = sent
    assert "`email_key` = `email`" not in query.sql("bigquery")
