"""A run from the verdict snapshot: the profiles of ``D`` (``changed``) evaluated, the
thresholds of the run's instant over their values and the snapshot's of every other
profile, a second pass for the profiles a moved threshold can reach, and every profile's
row merged from the evaluated results and the snapshot's."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlglot import exp

from connector.evaluate.compile import METRICS, RuleCompiler
from connector.evaluate.features import DR
from connector.evaluate.packing import BITS, packed
from connector.evaluate.percent_cuts import sure
from connector.evaluate.snapshot.changed import changed
from connector.evaluate.snapshot.planning import Plan, fits
from connector.evaluate.snapshot.table import IDENTITY, PID, identity, threshold_row, unique_ids
from connector.evaluate.sql import col, lit, or_all
from connector.source import verdicts
from connector.source.store import Store, table_expr
from connector.source.verdicts import VerdictMeta

CHANGED = "__segsync_changed"  # temporary tables of one run
MOVERS = "__segsync_movers"
FRESH = "__segsync_fresh"
FRESH_MOVERS = "__segsync_fresh_movers"
DELTA = "__segsync_delta"


def _population(
    plan_: Plan, meta: VerdictMeta, mine: Callable[[dict[str, str]], exp.Select]
) -> Callable[[dict[str, str]], exp.Query]:
    """The ranked values of every profile: those ``mine`` selects (the profiles of ``D``,
    under the compiler's metric column names) and the snapshot's of every other profile."""

    def population(metric_cols: dict[str, str]) -> exp.Query:
        kept = (
            exp.select(
                *[
                    col(meta.metrics[plan_.metrics[m]]).as_(a, quoted=True)
                    for m, a in metric_cols.items()
                ]
            )
            .from_(table_expr(verdicts.TABLE))
            .where(_outside(CHANGED))
        )
        return mine(metric_cols).union(kept, distinct=False)

    return population


def _outside(table: str, pid: exp.Expr | None = None) -> exp.Expr:
    """``pid`` (default: the column ``__pid``) is not among the profiles of ``table``."""
    among = (pid or col(PID)).isin(query=exp.select(col(PID)).from_(table))
    return exp.Not(this=among)


def _own_values(metric_cols: dict[str, str]) -> exp.Select:
    """The evaluated profiles' ranked values, from the query's own ``__mv``."""
    return exp.select(*[col(a) for a in metric_cols.values()]).from_(
        exp.to_identifier(METRICS, quoted=True)
    )


def _fresh_values(plan_: Plan) -> Callable[[dict[str, str]], exp.Select]:
    """The first pass's ranked values (table ``FRESH``), for the second pass."""
    names = {m: f"__val{i}" for i, m in enumerate(plan_.metrics)}

    def values(metric_cols: dict[str, str]) -> exp.Select:
        return exp.select(
            *[col(names[m]).as_(a, quoted=True) for m, a in metric_cols.items()]
        ).from_(FRESH)

    return values


def _evaluated(
    compiler: RuleCompiler,
    plan_: Plan,
    population: Callable[[dict[str, str]], exp.Query] | None,
    cut_offs: dict[str, float | None] | None = None,
    bands: dict[str, tuple[float | None, float | None]] | None = None,
    traits: Sequence[tuple[str, exp.Expr]] = (),
    attributes: Sequence[str] = (),
) -> exp.Select:
    """The identity (``table.identity``, with ``attributes`` as ``attr:<name>``), rules
    (packed), ranked values and thresholds of the scan's ``only`` profiles (thresholds
    over ``population``, or ``cut_offs`` by threshold key); ``bands`` (by threshold key):
    where to read each threshold from, with ``__thok<i>`` saying whether it is certainly
    exact (``band_threshold``)."""
    metric_names = list(plan_.metrics)
    values = [(f"__val{i}", compiler.metric_value(m)) for i, m in enumerate(metric_names)]
    values += [(f"__thv{i}", col(alias)) for i, alias in enumerate(compiler.thresholds.values())]
    values += [(alias, expr.copy()) for alias, expr in traits]
    given = None
    if cut_offs is not None:
        given = {alias: cut_offs[plan_.thresholds[k]] for k, alias in compiler.thresholds.items()}
    by_alias = None
    if bands:
        by_alias = {
            alias: bands[plan_.thresholds[k]]
            for k, alias in compiler.thresholds.items()
            if plan_.thresholds[k] in bands
        }
        values += [
            (f"__thok{i}", col(sure(alias)) if alias in by_alias else exp.true())
            for i, alias in enumerate(compiler.thresholds.values())
        ]
    outputs = [(o.alias, o.compile(compiler)) for o in plan_.outputs]
    query = compiler.query(
        outputs,
        extra_columns=attributes,
        values=values,
        population=population,
        cut_offs=given,
        bands=by_alias,
    )
    return exp.select(
        col("profile_id").as_(PID, quoted=True),
        *identity(compiler, {a: f"attr:{a}" for a in attributes}),
        *packed([o.alias for o in plan_.outputs]),
        *[col(alias) for alias, _ in values],
    ).from_(query.subquery("__run", copy=False), copy=False)


def _hoisted(query: exp.Select) -> tuple[exp.Select, exp.Query | None]:
    """``query`` reading the rollup's delta rows (its CTE ``__dr``) from the temporary
    table ``DELTA`` instead, and the rows that table is to hold (None: no such CTE, the
    query unchanged). A table's exact size lets the planner build its joins' hash tables
    on the small side (the delta, ``D``'s rows), where the CTE's estimate led it to build
    them over whole keyed tables; and its rows are stored once, not fanned out to every
    consumer."""
    found: exp.CTE | None = None
    reads: list[exp.Expr] = []  # one walk of the (large) tree: its CTE and its readers
    for node in query.walk():
        if isinstance(node, exp.CTE) and node.alias == DR:
            found = node
        elif isinstance(node, exp.Table) and node.name == DR and not node.db:
            reads.append(node)  # read as a table
        elif isinstance(node, exp.From | exp.Join):
            name = node.this  # or (``FROM "__dr"``) as a bare name
            if isinstance(name, exp.Identifier) and name.this == DR:
                reads.append(node)
    if found is None:
        return query, None
    rows = found.this
    with_ = found.parent
    found.pop()
    if isinstance(with_, exp.With) and not with_.expressions:
        with_.pop()
    for read in reads:
        read.set("this", exp.to_identifier(DELTA))
    return query, rows


def _threshold_bands(
    plan_: Plan, meta: VerdictMeta
) -> dict[str, tuple[float | None, float | None]]:
    """Per threshold key, the values where the threshold of the run's instant is looked
    for first: the snapshot's neighbourhood of its threshold (``writing._neighbourhood``;
    a side with no value kept is unbounded)."""
    found: dict[str, tuple[float | None, float | None]] = {}
    for key in plan_.thresholds.values():
        near = meta.near.get(key)
        if meta.thresholds.get(key) is None or near is None:
            continue
        low, high, _ = near
        found[key] = (low, high)
    return found


def _sure(store: Store, plan_: Plan) -> bool:
    """Whether every threshold the first pass read from a band is certainly exact (no
    profile evaluated: no row to tell, and ``_thresholds_now`` reads the population)."""
    flags = [col(f"__thok{i}") for i in range(len(plan_.thresholds))]
    rows = store.rows(exp.select(*flags).from_(FRESH).limit(1))
    return not rows or all(bool(flag) for flag in rows[0])


def _thresholds_now(
    store: Store,
    compiler: RuleCompiler,
    plan_: Plan,
    population: Callable[[dict[str, str]], exp.Query],
) -> dict[str, float | None]:
    """Each threshold at the run's instant, by its key: the first pass's (every row holds
    them), or, when it evaluated no profile, those of the population."""
    keys = list(plan_.thresholds.values())
    rows = store.rows(
        exp.select(*[col(f"__thv{i}") for i in range(len(keys))]).from_(FRESH).limit(1)
    )
    if not rows:
        names = {m: f"__pv{i}" for i, m in enumerate(plan_.metrics)}
        row = threshold_row(plan_, "__pop", names.__getitem__)
        assert row is not None
        everyone = population(names)
        rows = store.rows(row.with_("__pop", as_=everyone))
    return {
        key: None if value is None else float(value)
        for key, value in zip(keys, rows[0], strict=True)
    }


def _merged(
    compiler: RuleCompiler,
    plan_: Plan,
    meta: VerdictMeta,
    parts: list[str],
    evaluated: list[str],
    extra_columns: Sequence[str],
    traits: Sequence[str],
) -> exp.Select:
    """Every profile's row: those of the tables ``parts`` (evaluated: rows as
    ``_evaluated`` gives them) and the snapshot's of every other profile (those not in
    the tables ``evaluated``: ``D`` and the movers); only the rows that qualify for some
    rule. The others' identity is the snapshot's (its digest covers every column it
    comes from), and so are the attributes it keeps; one it does not keep is read from
    the profiles table."""
    count = (len(plan_.outputs) + BITS - 1) // BITS
    bits = [f"__m{i}" for i in range(count)]
    attrs = [f"attr:{c}" for c in extra_columns]
    fresh: exp.Query | None = None
    for part in parts:
        rows = exp.select(
            col(PID).as_("profile_id", quoted=True),
            *[col(stored).as_(name, quoted=True) for name, stored in IDENTITY.items()],
            *[col(c) for c in [*attrs, *bits, *traits]],
        ).from_(part)
        fresh = rows if fresh is None else fresh.union(rows, distinct=False)
    assert fresh is not None
    lay = compiler.schema.layout
    missing = [c for c in extra_columns if c not in meta.attributes]
    attr_values = [
        (col(c, "p") if c in missing else col(meta.attributes[c], "s")).as_(
            f"attr:{c}", quoted=True
        )
        for c in extra_columns
    ]
    trait_values = []
    for alias, fingerprint, metric in zip(traits, plan_.traits, plan_.aged, strict=True):
        value: exp.Expr = col(meta.traits[fingerprint], "s")
        if metric is not None:  # the latest event's time: its days at this run's instant
            value = compiler.days_since(value)
        trait_values.append(value.as_(alias, quoted=True))
    stored_bits = _snapshot_bits(plan_, meta)
    kept = exp.select(
        col(PID, "s").as_("profile_id", quoted=True),
        *[col(stored, "s").as_(name, quoted=True) for name, stored in IDENTITY.items()],
        *attr_values,
        *[b.as_(name, quoted=True) for b, name in zip(stored_bits, bits, strict=True)],
        *trait_values,
    ).from_(exp.alias_(table_expr(verdicts.TABLE), "s"))
    if missing:  # read where the snapshot keeps none
        kept = kept.join(
            exp.alias_(table_expr(lay.profiles_table), "p"),
            on=exp.EQ(this=col(lay.profile_id, "p"), expression=col(PID, "s")),
            join_type="left",
        )
    for table in evaluated:
        kept = kept.where(_outside(table, col(PID, "s")))
    qualifies = or_all([exp.NEQ(this=col(b), expression=lit(0)) for b in bits])
    return (
        exp.select(col("profile_id"), *[col(n) for n in IDENTITY], *[col(c) for c in attrs])
        .select(*[col(c) for c in [*bits, *traits]])
        .from_(kept.union(fresh, distinct=False).subquery("__rows"))
        .where(qualifies)
    )


def _same(a: float | None, b: float | None) -> bool:
    return a == b or (a is None and b is None)


def _movers(plan_: Plan, meta: VerdictMeta, now: dict[str, float | None]) -> exp.Select | None:
    """The profiles outside ``D`` whose standing against a moved threshold may change."""
    conditions: list[exp.Expr] = []
    for (metric, direction, _), key in plan_.thresholds.items():
        before, after = meta.thresholds[key], now[key]
        if _same(before, after):
            continue
        value = col(meta.metrics[plan_.metrics[metric]])
        given = [t for t in (before, after) if t is not None]
        if len(given) == 2:
            conditions.append(exp.Between(this=value, low=lit(min(given)), high=lit(max(given))))
        else:  # from or to "nobody": those beyond the one threshold
            beyond = exp.GTE if direction == "top" else exp.LTE
            conditions.append(beyond(this=value, expression=lit(given[0])))
    if not conditions:
        return None
    return (
        exp.select(col(PID))
        .from_(table_expr(verdicts.TABLE))
        .where(or_all(conditions))
        .where(_outside(CHANGED))
    )


def _snapshot_bits(plan_: Plan, meta: VerdictMeta) -> list[exp.Expr]:
    """The snapshot's results packed in this run's order (its own packed columns when the
    order is the same)."""
    aliases = [o.alias for o in plan_.outputs]
    if meta.order == plan_.rules:
        return [col(f"__m{i}", "s") for i in range((len(aliases) + BITS - 1) // BITS)]
    stored = [meta.rules[f] for f in plan_.rules]
    return [e.unalias() for e in packed(stored, "s")]


def _first_pass(
    store: Store,
    compiler: RuleCompiler,
    plan_: Plan,
    meta: VerdictMeta,
    traits: Sequence[tuple[str, exp.Expr]],
    attributes: Sequence[str],
) -> (
    tuple[Callable[[dict[str, str]], exp.Query], dict[str, tuple[float | None, float | None]]]
    | None
):
    """``D`` (table ``CHANGED``) and its profiles evaluated (table ``FRESH``), thresholds
    read from their bands; the population and bands it used (None: some profile id is
    not unique, the snapshot cannot be used). The store checks the ids (on a connection
    of its own) and finds ``D`` while the first pass's SQL is built here: the driver
    leaves Python free while a statement runs, and nothing else uses the connection
    meanwhile."""
    con: Any = getattr(store, "con")  # noqa: B009 (DuckDB only)
    scan = compiler.scan
    query = changed(plan_, compiler.schema, meta, compiler.as_of)

    def ids_unique() -> bool:  # on a connection of its own: beside D's statement
        cursor = con.cursor()
        try:
            return unique_ids(store, compiler.schema, cursor)
        finally:
            cursor.close()

    with ThreadPoolExecutor(2) as side:
        checking = side.submit(ids_unique)
        finding = side.submit(
            con.execute, f"CREATE OR REPLACE TEMP TABLE {CHANGED} AS " + store.sql(query)
        )
        try:
            scan.only = CHANGED
            population = _population(plan_, meta, _own_values)
            bands = _threshold_bands(plan_, meta)
            first, delta = _hoisted(
                _evaluated(
                    compiler, plan_, population, bands=bands, traits=traits, attributes=attributes
                )
            )
            statements = [f"CREATE OR REPLACE TEMP TABLE {FRESH} AS " + store.sql(first)]
            if delta is not None:
                statements.insert(0, f"CREATE OR REPLACE TEMP TABLE {DELTA} AS " + store.sql(delta))
        finally:
            finding.result()
            unique = checking.result()
    if not unique:
        return None
    for statement in statements:
        con.execute(statement)
    return population, bands


def run(
    store: Store,
    compiler: RuleCompiler,
    plan_: Plan,
    extra_columns: Sequence[str],
    *,
    order: bool,
    traits: Sequence[tuple[str, exp.Expr]] = (),
) -> dict[str, Any] | None:
    """The run's rows (as ``evaluate``'s query returns them, with the ``traits`` values:
    alias, expression, in the order of ``plan_.traits``; ``order``: sorted by profile
    id) from the snapshot and the profiles that can change, or ``None`` when the store
    keeps no snapshot for these rules and the rollup the run uses."""
    use = compiler.scan.rollup
    if use is None or use.as_of > compiler.as_of:
        return None
    meta = verdicts.read(store)
    if meta is None or not fits(meta, plan_, use.as_of, use.watermark):
        return None
    if any(math.isnan(v) for v in meta.thresholds.values() if v is not None):
        return None  # NaN sorts above every number in SQL, not in Python: not bounded here
    con: Any = getattr(store, "con")  # noqa: B009 (DuckDB only)
    temporary = [CHANGED, DELTA, FRESH, MOVERS, FRESH_MOVERS]
    scan = compiler.scan
    try:
        passed = _first_pass(store, compiler, plan_, meta, traits, extra_columns)
        if passed is None:
            return None
        population, bands = passed
        if bands and not _sure(store, plan_):  # a threshold left its band: read them all
            # over the same profiles, so the same delta rows: those the first pass kept
            first, _ = _hoisted(
                _evaluated(compiler, plan_, population, traits=traits, attributes=extra_columns)
            )
            con.execute(f"CREATE OR REPLACE TEMP TABLE {FRESH} AS " + store.sql(first))
        parts, evaluated = [FRESH], [CHANGED]  # rows, and the profiles they hold
        if plan_.thresholds:
            population = _population(plan_, meta, _fresh_values(plan_))
            now = _thresholds_now(store, compiler, plan_, population)
            if any(math.isnan(v) for v in now.values() if v is not None):
                return None
            movers = _movers(plan_, meta, now)
            if movers is not None:
                con.execute(f"CREATE OR REPLACE TEMP TABLE {MOVERS} AS " + store.sql(movers))
                if con.execute(f"SELECT count(*) FROM {MOVERS}").fetchone()[0]:
                    scan.only = MOVERS
                    second = _evaluated(
                        compiler, plan_, None, now, traits=traits, attributes=extra_columns
                    )
                    con.execute(
                        f"CREATE OR REPLACE TEMP TABLE {FRESH_MOVERS} AS " + store.sql(second)
                    )
                    parts.append(FRESH_MOVERS)
                    evaluated.append(MOVERS)
        aliases = [alias for alias, _ in traits]
        merged = _merged(compiler, plan_, meta, parts, evaluated, extra_columns, aliases)
        if order:
            merged = merged.order_by(col("profile_id"), copy=False)
        return store.columns(merged)
    finally:
        scan.only = None
        for name in temporary:
            con.execute(f"DROP TABLE IF EXISTS temp.{name}")
