"""Plain lines and terminal detection without rich give what rich gives: a line that
``plain_line`` lets through prints as rich prints it (no emoji code, tab or control character
rich would change), and ``terminal`` answers as ``Console.is_terminal`` does."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from unittest import mock

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from rich.console import Console

from connector.cli.output import LazyConsole, plain_line, terminal

#: pieces of the lines commands print, and what rich would change in them
PIECES = st.sampled_from(
    [
        "churn-risk as of 2026-12-06T23:00:00Z: ", "6152 members", ", ", "; e.g. ",
        "profile 'p:7:x'", ":00:", ":smile:", ":thumbs_up-emoji:", ":100:", ":+1:", ":-1:",
        "a:b", "::", ":", " ", "\t", "\r", "\x07", "\x0b", "\x1b[31m", "\x00", "\n",
        "日本語", "😀", "é\u200bz", "[bold]x[/]", "  ", "x" * 120,
    ]
)  # fmt: skip
TEXT = st.lists(st.one_of(PIECES, st.text(max_size=8)), max_size=8).map("".join)


def _rich(text: str, *, terminal: bool) -> str:
    buffer = io.StringIO()
    console = Console(
        file=buffer, highlight=False, soft_wrap=True, force_terminal=terminal, width=40
    )
    console.print(text, markup=False)
    return buffer.getvalue()


@given(text=TEXT, on_terminal=st.booleans())
def test_a_plain_line_prints_as_rich_prints_it(text: str, on_terminal: bool) -> None:
    event("plain" if plain_line(text) else "left to rich")
    if plain_line(text):
        assert _rich(text, terminal=on_terminal) == text + "\n"


@pytest.mark.parametrize("text", ["a\tb", "x\ry", ":smile: now", "up :+1:", "bell\x07"])
def test_what_rich_changes_is_left_to_rich(text: str) -> None:
    assert not plain_line(text)
    assert _rich(text, terminal=False) != text + "\n"


class _Stream(io.StringIO):
    def __init__(self, answer: bool | None) -> None:
        super().__init__()
        self.answer = answer

    def isatty(self) -> bool:
        if self.answer is None:
            raise ValueError("I/O operation on closed file")
        return self.answer


@given(
    tty_compatible=st.sampled_from([None, "", "0", "1", "yes"]),
    force_color=st.sampled_from([None, "", "1", "0"]),
    isatty=st.sampled_from([True, False, None]),
)
def test_terminal_answers_as_rich(
    tty_compatible: str | None, force_color: str | None, isatty: bool | None
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("TTY_COMPATIBLE", "FORCE_COLOR")}
    if tty_compatible is not None:
        env["TTY_COMPATIBLE"] = tty_compatible
    if force_color is not None:
        env["FORCE_COLOR"] = force_color
    with mock.patch.dict(os.environ, env, clear=True):
        stream = _Stream(isatty)
        assert terminal(stream) == Console(file=stream).is_terminal


def test_the_lazy_console_writes_plain_lines_itself_and_the_rest_through_rich(
    capsys: pytest.CaptureFixture[str],
) -> None:
    console = LazyConsole(stderr=True)
    console.print("3 members: 1 held out", markup=False)
    assert capsys.readouterr().err == "3 members: 1 held out\n"
    assert console._console is None
    console.print(":smile: [bold]x[/bold]")
    assert capsys.readouterr().err == "😄 x\n"
    assert console._console is not None
    console.print("after rich", markup=False)
    assert capsys.readouterr().err == "after rich\n"


def test_plain_lines_import_no_rich() -> None:
    code = (
        "import sys\n"
        "from connector.cli.output import err, is_terminal\n"
        "err.print('a line: 7 members', markup=False)\n"
        "is_terminal()\n"
        "assert 'rich' not in sys.modules, 'rich imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "a line: 7 members\n"
