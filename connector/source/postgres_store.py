"""PostgreSQL: the shared/server store. Sessions run in UTC."""

from __future__ import annotations

from typing import Any

import numpy as np
import psycopg
from sqlglot import exp

from connector.errors import DependencyError
from connector.source.layout import StoreLayout
from connector.source.store import Store
from connector.source.url import StoreUrl

__all__ = ["PostgresStore"]


class PostgresStore(Store):
    dialect = "postgres"

    def __init__(self, url: StoreUrl, layout: StoreLayout) -> None:
        super().__init__(url, layout)
        try:
            self.con = psycopg.connect(
                url.dsn, autocommit=True, options="-c TimeZone=UTC", connect_timeout=10
            )
        except psycopg.Error as exc:
            # psycopg's message never includes the password
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DependencyError(
                f"cannot connect to the customer store {url.display()} (SEGSYNC_SOURCE_URL): "
                f"{reason}"
            ) from None

    def rows(self, query: exp.Expr) -> list[tuple[Any, ...]]:
        with self.con.cursor() as cur:
            cur.execute(self.sql(query).encode())
            return list(cur.fetchall())

    def columns(self, query: exp.Expr) -> dict[str, np.ndarray]:
        with self.con.cursor() as cur:
            cur.execute(self.sql(query).encode())
            names = [d.name for d in cur.description or ()]
            data = cur.fetchall()
        result: dict[str, np.ndarray] = {}
        for index, name in enumerate(names):
            values = [row[index] for row in data]
            if values and all(isinstance(v, bool) for v in values):
                result[name] = np.array(values, dtype=bool)
            else:
                arr = np.empty(len(values), dtype=object)
                arr[:] = values
                result[name] = arr
        return result

    def close(self) -> None:
        self.con.close()
