"""What commands print: quoted names and messages come out as they are."""

from __future__ import annotations

import pytest

from connector.cli.output import err, out


def test_emoji_codes_in_printed_text_stay_text(capsys: pytest.CaptureFixture[str]) -> None:
    """Messages quote segment names, values and the ESPs' replies: ``:fire:`` in one is
    text, not an emoji (``markup=False`` alone does not stop rich replacing it)."""
    err.print("error: unknown segment ':fire:' — did you mean ':cat:'?", markup=False)
    out.print("value :thumbs_up:", markup=False)
    captured = capsys.readouterr()
    assert captured.err == "error: unknown segment ':fire:' — did you mean ':cat:'?\n"
    assert captured.out == "value :thumbs_up:\n"
