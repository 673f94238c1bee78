"""Outcomes in the window after the cohort instant: one pass over the window's events.

Per profile with at least one conversion in ``T < ts ≤ T + window``: the number of
``conversion_event`` events ``c`` and the sum of ``revenue_property`` over them ``r``
(NULL counts as 0). Profiles absent from the scan have ``c = 0, r = 0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

import numpy as np
from sqlglot import exp

from connector.definitions.kpis import Kpis
from connector.evaluate.sql import col, norm_text, text_key, ts_lit
from connector.source.schema import StoreSchema
from connector.source.store import Store, table_expr

__all__ = ["Outcomes", "outcome_query", "scan_outcomes"]


@dataclass(frozen=True)
class Outcomes:
    """Conversions and revenue of the profiles that converted, sorted by profile id."""

    profile_ids: np.ndarray
    conversions: np.ndarray  # int64
    revenue: np.ndarray  # float64

    def lookup(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(c, r)`` aligned with ``ids`` (zeros for profiles that did not convert)."""
        c = np.zeros(len(ids), dtype=np.int64)
        r = np.zeros(len(ids), dtype=np.float64)
        if not len(ids) or not len(self.profile_ids):
            return c, r
        if object in (self.profile_ids.dtype, ids.dtype):
            # text ids: a hash lookup (a binary search would compare Python strings)
            index = self.by_id
            where = np.fromiter((index.get(i, -1) for i in ids), dtype=np.int64, count=len(ids))
            hit = where >= 0
        else:
            where = np.searchsorted(self.profile_ids, ids)
            inside = where < len(self.profile_ids)
            hit = np.zeros(len(ids), dtype=bool)
            hit[inside] = self.profile_ids[where[inside]] == ids[inside]
        c[hit] = self.conversions[where[hit]]
        r[hit] = self.revenue[where[hit]]
        return c, r

    @cached_property
    def by_id(self) -> dict[object, int]:
        """Row of each profile id."""
        return {pid: row for row, pid in enumerate(self.profile_ids.tolist())}


def outcome_query(schema: StoreSchema, kpis: Kpis, start: datetime, end: datetime) -> exp.Select:
    """``SELECT id, COUNT(*), SUM(COALESCE(revenue, 0)) … GROUP BY id`` over the window."""
    lay = schema.layout
    revenue = StoreSchema.resolve(kpis.revenue_property, schema.properties)
    assert revenue is not None, "check_kpis runs first"
    amount = exp.func(
        "COALESCE", exp.cast(col(revenue), exp.DataType.build("DOUBLE")), exp.Literal.number(0)
    )
    ts = col(lay.ts)
    return (
        exp.select(
            col(lay.profile_id).as_("profile_id"),
            exp.func("COUNT", exp.Star()).as_("c"),
            exp.func("SUM", amount).as_("r"),
        )
        .from_(table_expr(lay.events_table))
        .where(norm_text(col(lay.event)).eq(exp.Literal.string(text_key(kpis.conversion_event))))
        .where(ts > ts_lit(start))
        .where(ts <= ts_lit(end))
        .where(col(lay.profile_id).is_(exp.null()).not_())
        .group_by(col(lay.profile_id))
    )


def scan_outcomes(store: Store, kpis: Kpis, start: datetime) -> Outcomes:
    """The outcomes of the window ``(start, start + kpis.window]``."""
    schema = store.discover()
    data = store.columns(outcome_query(schema, kpis, start, start + kpis.window.delta))
    ids = data["profile_id"]
    order = np.argsort(ids, kind="stable")
    return Outcomes(
        profile_ids=ids[order],
        conversions=np.asarray(data["c"], dtype=np.int64)[order],
        revenue=np.asarray(data["r"], dtype=np.float64)[order],
    )
