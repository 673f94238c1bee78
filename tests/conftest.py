"""Fixtures shared across the suite: config directories and small real DuckDB stores."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from connector.source import Store, open_store


def write_config(
    root: Path,
    segments: dict[str, str],
    *,
    metrics: str | None = None,
    destinations: str | None = None,
) -> Path:
    """Write ``root/segments/<name>.yaml`` (dedented) and the optional files; return root."""
    folder = root / "segments"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in segments.items():
        (folder / f"{name}.yaml").write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    if metrics is not None:
        (root / "metrics.yaml").write_text(textwrap.dedent(metrics).lstrip(), encoding="utf-8")
    if destinations is not None:
        (root / "destinations.yaml").write_text(
            textwrap.dedent(destinations).lstrip(), encoding="utf-8"
        )
    return root


PROFILE_COLUMNS = (
    "profile_id VARCHAR, email VARCHAR, email_consent BOOLEAN, region VARCHAR, age INTEGER, "
    "clv DOUBLE, vip BOOLEAN, signup_at TIMESTAMP, latitude DOUBLE, longitude DOUBLE"
)
EVENT_COLUMNS = (
    "profile_id VARCHAR, event VARCHAR, ts TIMESTAMP, category VARCHAR, amount DOUBLE, "
    "destination VARCHAR"
)


def make_store(
    profiles: Sequence[Sequence[Any]],
    events: Sequence[Sequence[Any]] = (),
    *,
    path: Path | None = None,
    profile_columns: str = PROFILE_COLUMNS,
    event_columns: str = EVENT_COLUMNS,
) -> Store:
    """A real DuckDB store (in memory unless ``path``) holding the given rows."""
    url = f"duckdb:///{path}" if path is not None else "duckdb:///:memory:"
    store = open_store(url, read_only=False)
    con = store.con  # type: ignore[attr-defined]
    con.execute(f"CREATE TABLE profiles ({profile_columns})")
    con.execute(f"CREATE TABLE events ({event_columns})")
    insert_rows(con, "profiles", profiles)
    insert_rows(con, "events", events)
    return store


def insert_rows(con: Any, table: str, rows: Sequence[Sequence[Any]], chunk: int = 400) -> None:
    """Multi-row INSERTs (DuckDB's executemany goes row by row and is slow)."""
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        row = "(" + ", ".join("?" for _ in part[0]) + ")"
        values = ", ".join(row for _ in part)
        con.execute(f"INSERT INTO {table} VALUES {values}", [v for r in part for v in r])


def point_at_emulator(monkeypatch: pytest.MonkeyPatch, emu: Any, tmp_path: Path) -> None:
    """Point segsync's settings at a running emulator (key and base URL of its ESP), with
    an empty secrets directory so the machine's own secrets never leak into a test."""
    esp = "MAILCHIMP" if emu.esp == "mailchimp" else "KLAVIYO"
    monkeypatch.setenv(f"SEGSYNC_{esp}__API_KEY", emu.api_key)
    monkeypatch.setenv(f"SEGSYNC_{esp}__BASE_URL", emu.base_url)
    monkeypatch.setenv("SEGSYNC_SECRETS_DIR", str(tmp_path / "no-secrets"))


@pytest.fixture
def config_dir(tmp_path: Path) -> Callable[..., Path]:
    """``config_dir({"vip": "name: vip ..."}, metrics=...)`` writes a config directory."""

    def build(segments: dict[str, str], **files: str | None) -> Path:
        return write_config(tmp_path / "config", segments, **files)

    return build


@pytest.fixture
def store_factory() -> Iterator[Callable[..., Store]]:
    opened: list[Store] = []

    def build(*args: Any, **kwargs: Any) -> Store:
        store = make_store(*args, **kwargs)
        opened.append(store)
        return store

    yield build
    for store in opened:
        store.close()
