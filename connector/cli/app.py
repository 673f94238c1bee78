"""The ``segsync`` typer application and its global options."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from connector import __version__
from connector.cli.context import state

__all__ = ["app"]

app = typer.Typer(
    name="segsync",
    help="Keep customer micro-segments in sync with Mailchimp and Klaviyo.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"segsync {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Config directory (segments/, metrics.yaml, destinations.yaml). "
            "Default: $SEGSYNC_CONFIG_DIR or ./config",
            file_okay=False,
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    state.reset()
    state.config_dir = config
