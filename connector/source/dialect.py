"""Rendering a sqlglot query in a store's dialect, with only constructs valid there.

The compiler builds one tree for every store; this step rewrites what sqlglot would
otherwise carry over verbatim into dialects that lack it:

- ``WITH x AS [NOT] MATERIALIZED (…)`` (DuckDB and PostgreSQL only): the hint is dropped
  elsewhere (the engines there decide on their own);
- ``TimeToUnix`` (epoch seconds): BigQuery has no ``TIME_TO_UNIX``, so it becomes
  ``UNIX_SECONDS(CAST(x AS TIMESTAMP))``;
- ``WHERE (x)`` (Spark): right after a table, Spark reads ``WHERE (x)`` as a table alias
  named ``WHERE`` with a column list, so a condition is never rendered in parentheses of
  its own there.
"""

from __future__ import annotations

from sqlglot import exp

__all__ = ["MATERIALIZED_HINTS", "render"]

#: dialects that accept ``AS [NOT] MATERIALIZED`` on a CTE
MATERIALIZED_HINTS = frozenset({"duckdb", "postgres"})


def _epoch_seconds(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.TimeToUnix):  # BigQuery's TIMESTAMP is sqlglot's TIMESTAMPTZ
        return exp.func("UNIX_SECONDS", exp.cast(node.this.copy(), "TIMESTAMPTZ"))
    return node


def _bare_where(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.Where):
        condition = node.this
        while isinstance(condition, exp.Paren):
            condition = condition.this
        node.set("this", condition)
    return node


def render(query: exp.Expr, dialect: str) -> str:
    """``query`` as SQL text in ``dialect`` (a sqlglot dialect name)."""
    if dialect == "duckdb":  # the compiler's own dialect: nothing to rewrite
        return query.sql(dialect=dialect)
    tree = query.copy()
    if dialect not in MATERIALIZED_HINTS:
        for cte in tree.find_all(exp.CTE):
            cte.set("materialized", None)
    if dialect == "bigquery":
        tree = tree.transform(_epoch_seconds, copy=False)
    if dialect in ("spark", "databricks"):
        tree = tree.transform(_bare_where, copy=False)
    return tree.sql(dialect=dialect)
