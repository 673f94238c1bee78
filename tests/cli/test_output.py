"""What commands print: quoted names and messages come out as they are."""

from __future__ import annotations

import pytest

from connector.cli.output import Output, err, out


def test_emoji_codes_in_printed_text_stay_text(capsys: pytest.CaptureFixture[str]) -> None:
    """Messages quote segment names, values and the ESPs' replies: ``:fire:`` in one is
    text, not an emoji (``markup=False`` alone does not stop rich replacing it)."""
    err.print("error: unknown segment ':fire:' — did you mean ':cat:'?", markup=False)
    out.print("value :thumbs_up:", markup=False)
    captured = capsys.readouterr()
    assert captured.err == "error: unknown segment ':fire:' — did you mean ':cat:'?\n"
    assert captured.out == "value :thumbs_up:\n"


LINES = [
    "abandoned-cart-24h as of 2026-11-23T00:00:00Z: 289 members, 0 held out",
    "not pushed: 5 invalid email; e.g. profile c003525: invalid email: It should have a period.",
    "x" * 300,  # longer than any console width: rich wraps none of it (soft_wrap)
    "[bold]not markup[/bold] :fire: ☃ 名前 e\u0301 ✓ — “quoted”",
    "trailing space ",
    "",
]


@pytest.mark.parametrize("line", LINES)
@pytest.mark.parametrize("stream", ["out", "err"])
def test_a_plain_line_is_written_as_rich_writes_it(
    line: str, stream: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The plain lines written without rich (to a stream that is no terminal) are what
    rich's console writes for them."""
    output = out if stream == "out" else err
    output.print(line, markup=False)
    direct = getattr(capsys.readouterr(), stream)
    output.console.print(line, markup=False)
    assert direct == getattr(capsys.readouterr(), stream) == line + "\n"


@pytest.mark.parametrize("line", ["tab\there", "bell\x07", "cr\rlf", "two\nlines", "nul\x00"])
def test_lines_rich_would_change_go_through_rich(
    line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err.print(line, markup=False)
    through = capsys.readouterr().err
    err.console.print(line, markup=False)
    assert through == capsys.readouterr().err


@pytest.mark.parametrize(
    ("environ", "terminal"),
    [({}, False), ({"FORCE_COLOR": "1"}, True), ({"FORCE_COLOR": ""}, False),
     ({"TTY_COMPATIBLE": "1"}, True), ({"TTY_COMPATIBLE": "0", "FORCE_COLOR": "1"}, False)],
)  # fmt: skip
def test_is_terminal_is_riches_answer(
    environ: dict[str, str], terminal: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    output = Output(stderr=True)
    assert output.is_terminal is terminal
    assert output.console.is_terminal is terminal
