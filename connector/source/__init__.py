"""The customer store (profiles and events): DuckDB by default, PostgreSQL as a server.

Each store names the sqlglot dialect of its SQL (``Store.dialect``, ``StoreUrl.dialect``).
"""

from __future__ import annotations

from connector.errors import ConfigError
from connector.settings import StoreLayout
from connector.source.schema import ColumnType, StoreSchema
from connector.source.store import Store, table_expr
from connector.source.url import StoreUrl, parse_store_url

__all__ = [
    "ColumnType",
    "Store",
    "StoreSchema",
    "StoreUrl",
    "open_store",
    "parse_store_url",
    "table_expr",
]


def open_store(
    url: str | StoreUrl, layout: StoreLayout | None = None, *, read_only: bool = True
) -> Store:
    """Open the store at ``url`` (a ``SEGSYNC_SOURCE_URL``-style string or parsed URL)."""
    parsed = parse_store_url(url) if isinstance(url, str) else url
    lay = layout or StoreLayout()
    if parsed.kind == "duckdb":
        from connector.source.duckdb_store import DuckDBStore

        return DuckDBStore(parsed, lay, read_only=read_only)
    if parsed.kind == "postgresql":
        from connector.source.postgres_store import PostgresStore

        return PostgresStore(parsed, lay)
    raise ConfigError(
        f"{parsed.display()}: Spark stores are not supported by this version of segsync "
        "(use duckdb:// or postgresql://)",
        file="SEGSYNC_SOURCE_URL",
    )
