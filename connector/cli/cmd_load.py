"""``segsync load profiles|events FILE``: import a file into the DuckDB customer store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from connector.cli.app import app
from connector.cli.context import state
from connector.cli.output import err, out, print_table
from connector.errors import ConfigError
from connector.source.loader import LoadReport, Target, load_file


def print_report(report: LoadReport) -> None:
    """What was loaded: rows, the table's size, and its columns with their types."""
    for warning in report.warnings:
        err.print(f"warning: {warning}", markup=False)
    if report.appended:
        what = f"appended {report.rows:,} rows to {report.table} (now {report.total_rows:,} rows)"
    else:
        how = "new table" if report.created else "table replaced"
        what = f"loaded {report.rows:,} rows into {report.table} ({how})"
    out.print(f"{what} in {report.store}", markup=False)
    print_table(["column", "type"], report.columns, title=f"{report.table} columns")


def _target(table: str) -> Target:
    # checked here rather than by typer, so a wrong name is one "error:" line and exit 1
    try:
        return Target(table.strip().lower())
    except ValueError:
        raise ConfigError(
            f"cannot load into '{table}': use `segsync load profiles FILE` or "
            "`segsync load events FILE`"
        ) from None


@app.command()
def load(
    table: Annotated[
        str,
        typer.Argument(
            help="Which table to load: profiles or events.",
            show_default=False,
            metavar="profiles|events",
        ),
    ],
    file: Annotated[
        Path,
        typer.Argument(
            help="A CSV (.csv, .csv.gz), Parquet (.parquet) or JSON lines (.jsonl, .ndjson) "
            "file with a header / field names.",
            show_default=False,
        ),
    ],
    append: Annotated[
        bool,
        typer.Option("--append", help="Insert the rows into the table instead of replacing it."),
    ] = False,
) -> None:
    """Import CSV, Parquet or JSONL into the DuckDB store at SEGSYNC_SOURCE_URL.

    The file is checked first (required columns, timestamps, unique ids); on any problem
    nothing is written.
    """
    target = _target(table)
    settings = state.settings()
    report = load_file(settings.source_url, settings.store, target, file, append=append)
    print_report(report)
