"""``segsync load`` into Spark: the DuckDB loader's staging and checks, then a managed table.

The file is staged and checked exactly as for DuckDB (``duckdb_loader._Load``: required columns,
timestamps, ids, consent, the casts an append needs); the store's side (does the table
exist, how many rows, its column types, ids already there) is read from the Spark catalog.
The converted rows go to Spark as Arrow.

All or nothing: Spark has no transactions across statements, so a new or replaced table
is first written whole under a staging name and only then put in place (drop, rename); a
failure while writing leaves the store's table as it was. An append is one Spark job,
committed only when every task succeeded.
"""

from __future__ import annotations

import dataclasses
import uuid
import warnings
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from connector.errors import ConfigError
from connector.source.duckdb_loader import LoadReport, Target, _Load, _reason
from connector.source.layout import StoreLayout
from connector.source.spark_store import SparkStore, spark_name
from connector.source.url import StoreUrl

__all__ = ["load_spark", "spark_type"]

_IDS = "__store_ids"

#: DuckDB type -> Spark SQL type for new tables
_TO_SPARK = {
    "VARCHAR": "string",
    "BOOLEAN": "boolean",
    "TINYINT": "tinyint",
    "UTINYINT": "smallint",
    "SMALLINT": "smallint",
    "USMALLINT": "int",
    "INTEGER": "int",
    "UINTEGER": "bigint",
    "BIGINT": "bigint",
    "UBIGINT": "decimal(20,0)",
    "HUGEINT": "decimal(38,0)",
    "UHUGEINT": "decimal(38,0)",
    "FLOAT": "float",
    "DOUBLE": "double",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamp",
}
#: Spark type -> DuckDB type (for the loader's checks)
_FROM_SPARK = {
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "tinyint": "TINYINT",
    "smallint": "SMALLINT",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "timestamp_ntz": "TIMESTAMP",
}


def spark_type(duck_type: str) -> str | None:
    """The Spark column type for a DuckDB one (``None``: not a scalar we write)."""
    name = duck_type.upper()
    if name.startswith("DECIMAL"):
        return "decimal" + name.removeprefix("DECIMAL")
    return _TO_SPARK.get(name)


def _duck_type(spark: str) -> str:
    if spark.startswith("decimal"):
        return "DECIMAL" + spark.removeprefix("decimal")
    if spark.startswith(("varchar", "char")):
        return "VARCHAR"
    return _FROM_SPARK.get(spark, spark.upper())


def _spark_reason(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0][:300] if lines else type(exc).__name__


class _SparkLoad(_Load):
    """A load whose store is a Spark catalog (``store.spark``)."""

    def __init__(self, file: Path, target: Target, layout: StoreLayout, store: SparkStore) -> None:
        super().__init__(file, target, layout)
        self.spark = store.spark
        self.spark_types: dict[str, str] = {}  # the store table's columns, Spark spelling

    def _name(self, table: str) -> tuple[str, str]:
        parts = table.split(".")
        if len(parts) > 1:
            return parts[-2], parts[-1]
        return str(self.spark.catalog.currentDatabase()), parts[-1]

    def _spark_table(self, table: str) -> str:
        return spark_name(".".join(self._name(table)))

    def store_table(self, table: str) -> tuple[str, dict[str, str]] | None:
        name = self._spark_table(table)
        catalog = self.spark.catalog
        if not catalog.tableExists(name):
            return None
        kind = "VIEW" if str(catalog.getTable(name).tableType).upper() == "VIEW" else "BASE TABLE"
        columns = {str(c.name): str(c.dataType) for c in catalog.listColumns(name)}
        if table == self.table:
            self.spark_types = columns
        return kind, {c: _duck_type(t) for c, t in columns.items()}

    def store_rows(self) -> int:
        return int(self.spark.table(self._spark_table(self.table)).count())

    def _target_sql(self, table: str) -> str:
        """The store's ids, copied into the staging connection by ``check_new_ids``."""
        return _IDS

    def check_new_ids(self) -> None:
        pid = self.layout.profile_id
        ids = self.spark.table(self._spark_table(self.table)).select(f"`{pid}`").toArrow()
        self.con.register("__store_ids_arrow", ids)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {_IDS} AS FROM __store_ids_arrow")
        self.con.unregister("__store_ids_arrow")
        super().check_new_ids()

    # -- writing ----------------------------------------------------------------------
    def final(self) -> pa.Table:
        """The converted rows in file order, as Arrow."""
        columns = ", ".join(f"{self.expr(c)} AS {_q(c)}" for c in self.types)
        query = f"SELECT {columns} FROM __load ORDER BY __row"
        with warnings.catch_warnings():  # "an extra copy": con.sql() would need a fresh result
            warnings.simplefilter("ignore", UserWarning)
            table = self.con.execute(query).to_arrow_table()
        return _plain(table)

    def schema(self) -> str:
        """The Spark schema (DDL) of the written rows; a column Spark cannot hold is an error."""
        parts = []
        for column, kind in self.final_types().items():
            wanted = spark_type(kind)
            if wanted is None:
                raise self.fail(
                    f"column '{column}' is {kind}: segsync load writes text, numbers, "
                    "booleans, dates and timestamps to Spark"
                )
            parts.append(f"{_bq(column)} {wanted}")
        return ", ".join(parts)

    def run(self, append: bool, existing: dict[str, str] | None, dry_run: bool) -> LoadReport:
        appending = append and existing is not None
        rows = self.count("__load")
        target = self._spark_table(self.table)
        schema, name = self._name(self.table)
        if dry_run:
            self.schema()
            columns = (
                list(self.spark_types.items())
                if existing is not None
                else [(c, spark_type(t) or t) for c, t in self.types.items()]
            )
            total = rows + (self.rows_before if appending else 0)
        else:
            frame = self.spark.createDataFrame(self.final(), schema=self.schema())
            self.spark.sql(f"CREATE DATABASE IF NOT EXISTS {spark_name(schema)}")
            if appending:
                frame.write.mode("append").saveAsTable(target)
            else:
                self.replace(frame, schema, name)
            note = f"loaded by segsync load from {self.file.name}".replace("'", "\\'")
            self.spark.sql(f"COMMENT ON TABLE {target} IS '{note}'")
            self.store_table(self.table)
            columns = list(self.spark_types.items())
            total = self.store_rows()
        return LoadReport(
            table=self.table,
            store="",
            rows=rows,
            total_rows=total,
            columns=columns,
            appended=appending,
            created=not self.existed,
            warnings=self.warnings,
            rows_before=self.rows_before,
            dry_run=dry_run,
        )

    def replace(self, frame: Any, schema: str, name: str) -> None:
        """Write the table whole under a staging name, then put it in place."""
        target = spark_name(f"{schema}.{name}")
        staging = spark_name(f"{schema}.__segsync_load_{uuid.uuid4().hex[:12]}")
        try:
            frame.write.mode("error").saveAsTable(staging)
        except BaseException:
            self.spark.sql(f"DROP TABLE IF EXISTS {staging}")
            raise
        self.spark.sql(f"DROP TABLE IF EXISTS {target}")
        self.spark.sql(f"ALTER TABLE {staging} RENAME TO {target}")


def _plain(table: pa.Table) -> pa.Table:
    """Timestamps in microseconds, naive (UTC): what Spark's timestamp holds."""
    for index, column in enumerate(table.schema):
        if pa.types.is_timestamp(column.type):
            table = table.set_column(
                index, column.name, table.column(index).cast(pa.timestamp("us"))
            )
    return table


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _bq(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def load_spark(
    url: StoreUrl,
    layout: StoreLayout,
    target: Target,
    file: Path,
    *,
    append: bool,
    replace: bool,
    dry_run: bool,
) -> LoadReport:
    """``load_file`` for a Spark store (same checks, same flags, same report)."""
    errors = _spark_errors()
    store = SparkStore(url, layout)  # DependencyError (exit 2) when Spark does not start
    job = _SparkLoad(file, target, layout, store)
    try:
        job.stage()
        job.check()
        job.prepare()
        existing = job.check_store(append, replace)
        report = job.run(append, existing, dry_run)
    except duckdb.Error as exc:
        raise ConfigError(f"cannot load it: {_reason(exc)}", file=str(file)) from None
    except errors as exc:
        raise ConfigError(f"cannot load it: {_spark_reason(exc)}", file=str(file)) from None
    finally:
        job.con.close()
        store.close()
    return dataclasses.replace(report, store=url.display())


def _spark_errors() -> tuple[type[Exception], ...]:
    """What Spark raises for a failed statement or job (SQL errors, JVM errors)."""
    # pyspark (the spark extra) is imported at module level by spark_session only (with its
    # install hint)
    from py4j.protocol import Py4JError  # noqa: PLC0415
    from pyspark.errors import PySparkException  # noqa: PLC0415

    return (PySparkException, Py4JError)
