"""The ``segsync`` typer application and its global options."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from connector import __version__
from connector.cli.context import state
from connector.cli.logs import configure_cli_logging, flag_level, resolve_level

__all__ = ["app"]

app = typer.Typer(
    name="segsync",
    help="Keep customer micro-segments in sync with Mailchimp and Klaviyo.",
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
