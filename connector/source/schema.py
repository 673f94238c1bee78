"""What the customer store holds: column types of profiles and events, event names seen."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from connector.source.layout import StoreLayout

__all__ = ["ColumnType", "StoreSchema", "column_type"]


class ColumnType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    BOOLEAN = "boolean"
    TIMESTAMP = "timestamp"
    DATE = "date"
    OTHER = "other"

    @property
    def is_time(self) -> bool:
        return self in (ColumnType.TIMESTAMP, ColumnType.DATE)


_NUMBER = (
    "TINYINT", "SMALLINT", "INTEGER", "INT", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
    "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "REAL", "DECIMAL", "NUMERIC",
    "DOUBLE PRECISION", "INT2", "INT4", "INT8", "FLOAT4", "FLOAT8",
    "INT64", "FLOAT64", "BIGNUMERIC", "NUMBER",  # BigQuery, Snowflake
)  # fmt: skip


def column_type(sql_type: str) -> ColumnType:
    """Map a store's SQL type name (its own spelling) to a ``ColumnType``."""
    name = sql_type.upper().split("(", 1)[0].strip()
    if name in ("VARCHAR", "TEXT", "CHAR", "CHARACTER", "CHARACTER VARYING", "STRING", "BPCHAR"):
        return ColumnType.TEXT
    if name in _NUMBER:
        return ColumnType.NUMBER
    if name in ("BOOLEAN", "BOOL"):
        return ColumnType.BOOLEAN
    if name.startswith("TIMESTAMP") or name == "DATETIME":
        return ColumnType.TIMESTAMP
    if name == "DATE":
        return ColumnType.DATE
    return ColumnType.OTHER


@dataclass(frozen=True)
class StoreSchema:
    """The discovered shape of the store. Names keep the store's spelling."""

    layout: StoreLayout
    profile_columns: dict[str, ColumnType]
    event_columns: dict[str, ColumnType]
    event_names: frozenset[str] = frozenset()  # trimmed, lower-cased
    profile_count: int = 0
    event_count: int = 0
    latest_event: datetime | None = None
    profile_id_type: ColumnType = ColumnType.TEXT
    event_counts: dict[str, int] = field(default_factory=dict)

    @property
    def properties(self) -> dict[str, ColumnType]:
        """Event property columns (everything but the id, name and timestamp columns)."""
        skip = {self.layout.profile_id, self.layout.event, self.layout.ts}
        return {k: v for k, v in self.event_columns.items() if k not in skip}

    @property
    def attributes(self) -> dict[str, ColumnType]:
        """Profile columns usable as attributes (all of them, id included)."""
        return dict(self.profile_columns)

    @staticmethod
    def resolve(name: str, columns: dict[str, ColumnType]) -> str | None:
        """The store's spelling of ``name`` (exact, else case-insensitive), or ``None``."""
        if name in columns:
            return name
        lowered = {c.lower(): c for c in columns}
        return lowered.get(name.lower())
