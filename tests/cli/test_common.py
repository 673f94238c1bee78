"""Helpers shared by the commands: how a "next:" hint names segsync."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from connector.cli.common import segsync_command


def test_a_venv_script_off_path_is_named_by_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / ".venv" / "bin" / "segsync"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert segsync_command(str(script)) == ".venv/bin/segsync"
    monkeypatch.setenv("PATH", f"{script.parent}:/usr/bin")
    assert segsync_command(str(script)) == "segsync"  # activated venv: the bare name works
    monkeypatch.chdir("/")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert segsync_command(str(script)) == str(script)


def test_python_dash_m_is_named_as_such(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir("/")
    assert (
        segsync_command("/x/connector/__main__.py")
        == f"{Path(sys.executable).absolute()} -m connector"
    )
