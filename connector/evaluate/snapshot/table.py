"""The snapshot table's key and digest columns, and the queries over a store that both
writing the snapshot and using it run."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlglot import exp

from connector.evaluate.compile import EMAIL_FORM as FETCHED_FORM
from connector.evaluate.compile import RuleCompiler
from connector.evaluate.percent_cuts import thresholds
from connector.evaluate.snapshot.planning import Plan
from connector.evaluate.sql import col, lit
from connector.source.schema import StoreSchema
from connector.source.store import Store, table_expr

PID = "__pid"
DIGEST = "__digest"
#: a profile's identity as a run returns it (``RuleCompiler.identity``, the key and form
#: as fetched: ``compile.fetched_key``): every column it is computed from is in the
#: digest, so a profile outside ``D`` has the snapshot's
EMAIL = "__email"
EMAIL_KEY = "__email_key"
EMAIL_FORM = "__email_form"
CONSENT = "__consent"
#: a run's identity columns (``RuleCompiler.identity``'s, the key and form as fetched)
#: -> the columns the snapshot and the evaluated profiles' tables hold them in
IDENTITY = {"email": EMAIL, "email_key": EMAIL_KEY, FETCHED_FORM: EMAIL_FORM, "consent": CONSENT}


def identity(compiler: RuleCompiler, attributes: Mapping[str, str]) -> list[exp.Expr]:
    """Over a run's rows (``RuleCompiler.query``'s columns): the identity as the snapshot
    keeps it (``EMAIL``, ``EMAIL_KEY`` and ``EMAIL_FORM`` as fetched, ``CONSENT``) and
    each of ``attributes`` (name -> the column to keep it as)."""
    key, form = compiler.fetched_key(col("email_key"), col("email"))
    values = {
        "email": col("email"),
        "email_key": key.unalias(),
        FETCHED_FORM: form.unalias(),
        "consent": col("consent"),
    }
    return [
        *[values[name].as_(column, quoted=True) for name, column in IDENTITY.items()],
        *[col(f"attr:{a}").as_(column, quoted=True) for a, column in attributes.items()],
    ]


def digest(columns: Sequence[str], table: str | None = None) -> exp.Expr:
    """A 64-bit hash of the profile row's ``columns`` (0 when there are none)."""
    if not columns:
        return exp.func("hash", lit(0))
    return exp.func("hash", *[col(c, table) for c in columns])


def unique_ids(store: Store, schema: StoreSchema, cursor: Any = None) -> bool:
    """Every profile row has an id of its own (the snapshot is keyed by it); asked on
    ``cursor`` (a DuckDB connection of its own) when given, else on the store's."""
    lay = schema.layout
    pid = col(lay.profile_id)
    query = exp.select(
        exp.Count(this=exp.Star()), exp.Count(this=exp.Distinct(expressions=[pid]))
    ).from_(table_expr(lay.profiles_table))
    if cursor is None:
        total, distinct = store.rows(query)[0]
    else:
        total, distinct = cursor.execute(store.sql(query)).fetchone()
    return int(total) == int(distinct)


def threshold_row(plan_: Plan, source: str, column: Callable[[str], str]) -> exp.Select | None:
    """One row: each threshold of ``plan_`` (in the order of its keys) over the values
    of the table or CTE ``source`` (column ``column(metric)`` per metric)."""
    by_metric: dict[tuple[str, str], list[tuple[float, str]]] = {}
    for index, (metric, direction, percent) in enumerate(plan_.thresholds):
        by_metric.setdefault((metric, direction), []).append((percent, f"__k{index}"))
    if not by_metric:
        return None
    row: exp.Select | None = None
    for index, ((metric, direction), cuts) in enumerate(by_metric.items()):
        part = thresholds(
            col(column(metric)), descending=direction == "top", cuts=cuts, source=source
        ).subquery(f"__tr{index}")
        row = (
            exp.select(*[col(f"__k{i}") for i in range(len(plan_.thresholds))]).from_(part)
            if row is None
            else row.join(part, join_type="cross")
        )
    return row
