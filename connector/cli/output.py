"""Terminal-aware output: rich tables and colours on a terminal, plain lines otherwise.

``out`` and ``err`` stand for rich consoles (on stdout and stderr) that are made on first
need — markup, a table on a terminal, a status spinner, a progress bar — because importing
rich costs about 15 ms of every command's start. Until then a plain line
(``print(text, markup=False)``) is written as rich writes it (``plain_line`` says when
that is exactly the same text) and ``is_terminal`` follows rich's rules;
``tests/cli/test_output.py`` holds both to rich.
"""

from __future__ import annotations

import builtins
import os
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["LazyConsole", "err", "is_terminal", "out", "plain_line", "print_table"]

#: rich's emoji codes (``:smile:``); a name with a letter, or one of the few without, may be
#: one, so such text goes through rich
_EMOJI_CODE = re.compile(r"(:(\S*?)(?:(?:\-)(emoji|text))?:)")
_EMOJI_WITHOUT_LETTERS = frozenset({"100", "1234", "+1", "-1", "__1"})
#: what rich changes in plain text besides emoji codes: tabs expanded, these control
#: characters (bell, backspace, vertical tab, form feed, carriage return) removed
_RICH_CHANGES = frozenset("\t\x07\x08\x0b\x0c\r")


def plain_line(text: str) -> bool:
    """Whether rich prints ``text`` (no markup, no highlighting) as it is."""
    if not _RICH_CHANGES.isdisjoint(text):
        return False
    for match in _EMOJI_CODE.finditer(text):
        name = match.group(2).lower()
        if name in _EMOJI_WITHOUT_LETTERS or any(c.isalpha() for c in name):
            return False
    return True


def terminal(stream: TextIO) -> bool:
    """rich's ``Console.is_terminal`` for a console on ``stream`` (``TTY_COMPATIBLE``,
    ``FORCE_COLOR``, else ``isatty()``), without importing rich."""
    tty_compatible = os.environ.get("TTY_COMPATIBLE", "")
    if tty_compatible in ("0", "1"):
        return tty_compatible == "1"
    force_color = os.environ.get("FORCE_COLOR")
    if force_color is not None:
        return force_color != ""
    isatty = getattr(stream, "isatty", None)
    try:
        return False if isatty is None else bool(isatty())
    except ValueError:  # a closed file
        return False


def _unusual_host() -> bool:
    """IDLE and Jupyter, where rich decides by more than the stream: ask rich itself."""
    module = getattr(sys.stdin, "__module__", "") or ""
    return module.startswith("idlelib") or hasattr(builtins, "get_ipython")


class LazyConsole:
    """A rich ``Console`` (``highlight=False, soft_wrap=True``) made on first need; every
    attribute of the console is available on this object."""

    def __init__(self, *, stderr: bool = False) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    @property
    def console(self) -> Console:
        """The rich console itself (for rich's own classes: progress bars, live displays)."""
        if self._console is None:
            from rich.console import Console  # noqa: PLC0415  (see the module's docstring)

            self._console = Console(stderr=self._stderr, highlight=False, soft_wrap=True)
        return self._console

    def _stream(self) -> TextIO:
        return sys.stderr if self._stderr else sys.stdout

    @property
    def is_terminal(self) -> bool:
        if self._console is None and not _unusual_host():
            return terminal(self._stream())
        return self.console.is_terminal

    def print(self, *objects: Any, markup: bool | None = None, **options: Any) -> None:
        """rich's ``Console.print``; a plain line is written directly while no rich console
        exists (once one does, it may be drawing a live display, so it writes everything)."""
        if (
            self._console is None
            and markup is False
            and not options
            and objects
            and all(type(o) is str for o in objects)
        ):
            text = " ".join(objects)
            if plain_line(text):
                stream = self._stream()
                stream.write(text + "\n")
                stream.flush()
                return
        self.console.print(*objects, markup=markup, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.console, name)


out = LazyConsole()
err = LazyConsole(stderr=True)


def is_terminal() -> bool:
    return out.is_terminal


def print_table(
    columns: Sequence[str], rows: Sequence[Sequence[object]], *, title: str | None = None
) -> None:
    """A table: boxed on a terminal, tab-separated lines (header first) otherwise."""
    if out.is_terminal:
        from rich.table import Table  # noqa: PLC0415  (as above)

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
