"""The Spark store's parts that need no Spark: URLs, the missing extra, rendering."""

from __future__ import annotations

import builtins
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlglot

from connector.errors import ConfigError
from connector.settings import StoreLayout
from connector.source import load_file, open_store
from connector.source.dialect import render
from connector.source.duckdb_loader import Target
from connector.source.spark_session import local_warehouse
from connector.source.url import parse_store_url


def test_local_warehouse_is_resolved(tmp_path: Path) -> None:
    url = parse_store_url(f"spark://local?warehouse={tmp_path / 'wh'}")
    assert local_warehouse(url) == (tmp_path / "wh").resolve()
    assert local_warehouse(parse_store_url("spark://cluster:7077")) is None
    assert local_warehouse(parse_store_url("sc://connect:15002")) is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("spark://local", "spark://local needs a warehouse directory"),
        ("spark://local?warehouse=", "spark://local needs a warehouse directory"),
        ("spark://local?warehouse=d&x=1", "unknown parameter x"),
        ("spark://cluster:7077?warehouse=d", "a spark://HOST:PORT cluster takes no parameters"),
    ],
)
def test_bad_local_urls(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        local_warehouse(parse_store_url(url))


@pytest.fixture
def no_pyspark(monkeypatch: pytest.MonkeyPatch) -> None:
    """``import pyspark`` fails, as without the spark extra."""
    real = builtins.__import__

    def fake(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "pyspark" or name.startswith("pyspark."):
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)
        return real(name, *args, **kwargs)

    for module in [m for m in sys.modules if m == "pyspark" or m.startswith("pyspark.")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setattr(builtins, "__import__", fake)


@pytest.mark.usefixtures("no_pyspark")
def test_without_the_extra_the_message_names_it(tmp_path: Path) -> None:
    url = f"spark://local?warehouse={tmp_path}"
    with pytest.raises(ConfigError) as caught:
        open_store(url)
    assert "pip install 'segsync[spark]'" in str(caught.value)
    assert caught.value.issues[0].location.file == "SEGSYNC_SOURCE_URL"
    data = tmp_path / "p.csv"
    data.write_text("profile_id,email\n1,a@example.com\n")
    with pytest.raises(ConfigError, match=r"segsync\[spark\]"):
        load_file(url, StoreLayout(), Target.PROFILES, data)
    assert list(tmp_path.iterdir()) == [data]  # nothing written, no warehouse made


def test_spark_conditions_are_never_parenthesised_alone() -> None:
    """Spark reads ``FROM t WHERE (x)`` as table ``t`` aliased ``WHERE(x)``."""
    query = sqlglot.parse_one("SELECT * FROM t WHERE ((ok)) ORDER BY id", dialect="duckdb")
    assert render(query, "spark") == "SELECT * FROM t WHERE ok ORDER BY id NULLS LAST"
    both = sqlglot.parse_one("SELECT * FROM t WHERE (a OR b) AND c", dialect="duckdb")
    assert render(both, "spark") == "SELECT * FROM t WHERE (a OR b) AND c"
    assert render(query, "duckdb") == "SELECT * FROM t WHERE ((ok)) ORDER BY id"
