"""Where the store keeps the verdict snapshot beside its rollup (DuckDB): two tables.

- ``segsync_verdicts``: one row per profile (``__pid``) as evaluated at the rollup's
  instant: a digest of the profile columns the rules read, the email, the consent and
  the mapped attributes (``__digest``); the profile's identity as a run returns it: its
  email (``__email``), the email's key and form as fetched (``__email_key``,
  ``__email_form``: ``compile.fetched_key``), its consent (``__consent``) and the
  attributes the writing run returned (``a_<n>``); one BOOLEAN per rule (``v_<fingerprint>``), the
  same rules packed into BIGINTs in the order of ``VerdictMeta.order`` (``__m0``,
  ``__m1``, ...), the values of the metrics that percent conditions rank
  (``m_<fingerprint>``) and of the traits the run computed (``t_<fingerprint>``);
- ``segsync_verdicts_meta``: one row: the rollup's instant and watermark the verdicts
  belong to, and (JSON) the rules' and metrics' fingerprints, the packing order, the
  digest's columns, the kept attributes' columns and the percent thresholds at that
  instant.

The snapshot belongs to one rollup: writing or dropping the rollup drops it
(``connector.source.rollups``), and a run uses it only while the rollup's instant and
watermark are those it was written with (``connector.evaluate.snapshot``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlglot import exp

from connector.source.store import Store, table_expr

__all__ = ["META", "TABLE", "VerdictMeta", "drop", "drop_sql", "read", "thresholds_key", "write"]

TABLE = "segsync_verdicts"
META = "segsync_verdicts_meta"
#: 2: the email's key per profile, the email in the digest; 3: the identity a run returns
#: (email, fetched key and form, consent, attributes), consent and attributes in the digest
VERSION = 3


@dataclass(frozen=True)
class VerdictMeta:
    """What a snapshot holds: the rollup it belongs to (``as_of``, ``watermark``); per rule
    fingerprint its column; the fingerprints in packing order; per ranked metric
    fingerprint its column; the digest's profile columns; per threshold key
    (``thresholds_key``) its value at ``as_of``."""

    as_of: datetime
    watermark: int
    rules: dict[str, str]
    order: list[str]
    metrics: dict[str, str]
    digest: list[str]
    thresholds: dict[str, float | None]
    #: per threshold key: ``[low, high, ties]``, values a few ranks either side of the
    #: threshold and whether its own value is held by few profiles (``Neighbourhood``)
    near: dict[str, list[Any]] = field(default_factory=dict)
    #: per trait fingerprint, its value's column
    traits: dict[str, str] = field(default_factory=dict)
    #: per profile attribute kept (one the writing run returned), its column
    attributes: dict[str, str] = field(default_factory=dict)


def thresholds_key(metric: str, direction: str, percent: float) -> str:
    """The key of a percent threshold: the metric's fingerprint, top/bottom, the percent."""
    return json.dumps([metric, direction, float(percent)])


def _exists(store: Store) -> bool:
    query = (
        exp.select(exp.func("count", exp.Star()))
        .from_(exp.func("duckdb_tables"))
        .where(exp.column("schema_name").eq(exp.Literal.string("main")))
        .where(exp.column("table_name").isin(exp.Literal.string(TABLE), exp.Literal.string(META)))
    )
    return int(store.rows(query)[0][0]) == 2


def read(store: Store) -> VerdictMeta | None:
    """The store's snapshot description, or ``None`` when it keeps none."""
    if not store.incremental or not _exists(store):
        return None
    rows = store.rows(exp.select("version", "as_of", "watermark", "spec").from_(table_expr(META)))
    if len(rows) != 1 or rows[0][0] != VERSION:
        return None
    _, as_of, watermark, text = rows[0]
    spec: dict[str, Any] = json.loads(text)
    return VerdictMeta(
        as_of=as_of,
        watermark=int(watermark),
        rules=dict(spec["rules"]),
        order=list(spec["order"]),
        metrics=dict(spec["metrics"]),
        digest=list(spec["digest"]),
        thresholds=dict(spec["thresholds"]),
        near=dict(spec.get("near", {})),
        traits=dict(spec.get("traits", {})),
        attributes=dict(spec.get("attributes", {})),
    )


def write(
    store: Store,
    select: exp.Query,
    meta: VerdictMeta,
    thresholds: exp.Query | None,
    near: Callable[[dict[str, float | None], int], exp.Query | None] | None = None,
) -> None:
    """Replace the snapshot with ``select``'s rows described by ``meta``; ``thresholds``
    (one row, one column per key of ``meta.thresholds``, read from the new table) fills
    in the thresholds, and ``near`` (given them and the table's row count: one row, three
    columns per threshold key) their neighbourhoods."""
    con: Any = getattr(store, "con")  # noqa: B009 (DuckDB only)
    guard: Any = getattr(store, "memory_guard")  # noqa: B009 (DuckDB only)
    with guard():
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(f"CREATE OR REPLACE TABLE {TABLE} AS " + store.sql(select))
            values: dict[str, float | None] = {}
            if thresholds is not None:
                row = con.execute(store.sql(thresholds)).fetchone()
                for key, value in zip(meta.thresholds, row, strict=True):
                    values[key] = None if value is None else float(value)
            around: dict[str, list[Any]] = {}
            query = None
            if near is not None:
                (count,) = con.execute(f"SELECT count(*) FROM {TABLE}").fetchone()
                query = near(values, int(count))
            if query is not None:
                row = con.execute(store.sql(query)).fetchone()
                keys = [k for k, v in values.items() if v is not None]
                for index, key in enumerate(keys):
                    low, high, ties = row[3 * index : 3 * index + 3]
                    around[key] = [
                        None if low is None else float(low),
                        None if high is None else float(high),
                        bool(ties),
                    ]
            spec = {
                "rules": meta.rules,
                "order": meta.order,
                "metrics": meta.metrics,
                "digest": meta.digest,
                "thresholds": values,
                "near": around,
                "traits": meta.traits,
                "attributes": meta.attributes,
            }
            con.execute(
                f"CREATE OR REPLACE TABLE {META} "
                "(version INTEGER, as_of TIMESTAMP, watermark BIGINT, spec VARCHAR)"
            )
            con.execute(
                f"INSERT INTO {META} VALUES (?, ?, ?, ?)",
                [VERSION, meta.as_of, meta.watermark, json.dumps(spec)],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


def drop_sql() -> list[str]:
    """The statements that forget the snapshot (run inside the rollup's transactions)."""
    return [f"DROP TABLE IF EXISTS {META}", f"DROP TABLE IF EXISTS {TABLE}"]


def drop(store: Store) -> None:
    """Forget the snapshot (runs evaluate every profile until one is written again)."""
    con: Any = getattr(store, "con")  # noqa: B009 (DuckDB only)
    for statement in drop_sql():
        con.execute(statement)
