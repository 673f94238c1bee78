"""BigQuery: a store for data in a BigQuery dataset (``pip install 'segsync[bigquery]'``).

Not executed in segsync's tests (no account): the URL, the settings of the client and
the SQL it sends are tested without network (``tests/source/test_warehouse_stores.py``,
``tests/source/golden/``). Queries are rendered in the ``bigquery`` dialect
(``connector.source.dialect``: timestamps as ``TIMESTAMP``, UTC) and run as query jobs
with the URL's dataset as default dataset. ``google-cloud-bigquery`` is imported only when
such a store opens. BigQuery stores evaluate in full (no rollups).

Timestamp columns must be ``TIMESTAMP`` (BigQuery compares no ``DATETIME`` with a
``TIMESTAMP``): a ``DATETIME`` attribute is reported as a column of another type (use a view
with ``TIMESTAMP(col)``); the events' timestamp may be either (it is cast explicitly).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlglot import exp

from connector.errors import DependencyError
from connector.source.extras import require
from connector.source.layout import StoreLayout
from connector.source.row_arrays import as_arrays, plain_value
from connector.source.store import Store
from connector.source.url import StoreUrl
from connector.source.warehouse_url import BigQueryTarget, bigquery_target

__all__ = ["BigQueryStore", "columns_query"]


def columns_query(target: BigQueryTarget, table: str) -> exp.Select:
    """The column names and types of ``table`` (``table`` or ``dataset.table``) from the
    dataset's ``INFORMATION_SCHEMA.COLUMNS``, in column order."""
    parts = table.split(".")
    dataset = parts[-2] if len(parts) > 1 else target.dataset
    source = exp.Table(
        this=exp.to_identifier("COLUMNS"),
        db=exp.to_identifier("INFORMATION_SCHEMA"),
        catalog=exp.to_identifier(dataset, quoted=True),
    )
    return (
        exp.select("column_name", "data_type")
        .from_(source)
        .where(exp.column("table_name").eq(exp.Literal.string(parts[-1])))
        .order_by("ordinal_position")
    )


class BigQueryStore(Store):
    dialect = "bigquery"

    def __init__(self, url: StoreUrl, layout: StoreLayout) -> None:
        super().__init__(url, layout)
        self.target = bigquery_target(url.dsn)
        bigquery = require("google.cloud.bigquery", "bigquery", "BigQuery stores")
        try:
            self.client = bigquery.Client(
                project=self.target.project, location=self.target.location
            )
        except Exception as exc:  # google.auth errors and others have no common base
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DependencyError(
                f"cannot open the customer store {self.target.display()} "
                f"(SEGSYNC_SOURCE_URL): {reason[:300]}"
            ) from None
        self.job_config = bigquery.QueryJobConfig(
            default_dataset=f"{self.target.project}.{self.target.dataset}",
            labels={"application": "segsync"},
        )

    def _result(self, query: exp.Expr) -> Any:
        job = self.client.query(self.sql(query), job_config=self.job_config)
        return job.result()

    def rows(self, query: exp.Expr) -> list[tuple[Any, ...]]:
        return [tuple(plain_value(v) for v in row.values()) for row in self._result(query)]

    def columns(self, query: exp.Expr) -> dict[str, np.ndarray]:
        result = self._result(query)
        names = [field.name for field in result.schema]
        return as_arrays(names, [tuple(row.values()) for row in result])

    def _table_columns(self, name: str) -> dict[str, str]:
        found = {}
        for column, data_type in self.rows(columns_query(self.target, name)):
            kind = str(data_type)
            if kind == "DATETIME" and column != self.layout.ts:
                kind = "BIGQUERY DATETIME"  # not a timestamp here: never compared with one
            found[str(column)] = kind
        return found

    def close(self) -> None:
        self.client.close()
