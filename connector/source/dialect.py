"""Rendering a sqlglot query in a store's dialect, with only constructs valid there.

The compiler builds one tree for every store; this step rewrites what sqlglot would
otherwise carry over verbatim into dialects that lack it:

- ``WITH x AS [NOT] MATERIALIZED (…)`` (DuckDB and PostgreSQL only): the hint is dropped
  elsewhere (the engines there decide on their own);
- ``TimeToUnix`` (epoch seconds): BigQuery has no ``TIME_TO_UNIX``, so it becomes
  ``UNIX_SECONDS(CAST(x AS TIMESTAMP))``;
- timestamps (BigQuery): segsync's timestamps are UTC instants, which is BigQuery's
  ``TIMESTAMP``; sqlglot would write a naive timestamp as ``DATETIME``, which BigQuery never
  compares with a ``TIMESTAMP`` column (no implicit conversion between the two), so every
  cast is to ``TIMESTAMP`` (a ``DATE`` or ``DATETIME`` casts to it as of UTC midnight / UTC);
- ``RADIANS(x)`` (BigQuery has none): ``x * (ACOS(-1) / 180)``;
- ``INTERVAL '86400' SECOND`` (BigQuery takes a number there): ``INTERVAL 86400 SECOND``;
- ``CAST(x AS DECIMAL(38, 6))`` (exact sums): BigQuery's ``NUMERIC`` holds 29 digits before
  the point and sqlglot would drop the scale, so it is
  ``ROUND(CAST(x AS BIGNUMERIC), 6)`` (each value rounded to 6 places, as DuckDB does);
- identifiers (Snowflake): Snowflake stores unquoted names upper-case and matches quoted
  names exactly, so a quoted lower-case ``"profile_id"`` would miss a column created as
  ``profile_id``; plain lower-case names (letters, digits, ``_``; not a reserved word) are
  written unquoted there, others stay quoted as they are spelled;
- ``WHERE (x)`` (Spark): right after a table, Spark reads ``WHERE (x)`` as a table alias
  named ``WHERE`` with a column list, so a condition is never rendered in parentheses of
  its own there.
"""

from __future__ import annotations

import re

from sqlglot import exp

__all__ = ["MATERIALIZED_HINTS", "SNOWFLAKE_RESERVED", "render", "snowflake_plain"]

#: dialects that accept ``AS [NOT] MATERIALIZED`` on a CTE
MATERIALIZED_HINTS = frozenset({"duckdb", "postgres"})


def _epoch_seconds(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.TimeToUnix):  # BigQuery's TIMESTAMP is sqlglot's TIMESTAMPTZ
        return exp.func("UNIX_SECONDS", exp.cast(node.this.copy(), "TIMESTAMPTZ"))
    return node


_NAIVE = (exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPNTZ)


def _bigquery_types(node: exp.Expr) -> exp.Expr:
    if (
        isinstance(node, exp.Cast)
        and node.to.this == exp.DataType.Type.DECIMAL
        and len(node.to.expressions) == 2
    ):
        scale = node.to.expressions[1].this.copy()
        # the replacement's children are not walked again: rewrite a cast inside it here
        inner = node.this.copy().transform(_bigquery_types, copy=False)
        exact = exp.cast(inner, exp.DataType(this=exp.DataType.Type.BIGDECIMAL))
        return exp.func("ROUND", exact, scale)
    if isinstance(node, exp.DataType) and node.this in _NAIVE:
        return exp.DataType.build("TIMESTAMPTZ")
    if isinstance(node, exp.Radians):
        pi_over_180 = exp.Div(
            this=exp.func("ACOS", exp.Literal.number(-1)), expression=exp.Literal.number(180)
        )
        return exp.Mul(this=exp.paren(node.this.copy()), expression=exp.paren(pi_over_180))
    if isinstance(node, exp.Interval) and isinstance(node.this, exp.Literal):
        amount = node.this.name.strip()
        if node.this.is_string and amount.lstrip("-").isdigit():
            node.set("this", exp.Literal.number(int(amount)))
    return node


_RESERVED_WORDS = """
    account all alter and any as between by case cast check column connect connection
    constraint create cross current current_date current_time current_timestamp current_user
    database delete distinct drop else exists false following for from full grant group
    gscluster having ilike in increment inner insert intersect into is issue join lateral
    left like localtime localtimestamp minus natural not null of on or order organization
    qualify regexp revoke right rlike row rows sample schema select set some start table
    tablesample then to trigger true try_cast union unique update using values view when
    whenever where window with"""
#: Snowflake's reserved words (never valid as unquoted names)
SNOWFLAKE_RESERVED = frozenset(_RESERVED_WORDS.split())
_PLAIN = re.compile(r"[a-z_][a-z0-9_$]*")


def snowflake_plain(name: str) -> bool:
    """Whether Snowflake resolves ``name`` unquoted (as its upper-case spelling)."""
    return bool(_PLAIN.fullmatch(name)) and name not in SNOWFLAKE_RESERVED


def _snowflake_names(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.Identifier) and node.quoted and snowflake_plain(node.name):
        node.set("quoted", False)
    return node


def _bare_where(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.Where):
        condition = node.this
        while isinstance(condition, exp.Paren):
            condition = condition.this
        node.set("this", condition)
    return node


def render(query: exp.Expr, dialect: str, *, pretty: bool = False) -> str:
    """``query`` as SQL text in ``dialect`` (a sqlglot dialect name); ``pretty``: the same
    text laid out on lines (for reading and reviewed fixtures)."""
    if dialect == "duckdb":  # the compiler's own dialect: nothing to rewrite
        # rendered from the tree itself, not a copy (sqlglot's default): copying a run's
        # query costs about as much as rendering it, and DuckDB's generator changes
        # nothing in the trees the compiler builds (tests/source/test_dialect.py). A
        # subtree is still copied: rendered where it stands, its parent would change how
        # sqlglot writes it
        return query.sql(dialect=dialect, pretty=pretty, copy=query.parent is not None)
    tree = query.copy()
    if dialect not in MATERIALIZED_HINTS:
        for cte in tree.find_all(exp.CTE):
            cte.set("materialized", None)
    if dialect == "bigquery":
        tree = tree.transform(_epoch_seconds, copy=False)
        tree = tree.transform(_bigquery_types, copy=False)
    if dialect == "snowflake":
        tree = tree.transform(_snowflake_names, copy=False)
    if dialect in ("spark", "databricks"):
        tree = tree.transform(_bare_where, copy=False)
    return tree.sql(dialect=dialect, pretty=pretty)
