"""Attribute and event-property comparisons compiled to two-valued SQL predicates.

Semantics (docs/design.md, Semantics): a comparison with NULL is false; ``neq``, ``not_in``,
``not_contains``, ``not_exists`` and ``not_within_last`` are exactly ``NOT`` of their
positive twin (so true on NULL); text is compared trimmed and case-insensitively unless
``case_sensitive``; ``exists`` means not NULL and, for text, not blank.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlglot import exp

from connector.definitions.conditions import NEGATIONS, Op
from connector.definitions.values import coerce_value
from connector.evaluate.sql import and_all, as_bool, lit, norm_text, not_, ts_lit
from connector.source.schema import ColumnType
from connector.timespec import Duration

__all__ = ["comparison"]

_CMP = {
    Op.EQ: exp.EQ,
    Op.GT: exp.GT,
    Op.GTE: exp.GTE,
    Op.LT: exp.LT,
    Op.LTE: exp.LTE,
}


def _positive(
    op: Op,
    value: Any,
    column: exp.Expr,
    kind: ColumnType,
    as_of: datetime,
    case_sensitive: bool,
) -> exp.Expr:
    """The positive operator's predicate (may be NULL on NULL input; wrapped by the caller)."""
    text = kind is ColumnType.TEXT
    subject: exp.Expr = column
    if text:
        subject = norm_text(column, case_sensitive=case_sensitive)
    elif kind is ColumnType.DATE:
        subject = exp.cast(column, exp.DataType.build("TIMESTAMP"))

    def val(v: Any) -> exp.Expr:
        # text values go through the same LOWER(TRIM()) as the column, in SQL: Python's
        # lower() differs from the databases' on some letters ('İ', final 'Σ'), and then
        # "İstanbul" would not even equal itself
        return norm_text(lit(v), case_sensitive=case_sensitive) if text else lit(v)

    if op is Op.EXISTS:
        present: exp.Expr = exp.Not(this=exp.Is(this=column, expression=exp.null()))
        if text:
            present = exp.and_(present, exp.NEQ(this=exp.Trim(this=column), expression=lit("")))
        return present
    if op in _CMP:
        return _CMP[op](this=subject, expression=val(value))
    if op is Op.IN:
        return exp.In(this=subject, expressions=[val(v) for v in value])
    if op is Op.BETWEEN:
        low, high = value
        return and_all(
            [
                exp.GTE(this=subject, expression=val(low)),
                exp.LTE(this=subject, expression=val(high)),
            ]
        )
    if op is Op.CONTAINS:
        return exp.GT(this=exp.StrPosition(this=subject, substr=val(value)), expression=lit(0))
    if op is Op.STARTS_WITH:
        prefix = val(value)
        length = exp.Length(this=prefix.copy())
        return exp.EQ(this=exp.Left(this=subject, expression=length), expression=prefix)
    if op is Op.ENDS_WITH:
        suffix = val(value)
        length = exp.Length(this=suffix.copy())
        return exp.EQ(this=exp.Right(this=subject, expression=length), expression=suffix)
    if op is Op.WITHIN_LAST:
        assert isinstance(value, Duration)
        return and_all(
            [
                exp.GTE(this=subject, expression=ts_lit(as_of - value.delta)),
                exp.LTE(this=subject, expression=ts_lit(as_of)),
            ]
        )
    if op is Op.BEFORE:
        return exp.LT(this=subject, expression=ts_lit(value))
    if op is Op.AFTER:
        return exp.GT(this=subject, expression=ts_lit(value))
    raise AssertionError(f"unhandled op {op}")  # pragma: no cover


def comparison(
    op: Op,
    value: Any,
    column: exp.Expr,
    kind: ColumnType,
    as_of: datetime,
    *,
    case_sensitive: bool = False,
) -> exp.Expr:
    """A TRUE/FALSE predicate for ``column <op> value`` (value as written in the rule)."""
    typed = coerce_value(op, value, kind)
    positive_op = NEGATIONS.get(op, op)
    predicate = as_bool(_positive(positive_op, typed, column, kind, as_of, case_sensitive))
    return not_(predicate) if op in NEGATIONS else predicate
