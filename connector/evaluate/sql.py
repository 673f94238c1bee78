"""Small sqlglot builders shared by the compiler: typed literals, text normalisation, and
the two-valued wrappers that keep every condition TRUE or FALSE, never NULL."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlglot import exp

__all__ = [
    "and_all",
    "as_bool",
    "col",
    "compare_all",
    "lit",
    "norm_text",
    "not_",
    "or_all",
    "sql_type",
    "text_key",
    "ts_lit",
]


def col(name: str, table: str | None = None) -> exp.Column:
    """A quoted column reference (names come from the discovered schema or are ours)."""
    return exp.column(name, table=table, quoted=True)


@cache
def _parsed_type(name: str) -> exp.DataType:
    return exp.DataType.build(name)


def sql_type(name: str) -> exp.DataType:
    """``exp.DataType.build(name)``, parsed once per name: a copy of that (a node belongs
    to one tree), which costs far less than parsing the name again."""
    return _parsed_type(name).copy()


def ts_lit(value: datetime) -> exp.Expr:
    """``CAST('2026-05-01 12:00:00' AS TIMESTAMP)`` for a naive UTC datetime."""
    text = exp.Literal.string(value.isoformat(sep=" "))
    return exp.cast(text, sql_type("TIMESTAMP"), copy=False)


def lit(value: Any) -> exp.Expr:
    """A SQL literal built by sqlglot (quoted and escaped by the generator)."""
    if isinstance(value, bool):
        return exp.true() if value else exp.false()
    if isinstance(value, int):
        return exp.Literal.number(value)
    if isinstance(value, float):
        return exp.cast(exp.Literal.number(repr(value)), sql_type("DOUBLE"), copy=False)
    if isinstance(value, datetime):
        return ts_lit(value)
    if value is None:
        return exp.null()
    return exp.Literal.string(str(value))


def text_key(value: str, *, case_sensitive: bool = False) -> str:
    """The Python twin of ``norm_text``: trimmed of spaces, lower-cased unless asked not to."""
    trimmed = value.strip(" ")
    return trimmed if case_sensitive else trimmed.lower()


def norm_text(expr: exp.Expr, *, case_sensitive: bool = False) -> exp.Expr:
    """``LOWER(TRIM(x))`` (or ``TRIM(x)``): how text is compared unless told otherwise."""
    trimmed = exp.Trim(this=expr)
    return trimmed if case_sensitive else exp.Lower(this=trimmed)


def as_bool(expr: exp.Expr) -> exp.Expr:
    """``COALESCE(expr, FALSE)``: a comparison with NULL is false, never unknown.

    ``expr`` becomes part of the result, not copied (callers build it for this call): a
    copy per call would copy every nested condition again at each level."""
    return exp.func("COALESCE", exp.paren(expr, copy=False), exp.false(), copy=False)


def not_(expr: exp.Expr) -> exp.Expr:
    return exp.Not(this=exp.paren(expr, copy=False))


def and_all(parts: list[exp.Expr]) -> exp.Expr:
    if not parts:
        return exp.true()
    return exp.and_(*[exp.paren(p, copy=False) for p in parts], copy=False)


def or_all(parts: list[exp.Expr]) -> exp.Expr:
    if not parts:
        return exp.false()
    return exp.or_(*[exp.paren(p, copy=False) for p in parts], copy=False)


_CMP = {"eq": exp.EQ, "neq": exp.NEQ, "gt": exp.GT, "gte": exp.GTE, "lt": exp.LT, "lte": exp.LTE}


def compare_all(value: exp.Expr, comparisons: tuple[tuple[str, float], ...]) -> exp.Expr:
    """All comparisons hold; any comparison with NULL is false (so the whole is FALSE)."""
    return as_bool(and_all([_CMP[op](this=value, expression=lit(v)) for op, v in comparisons]))
