"""Where the store keeps its feature rollups (DuckDB): two tables beside the data.

- ``segsync_rollup``: one row per profile (``__pid``) with one column per part
  (``connector.evaluate.rollup.Part``), as of one instant;
- ``segsync_rollup_meta``: one row: that instant (``as_of``), the events table's
  ``rowid`` watermark and row count when the rollup was built, a fingerprint of the
  table, and the parts (JSON, so the rollup can be advanced without the definitions);
- ``segsync_rollup_events``: per event name, the rows up to the watermark and their latest
  timestamp, so that describing the store (``Store.discover``) reads only the rows
  appended since, not the whole table, while the rollup is valid (``event_stats``).

A rollup is used only while the events table is the one it was built from (its first
row and the row at its watermark are unchanged) and holds every row it held then (the
count of rows at or under the watermark is unchanged): events tables are append-only, and
rows appended later are read from the table by the watermark. Otherwise (the table
replaced, rows deleted) runs compute in full until the rollup is rebuilt. Rows updated in
place are not noticed: rebuild the rollup then (``segsync load`` without ``--append``
drops it). PostgreSQL, Spark, BigQuery and Snowflake stores evaluate in full
(``Store.incremental``). Replacing or dropping the rollup drops the verdict snapshot kept
beside it (``connector.source.verdicts``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlglot import exp

from connector.source.store import Store, table_expr
from connector.source.store import event_stats as stats_of
from connector.source.verdicts import drop_sql as drop_verdicts

__all__ = [
    "META",
    "ROLLUP",
    "RollupState",
    "drop",
    "event_stats",
    "has_events_table",
    "read_state",
    "supports",
    "writable",
    "write",
]

ROLLUP = "segsync_rollup"
META = "segsync_rollup_meta"
EVENTS = "segsync_rollup_events"
#: 2: sums are exact decimals (rollups of version 1 summed doubles: rebuilt)
VERSION = 2
#: part kinds kept in a table of their own, ``segsync_rollup_<column>``
KEYED = ("dv", "emn", "emx", "g")


@dataclass(frozen=True)
class RollupState:
    """A valid rollup: its instant, watermark and parts (``column -> spec``)."""

    as_of: datetime
    watermark: int
    rows: int
    parts: dict[str, dict[str, Any]]


def supports(store: Store) -> bool:
    return store.incremental


def writable(store: Store) -> bool:
    return supports(store) and not getattr(store, "read_only", True)


def _events_name(store: Store) -> tuple[str, str]:
    parts = store.layout.events_table.split(".")
    return (parts[-2] if len(parts) > 1 else "main", parts[-1])


def _events_oid(store: Store) -> int | None:
    """The events table's oid (``None`` when it is a view or missing)."""
    schema, name = _events_name(store)
    query = (
        exp.select("table_oid")
        .from_(exp.func("duckdb_tables"))
        .where(exp.column("schema_name").eq(exp.Literal.string(schema)))
        .where(exp.column("table_name").eq(exp.Literal.string(name)))
    )
    rows = store.rows(query)
    return int(rows[0][0]) if rows else None


def _fingerprint(store: Store, watermark: int) -> str:
    """The first and the watermark's rows (profile and time): a table replaced by another
    of the same size shows here (oids do not survive reopening the file)."""
    lay = store.layout
    query = (
        exp.select(
            exp.column("rowid"),
            exp.column(lay.profile_id, quoted=True),
            exp.column(lay.ts, quoted=True),
        )
        .from_(table_expr(lay.events_table))
        .where(exp.column("rowid").isin(exp.Literal.number(0), exp.Literal.number(watermark)))
        .order_by(exp.column("rowid"))
    )
    return json.dumps([[str(v) for v in row] for row in store.rows(query)])


def has_events_table(store: Store) -> bool:
    """The events table is a table (a view has no ``rowid`` to keep a watermark by)."""
    return _events_oid(store) is not None


def _has_tables(store: Store, *names: str) -> bool:
    query = (
        exp.select(exp.func("count", exp.Star()))
        .from_(exp.func("duckdb_tables"))
        .where(exp.column("schema_name").eq(exp.Literal.string("main")))
        .where(exp.column("table_name").isin(*[exp.Literal.string(n) for n in names]))
    )
    return int(store.rows(query)[0][0]) == len(names)


def _has_meta(store: Store) -> bool:
    return _has_tables(store, META, ROLLUP)


def event_stats(store: Store) -> list[tuple[Any, ...]] | None:
    """``Store.event_stats`` from a valid rollup's counts up to its watermark and the rows
    appended since (a range of ``rowid`` at the end of the table); ``None`` when the
    store keeps none (then the whole table is read)."""
    if not supports(store) or not _has_tables(store, META, ROLLUP, EVENTS):
        return None
    if not has_events_table(store):
        return None
    state = read_state(store)
    if state is None:
        return None
    since = exp.GT(this=exp.column("rowid"), expression=exp.Literal.number(state.watermark))
    kept = exp.select("ev", "n", "latest").from_(table_expr(EVENTS))
    both = kept.union(stats_of(store.layout, since), distinct=False)
    merged = (
        exp.select(
            exp.column("ev"),
            exp.func("sum", exp.column("n")).as_("n"),
            exp.func("max", exp.column("latest")).as_("latest"),
        )
        .from_(both.subquery("__stats"))
        .group_by(exp.column("ev"))
    )
    return store.rows(merged)


def read_state(store: Store) -> RollupState | None:
    """The store's rollup if it is still valid for its events table, else ``None``."""
    if not supports(store) or not _has_meta(store):
        return None
    rows = store.rows(
        exp.select("version", "as_of", "watermark", "rows", "fingerprint", "parts").from_(
            table_expr(META)
        )
    )
    if len(rows) != 1:
        return None
    version, as_of, watermark, count, fingerprint, parts = rows[0]
    if version != VERSION or fingerprint != _fingerprint(store, int(watermark)):
        return None
    counted = exp.select(exp.func("count", exp.Star())).from_(table_expr(store.layout.events_table))
    counted = counted.where(
        exp.LTE(this=exp.column("rowid"), expression=exp.Literal.number(int(watermark)))
    )
    if int(store.rows(counted)[0][0]) != int(count):
        return None
    specs = json.loads(parts)
    wanted = {f"{ROLLUP}_{c}" for c, spec in specs.items() if spec.get("kind") in KEYED}
    if not wanted <= _keyed_tables(store):
        return None
    return RollupState(as_of=as_of, watermark=int(watermark), rows=int(count), parts=specs)


def write(
    store: Store,
    select: exp.Select,
    *,
    as_of: datetime,
    parts: dict[str, dict[str, Any]],
    tables: dict[str, exp.Select] | None = None,
) -> None:
    """Replace the rollup with ``select`` (``__pid`` and one column per part, over the
    events with ``ts <= as_of``; it may read the current rollup) and its keyed parts'
    tables with ``tables`` (name -> select; others are dropped). One transaction: the
    watermark is the largest ``rowid`` of the same snapshot the selects read, so rows
    appended meanwhile are left to later runs."""
    con: Any = getattr(store, "con")  # noqa: B009 (DuckDB only)
    guard: Any = getattr(store, "memory_guard")  # noqa: B009 (DuckDB only)
    with guard():
        _write(store, con, select, as_of=as_of, parts=parts, tables=tables or {})


def _keyed_tables(store: Store) -> set[str]:
    """The keyed parts' tables in the store (``segsync_rollup_<kind>_<hash>``)."""
    query = (
        exp.select("table_name")
        .from_(exp.func("duckdb_tables"))
        .where(exp.column("schema_name").eq(exp.Literal.string("main")))
        .where(exp.func("starts_with", exp.column("table_name"), exp.Literal.string(f"{ROLLUP}_")))
    )
    query = query.where(exp.column("table_name").neq(exp.Literal.string(META)))
    query = query.where(exp.column("table_name").neq(exp.Literal.string(EVENTS)))
    return {str(row[0]) for row in store.rows(query)}


def _write(
    store: Store,
    con: Any,
    select: exp.Select,
    *,
    as_of: datetime,
    parts: dict[str, Any],
    tables: dict[str, exp.Select],
) -> None:
    events = store.sql(table_expr(store.layout.events_table))
    fresh = f"{ROLLUP}_new"
    con.execute("BEGIN TRANSACTION")
    try:
        watermark, count = con.execute(
            f"SELECT coalesce(max(rowid), -1), count(*) FROM {events}"
        ).fetchone()
        con.execute(f"CREATE OR REPLACE TABLE {fresh} AS " + store.sql(select))
        for name, table in tables.items():  # all read the old tables before any goes
            con.execute(f"CREATE OR REPLACE TABLE {name}__new AS " + store.sql(table))
        for name in _keyed_tables(store) - {f"{n}__new" for n in tables} - {fresh}:
            con.execute(f"DROP TABLE {name}")
        for name in tables:
            con.execute(f"ALTER TABLE {name}__new RENAME TO {name}")
        con.execute(f"DROP TABLE IF EXISTS {ROLLUP}")
        con.execute(f"ALTER TABLE {fresh} RENAME TO {ROLLUP}")
        for statement in drop_verdicts():  # they belong to the rollup replaced
            con.execute(statement)
        con.execute(
            f"CREATE OR REPLACE TABLE {META} (version INTEGER, as_of TIMESTAMP, "
            "watermark BIGINT, rows BIGINT, fingerprint VARCHAR, parts VARCHAR)"
        )
        con.execute(
            f"INSERT INTO {META} VALUES (?, ?, ?, ?, ?, ?)",
            [
                VERSION,
                as_of,
                int(watermark),
                int(count),
                _fingerprint(store, int(watermark)),
                json.dumps(parts),
            ],
        )
        upto = exp.LTE(this=exp.column("rowid"), expression=exp.Literal.number(int(watermark)))
        con.execute(
            f"CREATE OR REPLACE TABLE {EVENTS} AS " + store.sql(stats_of(store.layout, upto))
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def drop(store: Store) -> None:
    """Forget the rollup (runs compute in full until it is rebuilt)."""
    con: Any = getattr(store, "con")  # noqa: B009
    for statement in drop_verdicts():
        con.execute(statement)
    con.execute(f"DROP TABLE IF EXISTS {META}")
    con.execute(f"DROP TABLE IF EXISTS {EVENTS}")
    con.execute(f"DROP TABLE IF EXISTS {ROLLUP}")
    for name in _keyed_tables(store):
        con.execute(f"DROP TABLE IF EXISTS {name}")
