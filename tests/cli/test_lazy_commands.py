"""Commands load on demand: ``segsync --help`` imports no command module and none of the
heavy libraries (not even pydantic, nor click: typer has its own copy), ``preview`` imports
what evaluating needs (DuckDB, numpy, sqlglot) and nothing for statistics, the ESPs or
settings it is not given, nor the planner, the ESP adapters' types or the warehouse URL
parsers; the table's summaries are the commands' own."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer._click.exceptions import ClickException as TyperClickException

from connector.cli import _or_clicks
from connector.cli.app import LazyGroup, _summary, app
from connector.cli.commands import COMMANDS
from tests.cli.conftest import CliRunner
from tests.cli.test_evaluation_cmds import AS_OF, workspace  # noqa: F401  (fixture)

#: statistics (report, audit), the ESP SDKs and their HTTP stack, PostgreSQL, the address
#: library (plain addresses, as the workspace's, are checked without it); of segsync's own
#: modules the split planner and the ESPs' capabilities, native segments and adapter types
#: (the registry gives the destination models only), the BigQuery/Snowflake URL parser;
#: rich's tables (output to a file or pipe is plain lines); click (typer has its own copy)
NEVER_FOR_PREVIEW = {
    "pandas", "scipy", "statsmodels", "pyarrow", "psycopg", "httpx", "requests",
    "klaviyo_api", "mailchimp_marketing", "email_validator",
    "connector.plan", "connector.esp.base", "connector.esp.emulated",
    "connector.esp.mailchimp.capabilities", "connector.esp.mailchimp.native",
    "connector.esp.mailchimp.display", "connector.esp.klaviyo.capabilities",
    "connector.esp.klaviyo.native", "connector.esp.klaviyo.display",
    "connector.source.warehouse_url", "rich.table", "click",
}  # fmt: skip
#: ... and for a command's ``--help`` also what evaluating needs, and the settings' reader
NEVER_FOR_COMMAND_HELP = NEVER_FOR_PREVIEW | {
    "numpy", "duckdb", "sqlglot", "pydantic_settings", "asyncio",
}  # fmt: skip
#: ... and for ``segsync --help`` also pydantic (the settings' and definitions' models)
NEVER_FOR_HELP = NEVER_FOR_COMMAND_HELP | {"pydantic", "pydantic_core"}

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
from connector.cli import main
sys.argv = ["segsync", *json.loads(sys.argv[1])]
try:
    main()
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def probe(args: list[str]) -> tuple[int, set[str]]:
    """Run the CLI in a fresh interpreter; its exit code and the modules it imported (every
    module's full name, so a package's name is there when any of its modules is)."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},  # this tree's segsync, from any directory
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["code"], set(report["modules"])


def test_help_imports_no_command_and_nothing_heavy() -> None:
    code, modules = probe(["--help"])
    assert code == 0
    assert not {m for m in modules if m.startswith("connector.cli.cmd_")}
    assert not modules & NEVER_FOR_HELP


@pytest.mark.usefixtures("workspace")
def test_preview_imports_only_what_evaluating_needs() -> None:
    code, modules = probe(["preview", "buyers", "--as-of", AS_OF, "-o", "/dev/null"])
    assert code == 0
    assert {"duckdb", "numpy", "sqlglot"} <= modules
    assert {m for m in modules if m.startswith("connector.cli.cmd_")} == {
        "connector.cli.cmd_preview"
    }
    assert not modules & NEVER_FOR_PREVIEW


def test_every_command_is_in_the_table_with_its_own_summary() -> None:
    for entry in COMMANDS.values():
        importlib.import_module(entry.module)
    registered = {info.callback.__name__ for info in app.registered_commands if info.callback}
    assert len(app.registered_commands) == len(COMMANDS), registered
    group = LazyGroup(name="segsync")
    ctx = group.make_context("segsync", ["--help"], resilient_parsing=True)
    for name in COMMANDS:
        command = group.get_command(ctx, name)
        assert command is not None and command.name == name
        for limit in (30, 60, 200):
            assert _summary(name).get_short_help_str(limit) == command.get_short_help_str(limit)


def test_help_lists_every_command(run_cli: CliRunner) -> None:
    code, out, _ = run_cli(["--help"])
    assert code == 0
    listed = [line.split()[0] for line in out.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == list(COMMANDS)


def test_run_help_loads_no_daemon() -> None:
    code, modules = probe(["run", "--help"])
    assert code == 0
    assert not modules & (NEVER_FOR_COMMAND_HELP | {"starlette", "uvicorn", "prometheus_client"})


def test_a_command_help_loads_that_command(tmp_path: Path) -> None:
    code, modules = probe(["schema", "--help"])
    assert code == 0
    assert {m for m in modules if m.startswith("connector.cli.cmd_")} == {
        "connector.cli.cmd_schema"
    }


def test_click_exceptions_are_caught_once_click_is_loaded() -> None:
    """typer raises its own copies of click's exceptions; click's own are caught too where a
    library has loaded click (and only then looked up)."""
    import click  # noqa: PLC0415  (loaded here, as a library that uses click would)

    assert _or_clicks(typer.Exit, "Exit") == (typer.Exit, click.exceptions.Exit)
    assert _or_clicks(typer.Abort, "Abort") == (typer.Abort, click.exceptions.Abort)
    assert click.ClickException in _or_clicks(TyperClickException, "ClickException")
