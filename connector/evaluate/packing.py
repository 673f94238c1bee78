"""The rules' booleans of a run packed into BIGINT columns, one bit per rule."""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from connector.evaluate.sql import col, lit, sql_type

__all__ = ["BITS", "packed"]

#: rules per packed column: bits 0..61 of a BIGINT (no sign bit, no overflow)
BITS = 62


def packed(aliases: Sequence[str], table: str | None = None) -> list[exp.Expr]:
    """The rules' booleans (columns ``aliases``, of ``table`` when given) as bits of
    BIGINT columns ``__m0``, ``__m1``, ... (NULL as false): one column per 62 rules
    instead of one per rule, so a run brings back a few integers per qualifying profile
    rather than a profiles × rules matrix."""
    columns = []
    for start in range(0, len(aliases), BITS):
        bits = [
            exp.cast(
                exp.Case(ifs=[exp.If(this=col(alias, table), true=lit(1 << bit))], default=lit(0)),
                sql_type("BIGINT"),
                copy=False,
            )
            for bit, alias in enumerate(aliases[start : start + BITS])
        ]
        total: exp.Expr = bits[0]
        for bit in bits[1:]:
            total = exp.Add(this=total, expression=bit)
        columns.append(total.as_(f"__m{start // BITS}", quoted=True))
    return columns
