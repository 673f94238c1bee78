"""Run the real CLI in-process: ``run_cli(["preview", "x"]) -> (exit_code, stdout, stderr)``."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from connector.cli import main

CliRunner = Callable[[list[str]], tuple[int, str, str]]


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> CliRunner:
    def run(args: list[str]) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            main(args)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        else:  # pragma: no cover - main always exits
            code = 0
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
