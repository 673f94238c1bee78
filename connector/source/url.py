"""Customer store URLs, SQLAlchemy style.

duckdb:///relative/path.duckdb     (relative to the working directory)
duckdb:////absolute/path.duckdb
duckdb:///:memory:                 (tests)
duckdb:///path.duckdb?memory_limit=4GB   (DuckDB's memory for segsync's queries; default 1GB)
postgresql://user@host:5432/db     (also postgres://, postgresql+psycopg://)
spark://local?warehouse=DIR        (Spark in-process, managed tables under DIR)
spark://HOST:7077                  (a standalone Spark cluster)
sc://HOST:15002                    (Spark Connect, e.g. Databricks)
bigquery://PROJECT/DATASET         (BigQuery; not executed in segsync's tests)
snowflake://USER@ACCOUNT/DATABASE/SCHEMA?warehouse=WH   (Snowflake; not executed either)

Every kind names the sqlglot dialect its queries are rendered in (``StoreUrl.dialect``).
Any other scheme is a ``ConfigError`` that lists the supported ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from connector.errors import ConfigError

if TYPE_CHECKING:
    from connector.source.warehouse_url import BigQueryTarget, SnowflakeTarget

__all__ = ["DIALECTS", "DUCKDB_MEMORY_LIMIT", "SCHEMES", "StoreUrl", "parse_store_url"]

#: store kind -> the sqlglot dialect its SQL is written in
DIALECTS = {
    "duckdb": "duckdb",
    "postgresql": "postgres",
    "spark": "spark",
    "sc": "spark",
    "bigquery": "bigquery",
    "snowflake": "snowflake",
}
#: the schemes ``parse_store_url`` accepts, as shown in errors
SCHEMES = ("duckdb", "postgresql", "spark", "sc", "bigquery", "snowflake")
_EXAMPLES = (
    "duckdb:///path.duckdb, postgresql://user@host/db, spark://local?warehouse=DIR, "
    "spark://HOST:7077, sc://HOST:15002, bigquery://PROJECT/DATASET or "
    "snowflake://USER@ACCOUNT/DATABASE/SCHEMA?warehouse=WH"
)
#: what DuckDB may hold in memory for segsync's queries unless the URL says otherwise:
#: beyond it, DuckDB drops cached blocks and spills to disk (its own default is 80 % of RAM,
#: which a run over a million profiles fills to 2 GiB with blocks it does not need again)
DUCKDB_MEMORY_LIMIT = "1GB"
_SIZE = re.compile(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)


@dataclass(frozen=True)
class StoreUrl:
    kind: str  # "duckdb" | "postgresql" | "spark" | "sc" | "bigquery" | "snowflake"
    path: Path | None = None  # duckdb file (None = in memory)
    dsn: str = ""  # the URL as given (minus a driver suffix), for the other kinds
    memory_limit: str = DUCKDB_MEMORY_LIMIT  # duckdb: ``SET memory_limit``

    @property
    def dialect(self) -> str:
        """The sqlglot dialect of this store's SQL."""
        return DIALECTS[self.kind]

    def display(self) -> str:
        """The URL without a password, for messages."""
        if self.kind == "duckdb":
            base = f"duckdb:///{self.path}" if self.path else "duckdb:///:memory:"
            if self.memory_limit != DUCKDB_MEMORY_LIMIT:
                base += f"?memory_limit={self.memory_limit}"
            return base
        parts = urlsplit(self.dsn)
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        if parts.username:
            netloc = f"{parts.username}@{netloc}"
        if self.kind in ("bigquery", "snowflake"):
            return _warehouse_target(self.kind, self.dsn).display()
        if self.kind in ("spark", "sc"):
            query = f"?{parts.query}" if parts.query and self.kind == "spark" else ""
            return f"{self.kind}://{netloc}{parts.path}{query}"
        return f"postgresql://{netloc}{parts.path}"


def parse_store_url(url: str) -> StoreUrl:
    """Parse ``SEGSYNC_SOURCE_URL``; an unknown scheme is a ``ConfigError``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError(
            f"invalid store URL '{url}': expected {_EXAMPLES}",
            file="SEGSYNC_SOURCE_URL",
        )
    base = scheme.split("+", 1)[0].lower()
    if base == "duckdb":
        if not rest.startswith("/"):
            raise ConfigError(
                f"invalid store URL '{url}': use duckdb:///relative/path or "
                "duckdb:////absolute/path (three or four slashes)",
                file="SEGSYNC_SOURCE_URL",
            )
        target, _, query = rest[1:].partition("?")
        limit = _duckdb_memory_limit(url, query)
        if target in ("", ":memory:"):
            return StoreUrl("duckdb", memory_limit=limit)
        return StoreUrl("duckdb", path=Path(target), memory_limit=limit)
    if base in ("postgresql", "postgres"):
        return StoreUrl("postgresql", dsn=f"postgresql://{rest}")
    if base in ("spark", "sc"):
        if not urlsplit(f"{base}://{rest}").hostname:
            raise ConfigError(
                f"invalid store URL '{url}': use spark://local?warehouse=DIR, "
                "spark://HOST:7077 or sc://HOST:15002",
                file="SEGSYNC_SOURCE_URL",
            )
        return StoreUrl(base, dsn=f"{base}://{rest}")
    if base == "bigquery":
        _warehouse_target(base, f"bigquery://{rest}")  # raises on a bad project, dataset, …
        return StoreUrl(base, dsn=f"bigquery://{rest}")
    if base == "snowflake":
        _warehouse_target(base, f"snowflake://{rest}")  # raises on missing parts, bad parameters
        return StoreUrl(base, dsn=f"snowflake://{rest}")
    raise ConfigError(
        f"unsupported store '{scheme}://': segsync reads "
        + ", ".join(f"{s}://" for s in SCHEMES)
        + f" stores (e.g. {_EXAMPLES})",
        file="SEGSYNC_SOURCE_URL",
    )


def _warehouse_target(kind: str, dsn: str) -> BigQueryTarget | SnowflakeTarget:
    """A BigQuery or Snowflake URL's parts (raises on bad ones); their parser loads only
    for those URLs."""
    from connector.source import warehouse_url  # noqa: PLC0415

    if kind == "bigquery":
        return warehouse_url.bigquery_target(dsn)
    return warehouse_url.snowflake_target(dsn)


def _duckdb_memory_limit(url: str, query: str) -> str:
    """``memory_limit=SIZE`` from a DuckDB URL's query (the only option it takes)."""
    if not query:
        return DUCKDB_MEMORY_LIMIT
    name, _, value = query.partition("=")
    if name != "memory_limit" or not _SIZE.fullmatch(value.strip()):
        raise ConfigError(
            f"invalid store URL '{url}': a DuckDB URL takes only ?memory_limit=SIZE "
            "(e.g. ?memory_limit=4GB; units KB, MB, GB, TB, KiB, MiB, GiB, TiB)",
            file="SEGSYNC_SOURCE_URL",
        )
    return value.strip()
