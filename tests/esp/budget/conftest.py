"""Fixtures of the shared-budget tests: the repository root (for driver subprocesses) and a
PostgreSQL state store in a schema of its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import POSTGRES_URL

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def pg_state() -> Iterator[str]:
    """A PostgreSQL state URL in a schema of its own (dropped after)."""
    schema = f"budget_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as con:
            con.execute(f"DROP SCHEMA {schema} CASCADE")
