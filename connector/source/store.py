"""The customer store: a connection that runs sqlglot queries and describes its schema.

One class per backend (``duckdb_store.py``, ``postgres_store.py``); everything above this
layer builds queries as sqlglot trees and never formats SQL strings with values in them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import UTC
from types import TracebackType
from typing import Any

import numpy as np
from sqlglot import exp

from connector.errors import ConfigError
from connector.source.dialect import render
from connector.source.layout import StoreLayout
from connector.source.schema import ColumnType, StoreSchema, column_type
from connector.source.url import StoreUrl

__all__ = ["Store", "event_stats", "table_expr"]


def table_expr(name: str) -> exp.Table:
    """``schema.table`` or ``table`` as a quoted sqlglot table."""
    parts = name.split(".")
    if len(parts) == 1:
        return exp.table_(parts[0], quoted=True)
    return exp.table_(parts[-1], db=parts[-2], quoted=True)


def event_stats(layout: StoreLayout, where: exp.Expr | None = None) -> exp.Select:
    """Per event name (trimmed, lower-cased) of the events table's rows (``where``): ``ev``,
    ``n`` (rows), ``latest`` (largest timestamp)."""
    name = exp.func("lower", exp.func("trim", exp.column(layout.event, quoted=True)))
    stats = (
        exp.select(
            name.as_("ev"),
            exp.func("count", exp.Star()).as_("n"),
            exp.func("max", exp.column(layout.ts, quoted=True)).as_("latest"),
        )
        .from_(table_expr(layout.events_table))
        .group_by(name)
    )
    return stats if where is None else stats.where(where)


def _lit(value: str) -> exp.Expr:
    return exp.Literal.string(value)


class Store(ABC):
    """A read connection to profiles and events."""

    dialect: str = ""
    #: keeps the incremental rollups (``connector.source.rollups``); stores without them
    #: evaluate every run in full from the events table
    incremental: bool = False

    def __init__(self, url: StoreUrl, layout: StoreLayout) -> None:
        self.url = url
        self.layout = layout
        self._schema: StoreSchema | None = None

    # -- to implement -------------------------------------------------------------------
    @abstractmethod
    def rows(self, query: exp.Expr) -> list[tuple[Any, ...]]:
        """Run ``query`` and return all rows."""

    @abstractmethod
    def columns(self, query: exp.Expr) -> dict[str, np.ndarray]:
        """Run ``query`` and return one array per column (NULL as ``None`` in object arrays)."""

    @abstractmethod
    def close(self) -> None: ...

    # -- shared -------------------------------------------------------------------------
    def sql(self, query: exp.Expr) -> str:
        """``query`` in this store's dialect (``connector.source.dialect.render``)."""
        return render(query, self.dialect)

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _table_columns(self, name: str) -> dict[str, str]:
        parts = name.split(".")
        schema_cond: exp.Expr = exp.column("table_schema").eq(
            _lit(parts[-2]) if len(parts) > 1 else exp.func("current_schema")
        )
        query = (
            exp.select("column_name", "data_type")
            .from_(exp.table_("columns", db="information_schema"))
            .where(exp.column("table_name").eq(_lit(parts[-1])))
            .where(schema_cond)
            .where(exp.column("table_catalog").eq(exp.func("current_database")))
            .order_by("ordinal_position")
        )
        return {str(col): str(kind) for col, kind in self.rows(query)}

    def emails_without_shared_consent(self) -> set[str]:
        """Emails (trimmed, lower-cased) that some profile with consent true shares with a
        profile whose consent is false or NULL: such a contact has no consent (docs/design.md,
        an explicit or unknown "no" wins), whatever the profile that qualified says."""
        schema = self.discover()
        lay = self.layout
        consent = StoreSchema.resolve(lay.consent, schema.profile_columns)
        if consent is None:
            return set()  # no consent column: nobody has consent
        email = exp.func("lower", exp.func("trim", exp.column(lay.email, quoted=True)))
        agreed = exp.func("COALESCE", exp.column(consent, quoted=True).eq(exp.true()), exp.false())
        query = (
            exp.select(email.as_("e"))
            .from_(table_expr(lay.profiles_table))
            .where(exp.column(lay.email, quoted=True).is_(exp.null()).not_())
            .group_by(email)
            .having(
                exp.and_(
                    exp.func("bool_or", agreed.copy()),
                    exp.func("bool_and", agreed.copy()).not_(),
                )
            )
        )
        return {str(e) for (e,) in self.rows(query) if e}

    def event_stats(self) -> list[tuple[Any, ...]]:
        """Per event name (trimmed, lower-cased; NULL too): ``(name, count, latest ts)``."""
        return self.rows(event_stats(self.layout))

    def discover(self, *, refresh: bool = False) -> StoreSchema:
        """Describe the store (cached): column types, event names, counts, latest event."""
        if self._schema is not None and not refresh:
            return self._schema
        lay = self.layout
        profiles = self._table_columns(lay.profiles_table)
        events = self._table_columns(lay.events_table)
        where = self.url.display()
        for table, cols, needed in (
            (lay.profiles_table, profiles, (lay.profile_id, lay.email)),
            (lay.events_table, events, (lay.profile_id, lay.event, lay.ts)),
        ):
            if not cols:
                raise ConfigError(
                    f"table '{table}' not found in the customer store {where} "
                    "(load it with `segsync load`, or set SEGSYNC_STORE__* to your table names)"
                )
            missing = [c for c in needed if c not in cols]
            if missing:
                raise ConfigError(
                    f"table '{table}' in {where} has no column "
                    + ", ".join(f"'{c}'" for c in missing)
                    + f" (columns: {', '.join(cols)}; see SEGSYNC_STORE__* settings)"
                )
        profile_types = {k: column_type(v) for k, v in profiles.items()}
        event_types = {k: column_type(v) for k, v in events.items()}
        if event_types[lay.ts] not in (ColumnType.TIMESTAMP, ColumnType.DATE):
            raise ConfigError(
                f"column '{lay.events_table}.{lay.ts}' must be a timestamp, "
                f"not {events[lay.ts]} (load events with `segsync load events FILE`)"
            )
        if profile_types[lay.profile_id] != event_types[lay.profile_id]:
            raise ConfigError(
                f"'{lay.profiles_table}.{lay.profile_id}' is {profiles[lay.profile_id]} but "
                f"'{lay.events_table}.{lay.profile_id}' is {events[lay.profile_id]}: "
                "they must have the same type"
            )
        event_counts: dict[str, int] = {}
        latest = None
        for ev, count, last in self.event_stats():
            if ev is not None:
                event_counts[str(ev)] = int(count)
            if last is not None and (latest is None or last > latest):
                latest = last
        (profile_count,) = self.rows(
            exp.select(exp.func("count", exp.Star())).from_(table_expr(lay.profiles_table))
        )[0]
        self._schema = StoreSchema(
            layout=lay,
            profile_columns=profile_types,
            event_columns=event_types,
            event_names=frozenset(event_counts),
            profile_count=int(profile_count),
            event_count=sum(event_counts.values()),
            latest_event=_naive(latest),
            profile_id_type=profile_types[lay.profile_id],
            event_counts=event_counts,
        )
        return self._schema


def _naive(value: Any) -> Any:
    if value is None or getattr(value, "tzinfo", None) is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)
