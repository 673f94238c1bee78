"""DuckDB: the embedded default store (one file; columnar scans)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb
import numpy as np
from sqlglot import exp

from connector.errors import ConfigError
from connector.source import rollups
from connector.source.layout import StoreLayout
from connector.source.store import Store
from connector.source.url import StoreUrl

__all__ = ["DuckDBStore"]


class DuckDBStore(Store):
    dialect = "duckdb"
    incremental = True

    def __init__(self, url: StoreUrl, layout: StoreLayout, *, read_only: bool = True) -> None:
        super().__init__(url, layout)
        if url.path is not None and read_only and not url.path.exists():
            raise ConfigError(
                f"customer store '{url.path}' not found: create it with `segsync demo` or "
                "`segsync load profiles FILE`, or set SEGSYNC_SOURCE_URL",
                file="SEGSYNC_SOURCE_URL",
            )
        target = str(url.path) if url.path is not None else ":memory:"
        try:
            self.read_only = read_only and url.path is not None
            self.con = duckdb.connect(target, read_only=self.read_only)
        except duckdb.Error as exc:
            raise ConfigError(
                f"cannot open customer store '{target}': {exc}", file="SEGSYNC_SOURCE_URL"
            ) from None
        self.con.execute("SET TimeZone = 'UTC'")
        # DuckDB draws a progress bar on stdout for long queries, even when piped
        self.con.execute("SET enable_progress_bar = false")
        # validated by the URL parser (a size such as 1GB)
        self.con.execute(f"SET memory_limit = '{url.memory_limit}'")

    @contextmanager
    def memory_guard(self) -> Iterator[None]:
        """A query that outgrows DuckDB's memory limit (and cannot spill) is a setting to
        change, said in one line, not a traceback."""
        try:
            yield
        except duckdb.OutOfMemoryException as exc:
            reason = str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(
                f"the customer store ran out of memory ({reason}); segsync lets DuckDB use "
                f"{self.url.memory_limit}: raise it with ?memory_limit=SIZE on the store URL, "
                "e.g. duckdb:///data/customers.duckdb?memory_limit=4GB",
                file="SEGSYNC_SOURCE_URL",
            ) from None

    def rows(self, query: exp.Expr) -> list[tuple[Any, ...]]:
        with self.memory_guard():
            return self.con.execute(self.sql(query)).fetchall()

    def event_stats(self) -> list[tuple[Any, ...]]:
        """From the rollup's counts and the rows appended since, while it is valid."""
        kept = rollups.event_stats(self)
        return kept if kept is not None else super().event_stats()

    def columns(self, query: exp.Expr) -> dict[str, np.ndarray]:
        with self.memory_guard():
            raw = self.con.execute(self.sql(query)).fetchnumpy()
        result: dict[str, np.ndarray] = {}
        for name, values in raw.items():
            array = values
            if isinstance(values, np.ma.MaskedArray):
                if values.dtype == np.bool_:
                    array = values.filled(False)
                elif values.dtype == object:  # fetched for this call: NULLs set in place
                    array = values.data
                    array[np.ma.getmaskarray(values)] = None
                else:
                    # not np.ma.filled(..., None): None means "the default fill value",
                    # which is '?' for object arrays, so NULL came back as the text '?'
                    array = np.array(values.data, dtype=object)
                    array[np.ma.getmaskarray(values)] = None
            result[name] = np.asarray(array)
        return result

    def close(self) -> None:
        self.con.close()
