"""The customer store (profiles and events): DuckDB by default, PostgreSQL as a server,
Spark (local, a cluster or Spark Connect) for data that lives in a Spark catalog.

Each store names the sqlglot dialect of its SQL (``Store.dialect``, ``StoreUrl.dialect``).
"""

from __future__ import annotations

from connector.settings import StoreLayout
from connector.source.extras import require
from connector.source.schema import ColumnType, StoreSchema
from connector.source.spark_session import import_pyspark
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
    # Spark: pyspark and pyarrow (the ``spark`` extra) load here, never for the other stores
    require("pyarrow", "spark", "Spark stores")
    import_pyspark()
    from connector.source.spark_store import SparkStore

    return SparkStore(parsed, lay)
