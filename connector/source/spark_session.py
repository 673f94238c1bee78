"""Starting (and reusing) the Spark session behind a ``spark://`` or ``sc://`` store.

This is the only module that imports ``pyspark``, and only when a Spark store is opened:
every other code path (DuckDB, PostgreSQL, the CLI's start-up) never pays for it.

- ``spark://local?warehouse=DIR``: Spark in this process (local mode, every core), with
  managed tables and their metastore (embedded Derby) under ``DIR``, so a table written by
  one ``segsync`` command is there for the next;
- ``spark://HOST:7077``: a standalone cluster (Spark's persistent catalog, as configured there);
- ``sc://HOST:15002``: Spark Connect (e.g. Databricks), the URL handed to it as is.

A JVM holds one Spark session at a time: a process keeps it for later stores with the
same URL (starting one takes seconds), and stops it when a store with another URL opens.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from connector.errors import ConfigError, DependencyError
from connector.source.extras import require
from connector.source.url import StoreUrl

__all__ = ["import_pyspark", "local_warehouse", "spark_session"]

_LOG_CONFIG = Path(__file__).with_name("spark_log4j2.properties")
_CURRENT: dict[str, Any] = {}  # URL -> its SparkSession (one at a time)


def import_pyspark() -> ModuleType:
    """``pyspark.sql``, or a ``ConfigError`` naming the extra to install."""
    module = require("pyspark.sql", "spark", "Spark stores")
    # PySpark logs every failed statement to stderr as JSON before raising it; segsync
    # reports the exception itself
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        logging.getLogger(name).disabled = True
    return module


def local_warehouse(url: StoreUrl) -> Path | None:
    """``DIR`` of ``spark://local?warehouse=DIR`` (``None`` for a cluster or Spark Connect)."""
    parts = urlsplit(url.dsn)
    if url.kind != "spark":
        return None
    if parts.hostname != "local":
        if parts.query:  # the master URL would be started without them, silently
            raise ConfigError(
                f"{url.display()}: a spark://HOST:PORT cluster takes no parameters (its "
                "catalog and warehouse come from the cluster's configuration)",
                file="SEGSYNC_SOURCE_URL",
            )
        return None
    query = parse_qs(parts.query)
    unknown = sorted(set(query) - {"warehouse"})
    if unknown:
        raise ConfigError(
            f"{url.display()}: unknown parameter {', '.join(unknown)} "
            "(spark://local takes warehouse=DIR)",
            file="SEGSYNC_SOURCE_URL",
        )
    values = query.get("warehouse", [])
    if not values or not values[-1].strip():
        raise ConfigError(
            f"{url.display()}: spark://local needs a warehouse directory for its tables, "
            "e.g. spark://local?warehouse=data/spark-warehouse",
            file="SEGSYNC_SOURCE_URL",
        )
    return Path(values[-1]).resolve()


def _builder(url: StoreUrl) -> Any:
    sql = import_pyspark()
    builder = sql.SparkSession.builder.appName("segsync")
    if url.kind == "sc":
        return builder.remote(url.dsn)
    java_options = f"-Dlog4j2.configurationFile={_LOG_CONFIG.as_uri()}"
    builder = (
        builder.config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # a persistent catalog: Spark's default (in memory) forgets the tables `segsync
        # load` wrote when its process ends, so the next command would find none
        .config("spark.sql.catalogImplementation", "hive")
    )
    warehouse = local_warehouse(url)
    if warehouse is None:
        # a cluster's metastore and warehouse come from its configuration (hive-site.xml,
        # spark-defaults.conf in SPARK_CONF_DIR); without one, Spark keeps them in the
        # working directory (metastore_db/, spark-warehouse/)
        master = url.dsn.split("?", 1)[0]
        return builder.master(master).config("spark.driver.extraJavaOptions", java_options)
    warehouse.mkdir(parents=True, exist_ok=True)
    metastore = warehouse / "metastore_db"
    return (
        builder.master("local[*]")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config(
            "spark.hadoop.javax.jdo.option.ConnectionURL",
            f"jdbc:derby:;databaseName={metastore};create=true",
        )
        .config("spark.driver.extraJavaOptions", f"{java_options} -Dderby.system.home={warehouse}")
    )


def spark_session(url: StoreUrl) -> Any:
    """The process's Spark session for ``url`` (started on first use)."""
    key = url.dsn
    if key in _CURRENT:
        return _CURRENT[key]
    for other in list(_CURRENT):
        _CURRENT.pop(other).stop()
    builder = _builder(url)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # py4j / grpc / JVM start-up errors have no common base
        lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
        reason = lines[0] if lines else type(exc).__name__
        raise DependencyError(
            f"cannot start Spark for the customer store {url.display()} "
            f"(SEGSYNC_SOURCE_URL): {reason[:300]}"
        ) from None
    _CURRENT[key] = session
    return session
