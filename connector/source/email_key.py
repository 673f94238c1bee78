"""The email key: ``normalise_email`` (``connector.evaluate.identity``) in SQL.

One definition for both places that compute it: ``segsync load`` (and the demo) write it
beside the raw address as the reserved profiles column ``EMAIL_KEY_COLUMN``, and the
evaluation query computes it itself when a store lacks that column (stores filled by
other tools). Either way the evaluator reads the same values.
"""

from __future__ import annotations

from sqlglot import exp

__all__ = ["EMAIL_KEY_COLUMN", "email_key", "email_key_sql"]

#: profiles column that ``segsync load`` writes: ``email_key`` of the email column
EMAIL_KEY_COLUMN = "__segsync_email_norm"

#: printable ASCII: there ``TRIM``, ``LOWER`` and the pattern below agree with Python's
#: ``strip``, ``lower`` and ``\\s`` (space is the only whitespace among these characters)
_PRINTABLE = "^[ -~]*$"
_EMAIL_ASCII = "^[^@ ]+@[^@ ]+[.][^@ .]+$"


def email_key(email: exp.Expr) -> exp.Expr:
    """``normalise_email`` in SQL for printable-ASCII values: the trimmed, lower-cased
    address, ``''`` when it is not a valid one; NULL for other values (NULL or holding
    other characters), which Python normalises."""
    key = exp.Lower(this=exp.Trim(this=email.copy()))
    printable = exp.RegexpLike(this=email.copy(), expression=exp.Literal.string(_PRINTABLE))
    valid = exp.and_(
        exp.LTE(this=exp.Length(this=key.copy()), expression=exp.Literal.number(254)),
        exp.RegexpLike(this=key.copy(), expression=exp.Literal.string(_EMAIL_ASCII)),
    )
    inner = exp.Case(ifs=[exp.If(this=valid, true=key)], default=exp.Literal.string(""))
    return exp.Case(ifs=[exp.If(this=printable, true=inner)])


def email_key_sql(column: str, dialect: str = "duckdb") -> str:
    """``email_key`` of the (quoted) column ``column`` as SQL text of ``dialect``."""
    return email_key(exp.column(column, quoted=True)).sql(dialect)
