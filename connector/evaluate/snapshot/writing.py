"""Writing the verdict snapshot: a writable run evaluating at exactly the rollup's instant
keeps every profile's results, ranked values and thresholds, with the neighbourhood of
each threshold (the profiles a later run evaluates so that a threshold moving a little
needs no second pass)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlglot import exp

from connector.evaluate.compile import RuleCompiler
from connector.evaluate.packing import packed
from connector.evaluate.snapshot.planning import Plan, fits
from connector.evaluate.snapshot.table import (
    DIGEST,
    PID,
    digest,
    identity,
    threshold_row,
    unique_ids,
)
from connector.evaluate.sql import col, lit
from connector.source import rollups, verdicts
from connector.source.store import Store, table_expr
from connector.source.verdicts import VerdictMeta


def _rule_column(fingerprint: str) -> str:
    return f"v_{fingerprint}"


def _metric_column(fingerprint: str) -> str:
    return f"m_{fingerprint}"


def due(store: Store, compiler: RuleCompiler, plan_: Plan) -> bool:
    """Whether this run writes the snapshot: a writable store whose rollup the run uses
    is of the run's own instant, and the snapshot kept (if any) is not of it and these
    rules."""
    use = compiler.scan.rollup
    if use is None or use.as_of != compiler.as_of or not rollups.writable(store):
        return False
    meta = verdicts.read(store)
    return not fits(meta, plan_, use.as_of, use.watermark)


def write(
    store: Store,
    compiler: RuleCompiler,
    plan_: Plan,
    traits: Sequence[tuple[str, exp.Expr]] = (),
    attributes: Sequence[str] = (),
) -> None:
    """Keep every profile's results, identity, ``attributes`` (the profile columns the run
    returns) and ``traits`` values (alias, expression, in the order of ``plan_.traits``)
    of this run (at the rollup's instant) as the snapshot (nothing when profile ids are
    not unique). The digest covers every column the identity and attributes come from."""
    use = compiler.scan.rollup
    assert use is not None
    schema = compiler.schema
    if not unique_ids(store, schema):
        return
    metric_names = list(plan_.metrics)
    values = [(f"__val{i}", compiler.metric_value(m)) for i, m in enumerate(metric_names)]
    kept_attributes = {a: f"a_{i}" for i, a in enumerate(dict.fromkeys(attributes))}
    digested = sorted({*plan_.digest, *kept_attributes})
    values.append((DIGEST, digest(digested)))
    # an aged trait (a days_since_last value) is kept as the latest event's time
    values += [
        (alias, expr.copy() if metric is None else compiler.last_seen(metric))
        for (alias, expr), metric in zip(traits, plan_.aged, strict=True)
    ]
    aliases = [o.alias for o in plan_.outputs]
    query = compiler.query(
        [(o.alias, o.compile(compiler)) for o in plan_.outputs],
        extra_columns=list(kept_attributes),
        values=values,
    )
    rule_columns: dict[str, str] = {}
    columns: list[exp.Expr] = [
        col("profile_id").as_(PID, quoted=True),
        col(DIGEST),
        *identity(compiler, kept_attributes),
    ]
    for alias, fingerprint in zip(aliases, plan_.rules, strict=True):
        if fingerprint not in rule_columns:
            rule_columns[fingerprint] = _rule_column(fingerprint)
            columns.append(col(alias).as_(rule_columns[fingerprint], quoted=True))
    trait_columns: dict[str, str] = {}
    for (alias, _), fingerprint in zip(traits, plan_.traits, strict=True):
        if fingerprint not in trait_columns:
            trait_columns[fingerprint] = f"t_{fingerprint}"
            columns.append(col(alias).as_(trait_columns[fingerprint], quoted=True))
    columns += packed(aliases)
    metric_columns = {plan_.metrics[m]: _metric_column(plan_.metrics[m]) for m in metric_names}
    columns += [
        col(f"__val{i}").as_(metric_columns[plan_.metrics[m]], quoted=True)
        for i, m in enumerate(metric_names)
    ]
    select = exp.select(*columns).from_(query.subquery("__run"))
    meta = VerdictMeta(
        as_of=use.as_of,
        watermark=use.watermark,
        rules=rule_columns,
        order=list(plan_.rules),
        metrics=metric_columns,
        digest=digested,
        thresholds=dict.fromkeys(plan_.thresholds.values()),
        traits=trait_columns,
        attributes=kept_attributes,
    )
    row = threshold_row(plan_, verdicts.TABLE, lambda m: metric_columns[plan_.metrics[m]])
    columns_by_key = {
        key: metric_columns[plan_.metrics[metric]]
        for (metric, _, _), key in plan_.thresholds.items()
    }
    verdicts.write(store, select, meta, row, _neighbourhood(columns_by_key))


#: the neighbourhood of a threshold: this share of the profiles either side of it
NEAR = 1 / 1000


def _neighbourhood(
    columns: dict[str, str],
) -> Callable[[dict[str, float | None], int], exp.Query | None]:
    """Per threshold (key -> the snapshot's value column): the value ``NEAR`` of the
    profiles below it (``low``) and above it (``high``), and whether no more than that
    many hold its own value. A later run evaluates the profiles strictly between
    ``low`` and ``high`` with the others it must evaluate (``changed.changed``): a
    threshold that moved a little then has no movers left for a second pass."""

    def query(values: dict[str, float | None], rows: int) -> exp.Query | None:
        size = max(1, int(rows * NEAR))  # at least the nearest value each side
        table = table_expr(verdicts.TABLE)
        picked: list[exp.Expr] = []
        for key, value in values.items():
            if value is None:
                continue
            column = col(columns[key])
            for side, beyond, pick in ((0, exp.LT, exp.Min), (1, exp.GT, exp.Max)):
                nearest = (
                    exp.select(column.copy().as_("__v", quoted=True))
                    .from_(table.copy())
                    .where(beyond(this=column.copy(), expression=lit(value)))
                    .order_by(exp.Ordered(this=column.copy(), desc=side == 0))
                    .limit(size)
                )
                bound = exp.select(pick(this=col("__v"))).from_(nearest.subquery("__near"))
                picked.append(bound.subquery())
            ties = (
                exp.select(exp.LTE(this=exp.Count(this=exp.Star()), expression=lit(size)))
                .from_(table.copy())
                .where(exp.EQ(this=column.copy(), expression=lit(value)))
            )
            picked.append(ties.subquery())
        return exp.select(*picked) if picked else None

    return query
