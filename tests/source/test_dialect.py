"""The evaluation query ``evaluate`` sends for the demo segments and for the benchmark's
50 test segments (every condition kind), rendered in each store's dialect: only constructs
valid there, parsed back by sqlglot in that dialect, and for the warehouses (not executed
here) compared with reviewed fixture files in ``golden/``.

After a deliberate change to the compiler, regenerate the fixtures with
``SEGSYNC_REGENERATE_GOLDEN=1 pytest tests/source/test_dialect.py`` and review the diff."""

from __future__ import annotations

import importlib.util
import math
import os
from datetime import datetime
from importlib.resources import as_file, files
from pathlib import Path

import numpy as np
import pytest
import sqlglot
from sqlglot import exp

from connector.definitions.loader import load_definitions
from connector.esp.registry import destination_models
from connector.evaluate.engine import evaluate
from connector.source import open_store
from connector.source.demo import DemoSpec, build_demo_store
from connector.source.dialect import render

AS_OF = datetime(2026, 11, 23, 8)
GOLDEN = Path(__file__).parent / "golden"
BENCH = Path(__file__).resolve().parents[2] / "bench" / "evaluate.py"


def sent_query(store_path: Path, config: Path, as_of: datetime) -> exp.Expr:
    """The query ``evaluate`` hands to the store (a full evaluation of every local segment)."""
    defs = load_definitions(config, destination_models())
    seen: list[exp.Expr] = []
    with open_store(f"duckdb:///{store_path}") as store:
        original = store.columns

        def record(query: exp.Expr) -> dict[str, np.ndarray]:
            seen.append(query.copy())
            return original(query)

        store.columns = record  # type: ignore[method-assign]
        evaluate(store, defs, as_of=as_of, incremental=False)
    (query,) = seen
    return query


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    build_demo_store(f"duckdb:///{path}", DemoSpec(as_of=AS_OF, profiles=200))
    return path


@pytest.fixture(scope="module")
def queries(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, exp.Expr]:
    """``demo_segments``: the demo config; ``test_segments``: the benchmark's 50 segments."""
    spec = importlib.util.spec_from_file_location("bench_evaluate", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    config = bench.write_config(tmp_path_factory.mktemp("bench-config"))
    with as_file(files("connector") / "demo_config") as folder:
        demo = sent_query(demo_store, folder, AS_OF)
    return {"demo_segments": demo, "test_segments": sent_query(demo_store, config, bench.AS_OF)}


#: DuckDB spellings (and BigQuery gaps) that must not reach a warehouse's SQL
NOT_IN = {
    "bigquery": ("MATERIALIZED", "TIME_TO_UNIX", "RADIANS(", "DATETIME", "EPOCH(", "::", "ILIKE"),
    "snowflake": ("MATERIALIZED", "TIME_TO_UNIX", "EPOCH(", "::", '"profile_id"', '"__s0"'),
}


@pytest.mark.parametrize("name", ["demo_segments", "test_segments"])
@pytest.mark.parametrize("dialect", ["bigquery", "snowflake", "spark", "postgres", "duckdb"])
def test_rendered_sql_is_valid_in_the_dialect(
    queries: dict[str, exp.Expr], name: str, dialect: str
) -> None:
    query = queries[name]
    text = render(query, dialect)
    sqlglot.parse_one(text, read=dialect)  # raises on anything the dialect cannot read
    hints = "MATERIALIZED" in text.upper()
    assert hints == (dialect in ("postgres", "duckdb"))
    assert ("TIME_TO_UNIX" in text.upper()) is False
    for construct in NOT_IN.get(dialect, ()):
        assert construct not in text.upper() if construct.isupper() else construct not in text
    if dialect == "duckdb":
        assert text == query.sql("duckdb")  # the compiler's own dialect is untouched


@pytest.mark.parametrize("name", ["demo_segments", "test_segments"])
def test_duckdb_renders_the_tree_itself_and_leaves_it_as_it_was(
    queries: dict[str, exp.Expr], name: str
) -> None:
    """DuckDB's text comes from the query's own tree, not a copy: the tree is the same
    afterwards and renders the same again, and a subquery (a tree with a parent) renders
    as it does on its own."""
    query = queries[name].copy()
    before = query.copy()
    text = render(query, "duckdb")
    assert query == before
    assert render(query, "duckdb") == text == before.sql("duckdb")
    subqueries = list(query.find_all(exp.Subquery))
    assert subqueries
    for subquery in subqueries:
        assert render(subquery.this, "duckdb") == subquery.this.copy().sql("duckdb")
    assert query == before


@pytest.mark.parametrize("name", ["demo_segments", "test_segments"])
@pytest.mark.parametrize("dialect", ["bigquery", "snowflake"])
def test_warehouse_sql_matches_the_reviewed_fixture(
    queries: dict[str, exp.Expr], name: str, dialect: str
) -> None:
    pretty = render(queries[name], dialect, pretty=True)  # what is sent, laid out on lines
    sqlglot.parse_one(pretty, read=dialect)
    fixture = GOLDEN / f"{name}.{dialect}.sql"
    if os.environ.get("SEGSYNC_REGENERATE_GOLDEN"):
        fixture.write_text(pretty + "\n", encoding="utf-8")
    assert fixture.read_text(encoding="utf-8") == pretty + "\n", (
        f"the compiled {dialect} SQL changed: review it and regenerate {fixture.name} "
        "(see this module's docstring)"
    )


def test_bigquery_epoch_seconds_take_a_timestamp() -> None:
    query = exp.select(exp.TimeToUnix(this=exp.column("ts"))).from_("t")
    assert render(query, "bigquery") == "SELECT UNIX_SECONDS(CAST(ts AS TIMESTAMP)) FROM t"
    assert render(query, "spark") == "SELECT UNIX_TIMESTAMP(ts) FROM t"


def test_bigquery_timestamps_are_timestamps() -> None:
    """BigQuery compares no DATETIME with a TIMESTAMP column: every cast is to TIMESTAMP."""
    query = sqlglot.parse_one(
        "SELECT * FROM t WHERE signup_at >= CAST('2026-01-01 00:00:00' AS TIMESTAMP) "
        "AND CAST(birthday AS TIMESTAMP) < CAST('2000-01-01' AS TIMESTAMP)",
        read="duckdb",
    )
    assert render(query, "bigquery") == (
        "SELECT * FROM t WHERE signup_at >= CAST('2026-01-01 00:00:00' AS TIMESTAMP) "
        "AND CAST(birthday AS TIMESTAMP) < CAST('2000-01-01' AS TIMESTAMP)"
    )


def test_bigquery_radians_by_hand() -> None:
    query = sqlglot.parse_one("SELECT SIN(RADIANS(lat - 37.5)) FROM t", read="duckdb")
    text = render(query, "bigquery")
    assert text == "SELECT SIN((lat - 37.5) * (ACOS(-1) / 180)) FROM t"
    assert math.isclose(math.acos(-1) / 180, math.radians(1))


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("profile_id", "profile_id"),
        ("__s0", "__s0"),
        ("signupAt", '"signupAt"'),  # mixed case: matched exactly
        ("attr:region", '"attr:region"'),
        ("order", '"order"'),  # a reserved word is never unquoted
        ("2fa", '"2fa"'),
    ],
)
def test_snowflake_names(name: str, written: str) -> None:
    query = exp.select(exp.column(name, quoted=True)).from_(exp.table_("events", quoted=True))
    assert render(query, "snowflake") == f"SELECT {written} FROM events"


def test_bigquery_intervals_take_a_number() -> None:
    query = sqlglot.parse_one("SELECT a + INTERVAL '86400' SECOND FROM t", read="duckdb")
    assert render(query, "bigquery") == "SELECT a + INTERVAL 86400 SECOND FROM t"
    assert render(query, "snowflake") == "SELECT a + INTERVAL '86400 SECOND' FROM t"


def test_bigquery_exact_sums_keep_their_scale() -> None:
    query = sqlglot.parse_one("SELECT SUM(CAST(amount AS DECIMAL(38, 6))) FROM t", read="duckdb")
    assert render(query, "bigquery") == "SELECT SUM(ROUND(CAST(amount AS BIGNUMERIC), 6)) FROM t"
    assert render(query, "snowflake") == "SELECT SUM(CAST(amount AS DECIMAL(38, 6))) FROM t"
