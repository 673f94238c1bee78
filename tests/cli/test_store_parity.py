"""Held-out style check: the demo's Parquet files loaded with ``segsync load`` into another
store give the same ``segsync preview`` members and holdout flags as on DuckDB."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from importlib.resources import as_file, files
from pathlib import Path

import duckdb
import psycopg
import pytest

from connector.definitions.loader import load_definitions
from connector.esp.registry import destination_models
from connector.evaluate.engine import has_esp_conditions
from connector.source import parse_store_url
from connector.source.spark_session import spark_session
from tests.cli.conftest import CliRunner
from tests.conftest import POSTGRES_URL, scratch_schema

AS_OF = "2026-11-23T08:00:00Z"
LOCAL_SEGMENTS = (
    "abandoned-cart-24h", "churn-risk", "expats", "lapsed-high-aov", "near-store",
    "new-no-purchase", "top-frequency-10", "vip-electronics-ca", "vip-new-york",
)  # fmt: skip


@pytest.fixture
def demo_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: CliRunner) -> Path:
    """The demo built on DuckDB (2,000 profiles), its tables exported as Parquet. Not synced:
    the sync writes only the state store, which ``preview`` does not read (two thirds of
    the demo's time; tests/cli/test_demo_cmd.py covers it)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEGSYNC_SOURCE_URL", "duckdb:///data/customers.duckdb")
    monkeypatch.setenv("SEGSYNC_CONFIG_DIR", str(tmp_path / "conf"))
    monkeypatch.setenv("SEGSYNC_SECRETS_DIR", str(tmp_path / "secrets"))
    code, _, err = run_cli(["demo", "--profiles", "2000", "--as-of", AS_OF, "--no-sync"])
    assert (code, err) == (0, "")
    con = duckdb.connect(str(tmp_path / "data" / "customers.duckdb"), read_only=True)
    for table in ("profiles", "events"):
        con.execute(f"COPY {table} TO '{tmp_path / table}.parquet' (FORMAT parquet)")
    con.close()
    return tmp_path


def local_segments() -> list[str]:
    """Every demo segment that segsync evaluates (not those with ESP-only conditions)."""
    with as_file(files("connector") / "demo_config") as folder:
        defs = load_definitions(folder, destination_models())
    return sorted(n for n, s in defs.segments.items() if not has_esp_conditions(s.rule))


def test_the_check_covers_every_local_demo_segment() -> None:
    assert list(LOCAL_SEGMENTS) == local_segments()


def previews(run_cli: CliRunner, names: Sequence[str] = LOCAL_SEGMENTS) -> dict[str, list[str]]:
    """Each local demo segment's (or each of ``names``) members CSV (profile_id,email,holdout),
    sorted."""
    found = {}
    for name in names:
        code, out, err = run_cli(["preview", name, "--as-of", AS_OF])
        assert code == 0, err
        header, *rows = out.splitlines()
        assert header == "profile_id,email,holdout"
        found[name] = sorted(rows)
    return found


@pytest.fixture
def pg_schema() -> Iterator[str]:
    with scratch_schema("parity") as name:
        yield name


@pytest.mark.postgres
@pytest.mark.slow
def test_postgres_gives_the_same_members_and_holdouts(
    demo_files: Path, pg_schema: str, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_duckdb = previews(run_cli)
    assert all(on_duckdb.values())
    assert any(row.endswith(",true") for rows in on_duckdb.values() for row in rows)
    monkeypatch.setenv("SEGSYNC_SOURCE_URL", POSTGRES_URL)
    monkeypatch.setenv("SEGSYNC_STORE__PROFILES_TABLE", f"{pg_schema}.profiles")
    monkeypatch.setenv("SEGSYNC_STORE__EVENTS_TABLE", f"{pg_schema}.events")
    for table in ("profiles", "events"):
        code, out, err = run_cli(["load", table, str(demo_files / f"{table}.parquet")])
        assert code == 0, err
        assert out.startswith("loaded ")
    assert previews(run_cli) == on_duckdb


@pytest.mark.spark
@pytest.mark.slow
def test_spark_gives_the_same_members_and_holdouts(
    demo_files: Path, spark_url: str, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The done-when check of issue 12 on ``spark://local?warehouse=DIR``: loaded with
    ``segsync load`` (in a database of its own), previewed like DuckDB."""
    on_duckdb = previews(run_cli)
    assert all(on_duckdb.values())
    # holdout flags are compared too: some members are held out
    assert any(row.endswith(",true") for rows in on_duckdb.values() for row in rows)
    database = f"parity_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("SEGSYNC_SOURCE_URL", spark_url)
    monkeypatch.setenv("SEGSYNC_STORE__PROFILES_TABLE", f"{database}.profiles")
    monkeypatch.setenv("SEGSYNC_STORE__EVENTS_TABLE", f"{database}.events")
    for table in ("profiles", "events"):
        code, out, err = run_cli(["load", table, str(demo_files / f"{table}.parquet")])
        assert code == 0, err
        assert out.startswith(f"loaded {'2,000' if table == 'profiles' else ''}")
    assert previews(run_cli) == on_duckdb
    # a table holding rows is replaced only when asked to, and nothing is written otherwise
    code, _, err = run_cli(["load", "profiles", str(demo_files / "profiles.parquet")])
    assert code == 1 and "already holds 2,000 rows" in err
    code, _, err = run_cli(["load", "profiles", "--append", str(demo_files / "profiles.parquet")])
    assert code == 1 and "is already in the store's" in err


@pytest.mark.postgres
@pytest.mark.slow
def test_demo_into_postgres(
    tmp_path: Path, pg_schema: str, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEGSYNC_CONFIG_DIR", str(tmp_path / "conf"))
    monkeypatch.setenv("SEGSYNC_SECRETS_DIR", str(tmp_path / "secrets"))
    monkeypatch.setenv("SEGSYNC_STORE__PROFILES_TABLE", f"{pg_schema}.profiles")
    monkeypatch.setenv("SEGSYNC_STORE__EVENTS_TABLE", f"{pg_schema}.events")
    demo = ["demo", "--store", POSTGRES_URL, "--profiles", "500", "--as-of", AS_OF, "--no-sync"]
    code, out, err = run_cli(demo)
    assert (code, err) == (0, "")
    assert out.startswith("built postgresql://")
    assert "500 profiles" in out.splitlines()[0]
    assert not (tmp_path / "data").exists()  # nothing built locally
    with psycopg.connect(POSTGRES_URL, autocommit=True) as con:
        assert con.execute(f"SELECT count(*) FROM {pg_schema}.profiles").fetchone() == (500,)
        assert run_cli(demo)[0] == 0  # an earlier demo is replaced
        con.execute(f"COMMENT ON TABLE {pg_schema}.events IS 'our orders'")
        code, out, err = run_cli(demo)
        assert (code, out) == (1, "")
        assert f"already has {pg_schema}.events, not written by segsync demo" in err
        assert run_cli([*demo, "--force"])[0] == 0
    code, _, err = run_cli(["demo", "--store", "mysql://h/db"])
    assert code == 1 and "unsupported store 'mysql://'" in err


@pytest.mark.spark
@pytest.mark.slow
def test_demo_into_spark(
    tmp_path: Path, spark_url: str, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``segsync demo --store spark://local?warehouse=DIR`` end to end: built, loaded,
    evaluated and synced into the emulators; a table it did not write needs --force."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEGSYNC_CONFIG_DIR", str(tmp_path / "conf"))
    monkeypatch.setenv("SEGSYNC_SECRETS_DIR", str(tmp_path / "secrets"))
    database = f"demo_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("SEGSYNC_STORE__PROFILES_TABLE", f"{database}.profiles")
    monkeypatch.setenv("SEGSYNC_STORE__EVENTS_TABLE", f"{database}.events")
    demo = ["demo", "--store", spark_url, "--profiles", "300", "--as-of", AS_OF]
    code, out, err = run_cli(demo)
    assert (code, err) == (0, ""), err
    assert out.startswith("built spark://local?warehouse=")
    assert "300 profiles" in out.splitlines()[0]
    assert "What the ESPs hold" in out  # synced into the emulators
    assert not (tmp_path / "data").exists()  # nothing built locally
    monkeypatch.setenv("SEGSYNC_SOURCE_URL", spark_url)
    code, out, err = run_cli(["preview", "vip-new-york", "--as-of", AS_OF])
    assert code == 0, err
    assert out.splitlines()[0] == "profile_id,email,holdout"
    spark = spark_session(parse_store_url(spark_url))
    spark.sql(f"COMMENT ON TABLE {database}.events IS 'our orders'")
    code, out, err = run_cli([*demo, "--no-sync"])
    assert (code, out) == (1, "")
    assert f"already has {database}.events, not written by segsync demo" in err
    assert run_cli([*demo, "--no-sync", "--force"])[0] == 0
