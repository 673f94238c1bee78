"""Store URLs follow SQLAlchemy's convention."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlglot import exp

from connector.errors import ConfigError
from connector.source import open_store
from connector.source.url import DUCKDB_MEMORY_LIMIT, parse_store_url


@pytest.mark.parametrize(
    ("url", "kind", "path"),
    [
        ("duckdb:///data/customers.duckdb", "duckdb", Path("data/customers.duckdb")),
        ("duckdb:////abs/customers.duckdb", "duckdb", Path("/abs/customers.duckdb")),
        ("duckdb:///:memory:", "duckdb", None),
    ],
)
def test_duckdb_urls(url: str, kind: str, path: Path | None) -> None:
    parsed = parse_store_url(url)
    assert (parsed.kind, parsed.path) == (kind, path)


@pytest.mark.parametrize(
    ("url", "path", "limit"),
    [
        ("duckdb:///data/c.duckdb?memory_limit=4GB", Path("data/c.duckdb"), "4GB"),
        ("duckdb:///:memory:?memory_limit=512 MiB", None, "512 MiB"),
        ("duckdb:///data/c.duckdb", Path("data/c.duckdb"), DUCKDB_MEMORY_LIMIT),
    ],
)
def test_duckdb_memory_limit(url: str, path: Path | None, limit: str) -> None:
    parsed = parse_store_url(url)
    assert (parsed.path, parsed.memory_limit) == (path, limit)
    assert parse_store_url(parsed.display()) == parsed


@pytest.mark.parametrize(
    "url",
    ["duckdb:///c.duckdb?memory_limit=lots", "duckdb:///c.duckdb?threads=4", "duckdb:///c?x"],
)
def test_duckdb_url_options_are_checked(url: str) -> None:
    with pytest.raises(ConfigError, match=r"takes only \?memory_limit=SIZE") as info:
        parse_store_url(url)
    assert "SEGSYNC_SOURCE_URL" in str(info.value)


def test_duckdb_store_applies_the_memory_limit() -> None:
    with open_store("duckdb:///:memory:?memory_limit=300MB", read_only=False) as db:
        (limit,) = db.rows(
            exp.select(exp.func("current_setting", exp.Literal.string("memory_limit")))
        )[0]
    assert limit in ("286.1 MiB", "300.0 MB"), limit


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:pw@h:5433/db",
        "postgres://u:pw@h:5433/db",
        "postgresql+psycopg://u:pw@h:5433/db",
    ],
)
def test_postgres_urls_hide_the_password(url: str) -> None:
    parsed = parse_store_url(url)
    assert parsed.kind == "postgresql"
    assert parsed.dsn == "postgresql://u:pw@h:5433/db"
    assert parsed.display() == "postgresql://u@h:5433/db"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("customers.duckdb", "expected duckdb:///path.duckdb"),
        ("duckdb://data.duckdb", "three or four slashes"),
        ("mysql://h/db", "unsupported store 'mysql://'"),
        ("foo://bar", "unsupported store 'foo://'"),
        ("spark://", "use spark://local?warehouse=DIR"),
    ],
)
def test_bad_urls(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_store_url(url)
    assert message in str(info.value)
    assert "SEGSYNC_SOURCE_URL" in str(info.value)


@pytest.mark.parametrize("url", ["mysql://h/db", "foo://bar", "sqlite:///x.db"])
def test_unknown_schemes_name_the_supported_ones(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_store_url(url)
    for scheme in (
        "duckdb://",
        "postgresql://",
        "spark://",
        "sc://",
        "bigquery://",
        "snowflake://",
    ):
        assert scheme in str(info.value)


@pytest.mark.parametrize(
    ("url", "kind", "dialect", "shown"),
    [
        ("duckdb:///x.duckdb", "duckdb", "duckdb", "duckdb:///x.duckdb"),
        ("postgresql://u:pw@h/db", "postgresql", "postgres", "postgresql://u@h/db"),
        (
            "spark://local?warehouse=/tmp/wh",
            "spark",
            "spark",
            "spark://local?warehouse=/tmp/wh",
        ),
        ("spark://master:7077", "spark", "spark", "spark://master:7077"),
        ("sc://u:tok@dbc.example:15002", "sc", "spark", "sc://u@dbc.example:15002"),
    ],
)
def test_every_store_names_its_dialect(url: str, kind: str, dialect: str, shown: str) -> None:
    parsed = parse_store_url(url)
    assert (parsed.kind, parsed.dialect, parsed.display()) == (kind, dialect, shown)
    assert "pw" not in parsed.display() and "tok" not in parsed.display()
