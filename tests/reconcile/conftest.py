"""State store locations for the reconcile tests: a SQLite file, or a PostgreSQL schema of
its own (``pg_state`` in tests/conftest.py: created for the test, dropped after it)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using it runs once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'segsync.db'}"
    return str(request.getfixturevalue("pg_state"))
