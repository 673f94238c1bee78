"""The customer store (profiles and events): DuckDB by default, PostgreSQL as a server,
Spark (local, a cluster or Spark Connect) for data that lives in a Spark catalog, BigQuery
and Snowflake for data in those warehouses (not executed in segsync's tests).

Each store names the sqlglot dialect of its SQL (``Store.dialect``, ``StoreUrl.dialect``).

``open_store`` and ``load_file`` import the module for the URL's kind when called: each
brings its driver (duckdb, psycopg, pyspark), and a command loads only the one it uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from connector.errors import ConfigError
from connector.source.extras import require
from connector.source.layout import StoreLayout
from connector.source.schema import ColumnType, StoreSchema
from connector.source.spark_session import import_pyspark
from connector.source.store import Store, table_expr
from connector.source.url import StoreUrl, parse_store_url

if TYPE_CHECKING:
    from connector.source.duckdb_loader import LoadReport, Target

__all__ = [
    "ColumnType",
    "Store",
    "StoreSchema",
    "StoreUrl",
    "check_writable",
    "load_file",
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
        from connector.source.duckdb_store import DuckDBStore  # noqa: PLC0415

        return DuckDBStore(parsed, lay, read_only=read_only)
    if parsed.kind == "postgresql":
        from connector.source.postgres_store import PostgresStore  # noqa: PLC0415

        return PostgresStore(parsed, lay)
    if parsed.kind == "bigquery":  # google-cloud-bigquery (the extra) loads in the store
        from connector.source.bigquery_store import BigQueryStore  # noqa: PLC0415

        return BigQueryStore(parsed, lay)
    if parsed.kind == "snowflake":  # snowflake-connector-python likewise
        from connector.source.snowflake_store import SnowflakeStore  # noqa: PLC0415

        return SnowflakeStore(parsed, lay)
    # Spark: pyspark and pyarrow (the ``spark`` extra) load here, never for the other stores
    require("pyarrow", "spark", "Spark stores")
    import_pyspark()
    from connector.source.spark_store import SparkStore  # noqa: PLC0415

    return SparkStore(parsed, lay)


def check_writable(url: StoreUrl, command: str) -> None:
    """A ``ConfigError`` unless segsync writes tables into stores of ``url``'s kind
    (``segsync load`` and ``segsync demo --store``: DuckDB, PostgreSQL, Spark)."""
    if url.kind in ("bigquery", "snowflake"):
        loader = "bq load" if url.kind == "bigquery" else "COPY INTO"
        raise ConfigError(
            f"{command} writes DuckDB, PostgreSQL and Spark stores, not {url.display()}: "
            f"load the warehouse's tables with its own loader ({loader}); segsync reads them",
            file="SEGSYNC_SOURCE_URL",
        )


def load_file(
    url: str | StoreUrl,
    layout: StoreLayout,
    target: Target,
    file: Path,
    *,
    append: bool = False,
    replace: bool = False,
    dry_run: bool = False,
) -> LoadReport:
    """Load ``file`` into the ``target`` table of the store at ``url`` (``segsync load``).

    Creates the table, appends to it (``append``) or replaces it (``replace``; a table that
    holds rows is never replaced without it). ``dry_run`` checks everything and reports the
    counts without writing. Raises ``ConfigError`` (one located message) on any bad input;
    then the store is left exactly as it was.
    """
    if append and replace:
        raise ConfigError("--append and --replace exclude each other", file=str(file))
    parsed = parse_store_url(url) if isinstance(url, str) else url
    check_writable(parsed, "segsync load")
    if parsed.kind == "duckdb":
        from connector.source.duckdb_loader import load_duckdb  # noqa: PLC0415

        return load_duckdb(
            parsed, layout, target, file, append=append, replace=replace, dry_run=dry_run
        )
    if parsed.kind == "postgresql":
        from connector.source.pg_loader import load_postgres  # noqa: PLC0415

        return load_postgres(
            parsed, layout, target, file, append=append, replace=replace, dry_run=dry_run
        )
    require("pyarrow", "spark", "Spark stores")
    import_pyspark()
    from connector.source.spark_loader import load_spark  # noqa: PLC0415

    return load_spark(parsed, layout, target, file, append=append, replace=replace, dry_run=dry_run)
