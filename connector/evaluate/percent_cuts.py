"""Percent ranks and thresholds over a distribution of values (a column of a CTE such
as ``__mv``): ``CUME_DIST`` per distinct value, the threshold of a top/bottom percent, and
the same threshold read from a band of values (``band_threshold``)."""

from __future__ import annotations

from sqlglot import exp

from connector.evaluate.sql import col, lit, sql_type

__all__ = ["band_threshold", "cume_dist", "sure", "thresholds"]


def cume_dist(value: exp.Expr, *, descending: bool, source: str) -> exp.Select:
    """Per distinct non-NULL ``value`` (a column of ``__mv``): its ``CUME_DIST()`` over the profiles
    whose value is not NULL (ordered descending for top_percent), as ``__v``, ``__cd``.

    Equal to ``CUME_DIST() OVER (PARTITION BY value IS NULL ORDER BY value)`` — the share
    of the population at or beyond the value — but sorts one narrow row per distinct value
    instead of every profile's wide row; the caller joins it back on the value.
    """
    size = exp.Count(this=exp.Star()).as_("__n", quoted=True)
    counts = (
        exp.select(value.as_("__v", quoted=True), size)
        .from_(exp.to_identifier(source, quoted=True))
        .where(exp.Not(this=exp.Is(this=value.copy(), expression=exp.null())))
        .group_by(value.copy())
    )
    order = exp.Order(expressions=[exp.Ordered(this=col("__v"), desc=descending)])
    running = exp.Window(this=exp.Sum(this=col("__n")), order=order)
    total = exp.Window(this=exp.Sum(this=col("__n")))
    double = sql_type("DOUBLE")
    share = exp.Div(this=exp.cast(running, double), expression=exp.cast(total, double))
    return exp.select(col("__v"), share.as_("__cd", quoted=True)).from_(
        counts.subquery("__c", copy=False), copy=False
    )


def sure(alias: str) -> str:
    """The column saying whether the banded threshold ``alias`` is exact."""
    return f"{alias}__sure"


def band_threshold(
    value: exp.Expr,
    *,
    descending: bool,
    percent: float,
    band: tuple[float | None, float | None],
    alias: str,
    source: str,
) -> exp.Select:
    """``thresholds`` of one cut read from a value range ``band`` (``None``: unbounded on
    that side) of ``source``: one row, the threshold as ``alias`` and ``sure(alias)``,
    true when it is certainly the one ``thresholds`` gives.

    In ranking order (descending for top) the values whose ``CUME_DIST`` is within the
    percent are a prefix and the threshold is its last value. Each value's share is the
    same integer count over the same total as in ``thresholds`` (the profiles beyond the
    band counted, not grouped), so equal to the last double. The prefix is known to end
    inside the band when the band's first value is in it and its last is not (a side
    left unbounded holds every value beyond it); otherwise ``sure`` is false and the
    caller computes the threshold over the whole distribution.
    """
    low, high = band
    before, after = (high, low) if descending else (low, high)
    inside: list[exp.Expr] = [exp.Not(this=exp.Is(this=value.copy(), expression=exp.null()))]
    if low is not None:
        inside.append(exp.GTE(this=value.copy(), expression=lit(low)))
    if high is not None:
        inside.append(exp.LTE(this=value.copy(), expression=lit(high)))
    counts = (
        exp.select(
            value.as_("__v", quoted=True), exp.Count(this=exp.Star()).as_("__n", quoted=True)
        )
        .from_(exp.to_identifier(source, quoted=True))
        .where(exp.and_(*inside))
        .group_by(value.copy())
    )
    beyond_before: exp.Expr = lit(0)
    if before is not None:
        past = exp.GT if descending else exp.LT
        beyond_before = exp.Filter(
            this=exp.Count(this=exp.Star()),
            expression=exp.Where(this=past(this=value.copy(), expression=lit(before))),
        )
    totals = exp.select(
        exp.Count(this=value.copy()).as_("__total", quoted=True),
        beyond_before.as_("__before", quoted=True),
    ).from_(exp.to_identifier(source, quoted=True))
    order = exp.Order(expressions=[exp.Ordered(this=col("__v"), desc=descending)])
    running = exp.Add(
        this=col("__before"), expression=exp.Window(this=exp.Sum(this=col("__n")), order=order)
    )
    double = sql_type("DOUBLE")
    share = exp.Div(this=exp.cast(running, double), expression=exp.cast(col("__total"), double))
    shares = (
        exp.select(col("__v"), share.as_("__cd", quoted=True))
        .from_(counts.subquery("__c", copy=False), copy=False)
        .join(totals.subquery("__t", copy=False), join_type="cross", copy=False)
    )
    cut = lit(percent / 100.0)
    pick = exp.Min if descending else exp.Max
    checks: list[exp.Expr] = []
    if before is not None:  # the band's first value is in the prefix
        checks.append(exp.LTE(this=exp.Min(this=col("__cd")), expression=cut.copy()))
    if after is not None:  # and its last value is not
        checks.append(exp.GT(this=exp.Max(this=col("__cd")), expression=cut.copy()))
    certain = exp.func("COALESCE", exp.and_(*checks), exp.false()) if checks else exp.true()
    return exp.select(
        exp.Filter(
            this=pick(this=col("__v")),
            expression=exp.Where(this=exp.LTE(this=col("__cd"), expression=cut.copy())),
        ).as_(alias, quoted=True),
        certain.as_(sure(alias), quoted=True),
    ).from_(shares.subquery("__cds", copy=False), copy=False)


def thresholds(
    value: exp.Expr, *, descending: bool, cuts: list[tuple[float, str]], source: str
) -> exp.Select:
    """One row: per (percent, alias) of ``cuts``, the value at the cut-off — the lowest
    value (top) or highest (bottom) whose ``CUME_DIST`` is within the percent; NULL when
    none is, and then no profile qualifies. ``value``: a column of the table or CTE
    ``source``."""
    pick = exp.Min if descending else exp.Max
    shares = cume_dist(value, descending=descending, source=source).subquery("__cds", copy=False)
    return exp.select(
        *[
            exp.Filter(
                this=pick(this=col("__v")),
                expression=exp.Where(
                    this=exp.LTE(this=col("__cd"), expression=lit(percent / 100.0))
                ),
            ).as_(alias, quoted=True)
            for percent, alias in cuts
        ]
    ).from_(shares, copy=False)
