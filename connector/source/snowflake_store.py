"""Snowflake: a store for data in a Snowflake schema (``pip install 'segsync[snowflake]'``).

Not executed in segsync's tests (no account): the URL, the connection's settings and the
SQL it sends are tested without network (``tests/source/test_warehouse_stores.py``,
``tests/source/golden/``). Queries are rendered in the ``snowflake`` dialect
(``connector.source.dialect``: plain lower-case names unquoted, so ``profile_id`` finds
the column Snowflake stores as ``PROFILE_ID``) in a session that runs in UTC.
``snowflake-connector-python`` is imported only when such a store opens. Snowflake
stores evaluate in full (no rollups).

Snowflake hands back the upper-case spelling of unquoted names (``PROFILE_ID``); the store
maps them back to the names segsync asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlglot import exp

from connector.errors import DependencyError
from connector.source.dialect import snowflake_plain
from connector.source.extras import require
from connector.source.layout import StoreLayout
from connector.source.row_arrays import as_arrays, plain_value
from connector.source.store import Store
from connector.source.url import StoreUrl
from connector.source.warehouse_url import snowflake_target

__all__ = ["SnowflakeStore", "columns_query", "our_names", "stored_name"]


def stored_name(name: str) -> str:
    """How Snowflake stores ``name`` as segsync writes it (plain names upper-case)."""
    return name.upper() if snowflake_plain(name) else name


def our_names(query: exp.Expr, returned: Sequence[str]) -> list[str]:
    """The result's column names as ``query`` spells them (Snowflake returns ``__S0`` for
    an unquoted ``__s0``)."""
    asked = query.named_selects if isinstance(query, exp.Query) else []
    back = {stored_name(name): name for name in asked}
    return [back.get(name, name) for name in returned]


def columns_query(table: str) -> exp.Select:
    """The column names and types of ``table`` (``table`` or ``schema.table``) from the
    database's ``INFORMATION_SCHEMA.COLUMNS``, in column order."""
    parts = table.split(".")
    schema: exp.Expr = (
        exp.Literal.string(stored_name(parts[-2])) if len(parts) > 1 else exp.func("CURRENT_SCHEMA")
    )
    return (
        exp.select("column_name", "data_type")
        .from_(exp.table_("columns", db="information_schema"))
        .where(exp.column("table_name").eq(exp.Literal.string(stored_name(parts[-1]))))
        .where(exp.column("table_schema").eq(schema))
        .order_by("ordinal_position")
    )


class SnowflakeStore(Store):
    dialect = "snowflake"

    def __init__(self, url: StoreUrl, layout: StoreLayout) -> None:
        super().__init__(url, layout)
        self.target = snowflake_target(url.dsn)
        connector = require("snowflake.connector", "snowflake", "Snowflake stores")
        try:
            self.con = connector.connect(**self.target.connect_arguments())
        except Exception as exc:  # the connector's errors never include the password
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DependencyError(
                f"cannot connect to the customer store {self.target.display()} "
                f"(SEGSYNC_SOURCE_URL): {reason[:300]}"
            ) from None

    def rows(self, query: exp.Expr) -> list[tuple[Any, ...]]:
        with self.con.cursor() as cur:
            cur.execute(self.sql(query))
            return [tuple(plain_value(v) for v in row) for row in cur.fetchall()]

    def columns(self, query: exp.Expr) -> dict[str, np.ndarray]:
        with self.con.cursor() as cur:
            cur.execute(self.sql(query))
            returned = [d[0] for d in cur.description or ()]
            data = cur.fetchall()
        return as_arrays(our_names(query, returned), data)

    def _table_columns(self, name: str) -> dict[str, str]:
        found = {}
        for column, kind in self.rows(columns_query(name)):
            text = str(column)
            # PROFILE_ID is what an unquoted profile_id names: segsync calls it that
            ours = text.lower() if stored_name(text.lower()) == text else text
            found[ours] = str(kind)
        return found

    def close(self) -> None:
        self.con.close()
