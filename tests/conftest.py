"""Fixtures shared across the suite: config directories, small real DuckDB stores, and the
PostgreSQL policy.

Tests that need PostgreSQL carry ``@pytest.mark.postgres`` (tests using the ``pg_*`` or
``postgres_url`` fixtures get it automatically). When no server answers at
``SEGSYNC_TEST_POSTGRES_URL`` they are skipped with one reason — unless ``CI`` is true,
where they fail: CI must not pass by skipping them.
"""

from __future__ import annotations

import contextlib
import functools
import os
import textwrap
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, settings

from connector.esp.processing_times import reset_processing_times
from connector.reconcile.budget_db import close_budgets
from connector.source import Store, open_store
from connector.source.url import parse_store_url

# Property tests judge inputs, not speed: on a loaded CI machine an example may take seconds,
# which must not fail a run (a test that needs other settings passes its own @settings).
settings.register_profile("segsync", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("segsync")

# Every Spark JVM the tests start (the in-process sessions, the segsync processes and the
# servers of tests/cli/test_spark_cluster.py) compiles with the quick JIT only (C1): they
# live seconds to minutes on small data, where the optimising compiler's threads cost more
# CPU than they give back (a local session's start and first queries take about a third
# less on this 2-core machine). What Spark computes is the same. SPARK_SUBMIT_OPTS reaches
# the drivers (spark-submit), SPARK_DAEMON_JAVA_OPTS a standalone master and worker; a
# value already set is kept.
SPARK_JAVA_OPTS = "-XX:TieredStopAtLevel=1"
for _name in ("SPARK_SUBMIT_OPTS", "SPARK_DAEMON_JAVA_OPTS"):
    os.environ.setdefault(_name, SPARK_JAVA_OPTS)

POSTGRES_URL = os.environ.get(
    "SEGSYNC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
POSTGRES_SKIP = "PostgreSQL tests skipped"
_POSTGRES_FIXTURES = ("pg_schema", "pg_db", "postgres_url")


@pytest.fixture(scope="session")
def spark_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """``spark://local?warehouse=DIR`` for this test session: Spark starts once per process
    (``connector.source.spark_session``), so every Spark test shares this warehouse and
    keeps its tables in a database of its own."""
    pytest.importorskip("pyspark", reason="the spark extra is not installed")
    return f"spark://local?warehouse={tmp_path_factory.mktemp('spark-warehouse')}"


@pytest.fixture(autouse=True)
def _close_rate_budgets() -> Iterator[None]:
    """Each test's syncs open the rate budget of their own state store: close it after.
    Job and batch processing times learned in one test (an emulator's port may come back)
    are forgotten too."""
    yield
    close_budgets()
    reset_processing_times()


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@functools.cache
def postgres_problem() -> str | None:
    """Why the test server cannot be used (None: it answers). Asked once per process."""
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as con:
            con.execute("SELECT 1")
    except psycopg.Error as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        detail = lines[-1] if lines else type(exc).__name__
        where = parse_store_url(POSTGRES_URL).display()
        return f"no PostgreSQL server reachable at {where} ({detail})"
    return None


def _start_rank(item: pytest.Item) -> int:
    """Longest first: the Spark server tests (minutes), then the tests that run Spark in this
    process (one after another, so they usually share one worker's Spark start-up), then the
    other slow ones, then the rest."""
    if item.get_closest_marker("spark") is not None:
        return 1 if "spark_url" in getattr(item, "fixturenames", ()) else 0
    return 2 if item.get_closest_marker("slow") is not None else 3


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the PostgreSQL tests, and start the longest tests first: with ``-n`` the tests
    go to the workers one at a time (``--maxschedchunk 1`` in pyproject.toml), so a worker
    that is done with a long one takes the next, and none is left with a minute-long test
    at the end while the other idles (a stable sort: within each rank the collection's
    order stays)."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if item.get_closest_marker("postgres") is None and any(
            name in fixtures for name in _POSTGRES_FIXTURES
        ):
            item.add_marker(pytest.mark.postgres)
    items.sort(key=_start_rank)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before any fixture connects: skip (locally) or fail (CI) without a server."""
    if item.get_closest_marker("postgres") is None:
        return
    problem = postgres_problem()
    if problem is None:
        return
    if in_ci():
        pytest.fail(
            f"CI=true and {problem}: the PostgreSQL tests must run in CI "
            "(start the server or set SEGSYNC_TEST_POSTGRES_URL)",
            pytrace=False,
        )
    pytest.skip(
        f"{POSTGRES_SKIP}: {problem}; start one or set SEGSYNC_TEST_POSTGRES_URL "
        "(with CI=true they fail instead)"
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line saying how many tests were skipped for want of PostgreSQL, and why."""
    reasons = [
        str(report.longrepr[2])
        for report in terminalreporter.stats.get("skipped", [])
        if isinstance(report.longrepr, tuple) and POSTGRES_SKIP in str(report.longrepr[2])
    ]
    if reasons:
        terminalreporter.write_line(
            f"{len(reasons)} {reasons[0].removeprefix('Skipped: ')}", yellow=True
        )


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The test server's URL; work in a uniquely named schema or database of your own."""
    return POSTGRES_URL


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


@contextlib.contextmanager
def scratch_schema(prefix: str) -> Iterator[str]:
    """A fresh PostgreSQL schema ``<prefix>_<random>`` on the test server, dropped with all
    it holds afterwards (each test works in a schema of its own)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {name}")
    try:
        yield name
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as con:
            con.execute(f"DROP SCHEMA {name} CASCADE")


def pg_state_url(schema: str) -> str:
    """A state URL whose tables go to ``schema``."""
    joiner = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{joiner}options=-csearch_path%3D{schema}"


@pytest.fixture
def pg_state() -> Iterator[str]:
    """A PostgreSQL state URL on a fresh schema, dropped after the test."""
    with scratch_schema("segsync_state") as name:
        yield pg_state_url(name)
