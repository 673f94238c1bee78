"""A small DuckDB store and config directory for the report's tests, pointed at by env."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.cli.conftest import run_cli  # noqa: F401  (the CLI fixture, shared)

StoreWriter = Callable[[list[dict[str, Any]], list[dict[str, Any]], dict[str, str]], Path]

PROFILE_COLUMNS = {"profile_id": "VARCHAR", "email": "VARCHAR", "email_consent": "BOOLEAN",
                   "region": "VARCHAR"}  # fmt: skip
EVENT_COLUMNS = {"profile_id": "VARCHAR", "event": "VARCHAR", "ts": "TIMESTAMP",
                 "amount": "DOUBLE", "category": "VARCHAR"}  # fmt: skip


def segment_yaml(name: str, region: str, holdout: int) -> str:
    return (
        f"name: {name}\nrule: {{attribute: region, op: eq, value: {region}}}\n"
        f"holdout: {holdout}\nmin_size: 1\n"
    )


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StoreWriter:
    """``write(profiles, events, files)``: build the store and config; env points at them."""

    def write(
        profiles: list[dict[str, Any]], events: list[dict[str, Any]], files: dict[str, str]
    ) -> Path:
        db = tmp_path / "store.duckdb"
        db.unlink(missing_ok=True)
        con = duckdb.connect(str(db))
        for table, columns, rows in (
            ("profiles", PROFILE_COLUMNS, profiles),
            ("events", EVENT_COLUMNS, events),
        ):
            con.execute(
                f"CREATE TABLE {table} (" + ", ".join(f"{c} {t}" for c, t in columns.items()) + ")"
            )
            if rows:
                con.executemany(
                    f"INSERT INTO {table} VALUES ({', '.join('?' for _ in columns)})",
                    [[row.get(c) for c in columns] for row in rows],
                )
        con.close()
        config = tmp_path / "config"
        (config / "segments").mkdir(parents=True, exist_ok=True)
        for old in (config / "segments").glob("*.yaml"):
            old.unlink()
        for name, text in files.items():
            (config / name).write_text(text, encoding="utf-8")
        monkeypatch.setenv("SEGSYNC_SOURCE_URL", f"duckdb:///{db}")
        monkeypatch.setenv("SEGSYNC_CONFIG_DIR", str(config))
        monkeypatch.setenv("SEGSYNC_STATE_PATH", str(tmp_path / "state" / "segsync.db"))
        return tmp_path

    return write


T = datetime(2026, 6, 1, 12)
