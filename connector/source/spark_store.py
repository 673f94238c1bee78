"""Spark: the store for data that lives in a Spark catalog (``pip install 'segsync[spark]'``).

Queries are rendered in the ``spark`` dialect and run by Spark SQL; results come back as
Arrow. Timestamps come back as naive UTC (the session runs in UTC), like the other stores.
Spark stores evaluate in full: the incremental rollups are DuckDB's
(``connector.source.rollups``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
from sqlglot import exp

from connector.source.layout import StoreLayout
from connector.source.spark_session import spark_session
from connector.source.store import Store
from connector.source.url import StoreUrl

__all__ = ["SparkStore", "naive_utc", "spark_name"]


def spark_name(name: str) -> str:
    """``schema.table`` / ``table`` quoted for the Spark catalog API."""
    return ".".join(f"`{part.replace('`', '``')}`" for part in name.split("."))


def naive_utc(table: pa.Table) -> pa.Table:
    """``table`` with every timezone-aware timestamp column as naive UTC."""
    for index, column in enumerate(table.schema):
        kind = column.type
        if pa.types.is_timestamp(kind) and kind.tz is not None:
            naive = table.column(index).cast(pa.timestamp(kind.unit))
            table = table.set_column(index, column.name, naive)
    return table


class SparkStore(Store):
    dialect = "spark"

    def __init__(self, url: StoreUrl, layout: StoreLayout) -> None:
        super().__init__(url, layout)
        self.spark = spark_session(url)

    def arrow(self, query: exp.Expr) -> pa.Table:
        """Run ``query``; its result as an Arrow table (timestamps naive UTC)."""
        return naive_utc(self.spark.sql(self.sql(query)).toArrow())

    def rows(self, query: exp.Expr) -> list[tuple[Any, ...]]:
        table = self.arrow(query)
        columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
        return list(zip(*columns, strict=True)) if columns else []

    def columns(self, query: exp.Expr) -> dict[str, np.ndarray]:
        table = self.arrow(query)
        result: dict[str, np.ndarray] = {}
        for name, column in zip(table.column_names, table.columns, strict=True):
            if pa.types.is_boolean(column.type) and column.null_count == 0:
                result[name] = column.to_numpy(zero_copy_only=False).astype(bool)
                continue
            values = column.to_pylist()
            array = np.empty(len(values), dtype=object)
            array[:] = values
            result[name] = array
        return result

    def _table_columns(self, name: str) -> dict[str, str]:
        catalog = self.spark.catalog
        quoted = spark_name(name)
        if not catalog.tableExists(quoted):
            return {}
        return {str(c.name): str(c.dataType) for c in catalog.listColumns(quoted)}

    def close(self) -> None:
        """The session stays up for the next store of this process (``spark_session``)."""
