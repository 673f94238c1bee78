"""Terminal-aware output: rich tables and colours on a terminal, plain lines otherwise.

``out`` and ``err`` make their rich console on first need: a line of printable text printed
without markup to a stream that is no terminal is written as it is (what rich writes for
it, the line and a newline; tests/cli/test_output.py holds the two equal), so a command
whose output goes to a file or a pipe, as ``preview``'s does, never imports rich.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status

__all__ = ["Output", "err", "is_terminal", "out", "print_table"]


class Output:
    """stdout or stderr, through a rich console made when something needs it."""

    def __init__(self, *, stderr: bool) -> None:
        self.stderr = stderr

    @property
    def file(self) -> TextIO:
        """The stream as it is now (tests swap ``sys.stdout`` and ``sys.stderr``)."""
        return sys.stderr if self.stderr else sys.stdout

    @cached_property
    def console(self) -> Console:
        # rich (~20 ms to import) loads for a terminal, markup or anything but plain lines
        from rich.console import Console  # noqa: PLC0415

        # emoji=False: what is printed quotes names, values and the ESPs' messages, and rich
        # would turn a ':fire:' in them into an emoji (markup=False does not stop that)
        return Console(stderr=self.stderr, highlight=False, soft_wrap=True, emoji=False)

    def _no_terminal(self) -> bool:
        """Whether rich, asked, would say the stream is no terminal, told without asking
        it: not a tty, and neither ``TTY_COMPATIBLE=1`` nor a non-empty ``FORCE_COLOR``
        (which rich reads to treat any stream as a terminal). False means: ask rich."""
        if os.environ.get("TTY_COMPATIBLE", "") == "1" or os.environ.get("FORCE_COLOR"):
            return False
        isatty = getattr(self.file, "isatty", None)
        try:
            return isatty is not None and not isatty()
        except ValueError:  # a closed stream: rich's answer, asked, is False as well
            return False

    @property
    def is_terminal(self) -> bool:
        return False if self._no_terminal() else self.console.is_terminal

    def print(self, *objects: Any, markup: bool | None = None, **options: Any) -> None:
        """``rich.console.Console.print``; a plain line (one printable string, no markup)
        to a stream that is no terminal is written directly."""
        if (
            markup is False
            and not options
            and len(objects) == 1
            and isinstance(objects[0], str)
            and objects[0].isprintable()
            and self._no_terminal()
        ):
            stream = self.file
            stream.write(objects[0] + "\n")
            stream.flush()
            return
        self.console.print(*objects, markup=markup, **options)

    def status(self, status: str) -> Status:
        return self.console.status(status)


out = Output(stderr=False)
err = Output(stderr=True)


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
