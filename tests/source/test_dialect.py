"""The compiled evaluation query of the demo segments, rendered in each store's dialect:
only constructs valid there, parsed back by sqlglot in that dialect, and for the
warehouses (not executed here) compared with reviewed fixture files in ``golden/``.

After a deliberate change to the compiler, regenerate the fixtures with
``SEGSYNC_REGENERATE_GOLDEN=1 pytest tests/source/test_dialect.py`` and review the diff."""

from __future__ import annotations

import os
from datetime import datetime
from importlib.resources import as_file, files
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from connector.definitions.loader import load_definitions
from connector.evaluate.compile import RuleCompiler
from connector.evaluate.engine import has_esp_conditions
from connector.source import open_store
from connector.source.demo import DemoSpec, build_demo_store
from connector.source.dialect import render

AS_OF = datetime(2026, 11, 23, 8)
GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def demo_query(tmp_path_factory: pytest.TempPathFactory) -> exp.Expr:
    """The one query ``evaluate`` sends for every local demo segment (full evaluation)."""
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    build_demo_store(f"duckdb:///{path}", DemoSpec(as_of=AS_OF, profiles=200))
    with as_file(files("connector") / "demo_config") as folder:
        defs = load_definitions(folder)
    with open_store(f"duckdb:///{path}") as store:
        schema = store.discover()
    compiler = RuleCompiler(defs, schema, AS_OF)
    names = sorted(n for n, s in defs.segments.items() if not has_esp_conditions(s.rule))
    outputs = [(f"__s{i}", compiler.segment(name)) for i, name in enumerate(names)]
    rows = exp.to_identifier("__all", quoted=True)
    return (
        exp.select(exp.Star())
        .from_(rows)
        .with_(rows, as_=compiler.query(outputs, extra_columns=[]), materialized=True)
    )


@pytest.mark.parametrize("dialect", ["bigquery", "snowflake", "spark", "postgres", "duckdb"])
def test_rendered_sql_is_valid_in_the_dialect(demo_query: exp.Expr, dialect: str) -> None:
    text = render(demo_query, dialect)
    sqlglot.parse_one(text, read=dialect)  # raises on anything the dialect cannot read
    hints = "MATERIALIZED" in text.upper()
    assert hints == (dialect in ("postgres", "duckdb"))
    assert ("TIME_TO_UNIX" in text.upper()) is False
    if dialect == "duckdb":
        assert text == demo_query.sql("duckdb")  # the compiler's own dialect is untouched


@pytest.mark.parametrize("dialect", ["bigquery", "snowflake"])
def test_warehouse_sql_matches_the_reviewed_fixture(demo_query: exp.Expr, dialect: str) -> None:
    pretty = sqlglot.parse_one(render(demo_query, dialect), read=dialect).sql(
        dialect=dialect, pretty=True
    )
    fixture = GOLDEN / f"demo_segments.{dialect}.sql"
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
