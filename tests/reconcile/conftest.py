"""State store locations for the reconcile tests: a SQLite file, or a PostgreSQL schema of
its own (created for the test and dropped after it, so concurrent sessions never meet)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

PG_URL = os.environ.get("SEGSYNC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def pg_state_url(schema: str) -> str:
    """A state URL whose tables go to ``schema``."""
    joiner = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{joiner}options=-csearch_path%3D{schema}"


@pytest.fixture
def pg_state() -> Iterator[str]:
    """A PostgreSQL state URL on a fresh schema, dropped after the test."""
    name = f"segsync_state_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {name}")
    yield pg_state_url(name)
    with psycopg.connect(PG_URL, autocommit=True) as con:
        con.execute(f"DROP SCHEMA {name} CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using it runs once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'segsync.db'}"
    return str(request.getfixturevalue("pg_state"))
