"""The ``segsync`` typer application and its global options."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Annotated

import typer
from typer import _click
from typer.core import TyperCommand, TyperGroup
from typer.main import get_command_from_info, get_command_name

from connector import __version__
from connector.cli import collector
from connector.cli.commands import COMMANDS
from connector.cli.context import state
from connector.cli.logs import configure_cli_logging, flag_level, resolve_level

__all__ = ["LazyGroup", "app"]


class LazyGroup(TyperGroup):
    """The command group: lists the commands of ``COMMANDS`` and imports a command's
    module only when that command is looked up to run (or for its own ``--help``);
    ``segsync --help`` shows the table's summaries without importing any."""

    def list_commands(self, ctx: _click.Context) -> list[str]:
        return [*COMMANDS, *(name for name in self.commands if name not in COMMANDS)]

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            with collector.loading():
                importlib.import_module(COMMANDS[cmd_name].module)
            for info in app.registered_commands:
                if cmd_name == (info.name or get_command_name(info.callback.__name__)):  # type: ignore[union-attr]
                    self.commands[cmd_name] = get_command_from_info(
                        info,
                        pretty_exceptions_short=app.pretty_exceptions_short,
                        rich_markup_mode=app.rich_markup_mode,
                    )
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        rows = [
            (name, self.commands[name] if name in self.commands else _summary(name))
            for name in self.list_commands(ctx)
        ]
        shown = [(name, cmd) for name, cmd in rows if not cmd.hidden]
        if shown:
            limit = formatter.width - 6 - max(len(name) for name, _ in shown)
            with formatter.section("Commands"):
                formatter.write_dl([(name, cmd.get_short_help_str(limit)) for name, cmd in shown])


def _summary(name: str) -> _click.Command:
    """A stand-in with the table's summary, for ``--help`` (never run)."""
    return TyperCommand(name=name, help=COMMANDS[name].summary)


app = typer.Typer(
    name="segsync",
    cls=LazyGroup,
    help="Keep customer micro-segments in sync with email service providers (ESPs).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"segsync {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Config directory (segments/, metrics.yaml, destinations.yaml). "
            "Default: $SEGSYNC_CONFIG_DIR or ./config",
            file_okay=False,
        ),
    ] = None,
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose",
            "-v",
            count=True,
            show_default=False,
            help="More log lines on stderr: -v info, -vv debug (default: $SEGSYNC_LOG_LEVEL "
            "or warning).",
        ),
    ] = 0,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Only errors in the log lines on stderr.")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    state.reset()
    state.config_dir = config
    state.log_flag = flag_level(verbose, quiet)
    if ctx.invoked_subcommand != "run":  # the daemon logs JSON lines its own way
        configure_cli_logging(resolve_level(state.log_flag, os.environ, "warning"))
