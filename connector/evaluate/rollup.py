"""Incremental features: per-profile rollups of the decomposable event aggregates, kept in
the store, so a run reads them plus only the events that changed since.

A rollup holds, per profile, *parts* of aggregates as of an instant ``T0`` (count ``c``,
non-NULL count ``n`` and sum ``s`` of a property, ``mn``/``mx`` of a property over all
history, latest timestamp ``l``), each over one event filter (event name, ``where``,
window length). A run at ``as_of`` = ``T1 >= T0`` combines, exactly:

    value(T1) = rollup(T0) + added − gone

- *added*: events with ``T1 − window <= ts <= T1`` that the rollup did not count: those
  with ``ts > T0``, and rows appended after it was built (``rowid`` above its watermark,
  whatever their ``ts``: late data);
- *gone*: events the rollup counted whose ``ts`` fell out of the window
  (``T0 − window <= ts < T1 − window``);
- the latest timestamp needs no *gone*: when the rollup's is older than ``T1 − window``,
  every event it saw left the window; ``min``/``max`` are parts only without a window.

Windows stay exact to the second (every bound is an instant, never a day).

Aggregates that do not decompose into per-profile numbers are kept as *keyed* parts, each a
table of its own (``connector.evaluate.keyed``): ``distinct_count`` (per profile and value,
its latest timestamp), windowed ``min``/``max`` (per profile, the events no later event
beats: the window's extreme is always among them) and ``per`` conditions over count, sum or
avg (per profile and group, the windowed count/n/s, advanced like the scalar parts).
``distinct_count`` and windowed ``min``/``max`` also keep their value at ``T0`` per profile
(a *value* part: ``dc``, ``wmn``, ``wmx``, beside the scalar parts). At ``T1`` only the
profiles the change touches are recomputed from the keyed table: those with matching events
added, and those with a kept row that left the window (``T0 − window <= ts < T1 − window``);
every other profile's value is its value at ``T0`` (nothing entered or left its window).
Each ``per`` test keeps its verdict the same way (a value part ``gv`` of its ``g`` table,
one per aggregate kind and comparisons: "some group passes" at ``T0``), recomputed from the
``g`` table and the delta only for the profiles with a matching event added or gone.
``not_followed_by`` with its own ``within``, ``per`` over min/max and filters relative to
``as_of`` are computed from raw events as in a full run.

Sums are exact (``exact_sum``): ``DECIMAL(38, 6)`` in the rollup and in a full run alike,
so adding, subtracting and the order of rows change nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from sqlglot import exp

from connector.definitions.conditions import Op, PropertyCondition
from connector.evaluate.sql import lit, ts_lit
from connector.source.rollups import KEYED, ROLLUP

__all__ = [
    "KEYED",
    "SUM_TYPE",
    "VALUE_OF",
    "Part",
    "exact_sum",
    "group_part",
    "parts_of",
    "sum_value",
    "verdict_part",
]

#: what sums add: each value rounded to 6 decimal places, added exactly (DuckDB, PostgreSQL
#: and Spark round half away from zero alike), so a sum's value does not depend on the
#: order of its rows or on how a rollup was advanced
SUM_TYPE = "DECIMAL(38, 6)"

_RELATIVE = (Op.WITHIN_LAST, Op.NOT_WITHIN_LAST)
#: the value part kept beside a keyed part (its value per profile at the rollup's instant;
#: for ``g``, one ``gv`` per ``per`` test: whether some group passes it)
VALUE_OF = {"dv": "dc", "emn": "wmn", "emx": "wmx", "g": "gv"}

#: a ``per`` test: the aggregate kind (count, sum, avg) and its comparisons
Test = tuple[str, tuple[tuple[str, float], ...]]


@dataclass(frozen=True)
class Part:
    """One stored column: ``kind`` of events ``event`` matching ``where`` within
    ``window`` (``None``: all history) of the run's ``as_of``; ``prop`` for n/s/mn/mx
    (and the keyed kinds' values); ``group`` for ``g`` and ``gv`` (the ``per`` property);
    ``test`` for ``gv`` (its aggregate kind and comparisons: part of its identity, so a
    changed threshold is another part). Keyed kinds (``KEYED``) are a table of their own,
    ``table``."""

    event: str
    where: tuple[PropertyCondition, ...]
    window: timedelta | None
    kind: str
    prop: str | None = None
    group: str | None = None
    test: Test | None = None

    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "event": self.event,
            "where": [c.model_dump(mode="json") for c in self.where],
            "window": None if self.window is None else int(self.window.total_seconds()),
            "kind": self.kind,
            "prop": self.prop,
        }
        if self.group is not None:
            spec["group"] = self.group
        if self.test is not None:
            kind, comparisons = self.test
            spec["test"] = {"aggregate": kind, "comparisons": [list(c) for c in comparisons]}
        return spec

    @property
    def keyed(self) -> bool:
        return self.kind in KEYED

    @property
    def source(self) -> Part:
        """The keyed part a value part (``VALUE_OF``) is recomputed from."""
        kind = next(k for k, v in VALUE_OF.items() if v == self.kind)
        return Part(self.event, self.where, self.window, kind, self.prop, self.group)

    @property
    def table(self) -> str:
        """The table of a keyed part."""
        return f"{ROLLUP}_{self.column}"

    @cached_property
    def column(self) -> str:
        """A stable column name for this part in the rollup table."""
        text = json.dumps(self.spec(), sort_keys=True, separators=(",", ":"))
        return f"{self.kind}_{hashlib.sha256(text.encode()).hexdigest()[:16]}"

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Part:
        window = spec["window"]
        test = spec.get("test")
        return cls(
            event=str(spec["event"]),
            where=tuple(PropertyCondition.model_validate(c) for c in spec["where"]),
            window=None if window is None else timedelta(seconds=int(window)),
            kind=str(spec["kind"]),
            prop=spec["prop"],
            group=spec.get("group"),
            test=None
            if test is None
            else (str(test["aggregate"]), tuple((str(op), v) for op, v in test["comparisons"])),
        )


def parts_of(
    event: str,
    where: tuple[PropertyCondition, ...],
    window: timedelta | None,
    kind: str,
    prop: str | None,
) -> tuple[Part, ...] | None:
    """The parts an aggregate decomposes into, or ``None`` when it does not."""
    if any(c.op in _RELATIVE for c in where):
        return None

    def part(k: str, p: str | None = None) -> Part:
        return Part(event, where, window, k, p)

    if kind == "count":
        return (part("c"),)
    if kind in ("sum", "avg"):
        return (part("n", prop), part("s", prop))
    if kind == "last_ts":
        return (part("l"),)
    if kind in ("min", "max") and window is None:
        return (part("mn" if kind == "min" else "mx", prop),)
    if kind in ("min", "max"):
        keyed = "emn" if kind == "min" else "emx"
        return (part(keyed, prop), part(VALUE_OF[keyed], prop))
    if kind == "distinct_count":
        return (part("dv", prop), part("dc", prop))
    return None


def group_part(
    event: str,
    where: tuple[PropertyCondition, ...],
    window: timedelta | None,
    kind: str,
    prop: str | None,
    group: str,
) -> Part | None:
    """The keyed part a ``per`` condition is computed from, or ``None`` (min/max per
    group, filters relative to ``as_of``: computed from events)."""
    if any(c.op in _RELATIVE for c in where) or kind not in ("count", "sum", "avg"):
        return None
    return Part(event, where, window, "g", prop if kind != "count" else None, group)


def verdict_part(grouped: Part, kind: str, comparisons: tuple[tuple[str, float], ...]) -> Part:
    """The value part keeping, per profile, whether some group of ``grouped`` (a ``g``
    part) passes the test ``kind`` + ``comparisons``."""
    return Part(
        grouped.event,
        grouped.where,
        grouped.window,
        "gv",
        grouped.prop,
        grouped.group,
        (kind, tuple(comparisons)),
    )


def exact_sum(value: exp.Expr) -> exp.Expr:
    """``SUM`` of ``value`` as an exact decimal."""
    return exp.Sum(this=exp.cast(value, exp.DataType.build(SUM_TYPE)))


def sum_value(total: exp.Expr, count: exp.Expr | None = None) -> exp.Expr:
    """A sum's value (the exact total as the nearest double), or the average when
    ``count`` (of the values summed) is given: the exact total divided by the count in
    decimals, rounded to 6 places like the values summed (half away from zero), as the
    nearest double. So three orders of 0.1 average 0.1, not 0.09999999999999999: a double
    quotient would put an average of equal amounts below their own value. (DuckDB divides
    decimals as doubles; the quotient's 12-place decimal restores the exact value before the
    rounding to 6.)"""
    double = exp.DataType.build("DOUBLE")
    if count is None:
        return exp.cast(total, double)
    quotient = exp.Div(this=total, expression=exp.cast(count, exp.DataType.build("DECIMAL(38, 0)")))
    fine = exp.cast(quotient, exp.DataType.build("DECIMAL(38, 12)"))
    return exp.cast(exp.Round(this=fine, decimals=lit(6)), double)


# -- SQL over normalised event rows (``__pid``, ``__name``, ``__ts``, property aliases) --
def part_value(kind: str, value: exp.Expr | None, ts: exp.Expr) -> exp.Expr:
    """The aggregate computing a part over the rows it is given (for ``dc``, ``value`` is
    the normalised value, as the keyed part keeps it)."""
    if kind == "c":
        return exp.Count(this=exp.Star())
    if kind == "l":
        return exp.Max(this=ts)
    assert value is not None
    if kind == "s":
        return exact_sum(value)
    if kind == "dc":
        return exp.Count(this=exp.Distinct(expressions=[value]))
    double = exp.cast(value, exp.DataType.build("DOUBLE"))
    func = {"n": exp.Count, "mn": exp.Min, "mx": exp.Max, "wmn": exp.Min, "wmx": exp.Max}[kind]
    return func(this=double)


def combine(
    kind: str,
    stored: exp.Expr,
    added: exp.Expr,
    gone: exp.Expr | None,
    since: datetime | None,
) -> exp.Expr:
    """The part at ``T1`` from the stored part, the added rows' and the gone rows'."""
    zero = lit(0)
    if kind in ("c", "n"):
        total: exp.Expr = exp.Add(
            this=exp.func("COALESCE", stored, zero), expression=exp.func("COALESCE", added, zero)
        )
        if gone is not None:
            total = exp.Sub(this=total, expression=exp.func("COALESCE", gone, zero))
        return total
    if kind == "s":  # exact decimals (an integer zero keeps them so)
        summed: exp.Expr = exp.Add(
            this=exp.func("COALESCE", stored, zero), expression=exp.func("COALESCE", added, zero)
        )
        if gone is not None:
            summed = exp.Sub(this=summed, expression=exp.func("COALESCE", gone, zero))
        return summed  # meaningful only where n > 0 (the caller decides)
    if kind == "mn":
        return exp.func("LEAST", stored, added)
    if kind == "mx":
        return exp.func("GREATEST", stored, added)
    assert kind == "l"
    if since is not None:
        still = exp.GTE(this=stored.copy(), expression=ts_lit(since))
        stored = exp.Case(ifs=[exp.If(this=still, true=stored)])
    return exp.func("GREATEST", stored, added)


def feature_value(kind: str, parts: dict[str, exp.Expr]) -> exp.Expr:
    """An aggregate's value from its parts (count 0 and NULL otherwise, as when computed
    from events)."""
    if kind == "count":
        return parts["c"]
    if kind == "last_ts":
        return parts["l"]
    if kind == "distinct_count":
        return parts["dc"]
    if kind in ("min", "max"):
        plain, windowed = ("mn", "wmn") if kind == "min" else ("mx", "wmx")
        return parts[plain] if plain in parts else parts[windowed]
    present = exp.GT(this=parts["n"].copy(), expression=lit(0))
    value = sum_value(parts["s"], parts["n"].copy() if kind == "avg" else None)
    return exp.Case(ifs=[exp.If(this=present, true=value)])
