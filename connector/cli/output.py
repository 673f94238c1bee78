"""Terminal-aware output: rich tables and colours on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from rich.console import Console

__all__ = ["err", "is_terminal", "out", "print_table"]

# emoji=False: what is printed quotes names, values and the ESPs' messages, and rich would
# turn a ':fire:' in them into an emoji (markup=False does not stop that)
out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


def is_terminal() -> bool:
    return out.is_terminal


def print_table(
    columns: Sequence[str], rows: Sequence[Sequence[object]], *, title: str | None = None
) -> None:
    """A table: boxed on a terminal, tab-separated lines (header first) otherwise."""
    if out.is_terminal:
        from rich.table import Table  # noqa: PLC0415  (only a terminal gets a boxed table)

        table = Table(title=title, title_justify="left")
        for name in columns:
            table.add_column(name)
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        out.print(table)
        return
    if title:
        sys.stdout.write(f"# {title}\n")
    sys.stdout.write("\t".join(columns) + "\n")
    for row in rows:
        sys.stdout.write("\t".join("" if v is None else str(v) for v in row) + "\n")
    sys.stdout.flush()
