"""``segsync load profiles|events FILE``: import a file into the customer store (DuckDB or
PostgreSQL)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from connector.cli.app import app
from connector.cli.common import JsonFlag, load_config
from connector.cli.context import state
from connector.cli.output import err, out, print_table
from connector.errors import ConfigError
from connector.evaluate.incremental import after_load
from connector.source import load_file
from connector.source.duckdb_loader import LoadReport, Target


def describe(report: LoadReport) -> str:
    """One line: what was (or, in a dry run, would be) done, with the rows before and after."""
    rows, table = report.rows, report.table
    if report.created:
        what = f"{rows:,} rows into {table} (new table)"
        line = f"would load {what}" if report.dry_run else f"loaded {what}"
    elif report.appended:
        verb = "would append" if report.dry_run else "appended"
        line = (
            f"{verb} {rows:,} rows to {table}: {report.rows_before:,} rows before, "
            f"{report.total_rows:,} after"
        )
    else:
        verb = "would replace" if report.dry_run else "replaced"
        line = f"{verb} {table}: {report.rows_before:,} rows before, {report.total_rows:,} after"
    line = f"{line} in {report.store}"
    return f"dry run, nothing written: {line}" if report.dry_run else line


def print_report(report: LoadReport) -> None:
    """What was loaded: rows before and after, and the table's columns with their types."""
    for warning in report.warnings:
        err.print(f"warning: {warning}", markup=False)
    out.print(describe(report), markup=False)
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
        typer.Option("--append", help="Add the rows to the table."),
    ] = False,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace", help="Replace the table even if it holds rows (they are dropped)."
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Check everything and show the counts; write nothing."),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Import CSV, Parquet or JSONL into the store at SEGSYNC_SOURCE_URL (DuckDB or PostgreSQL).

    Creates the table, or adds to it with --append; a table that already holds rows is
    replaced only with --replace. The file is checked first (required columns, timestamps,
    unique ids); on any problem nothing is written.
    """
    target = _target(table)
    settings = state.settings()
    report = load_file(
        settings.source_url,
        settings.store,
        target,
        file,
        append=append,
        replace=replace,
        dry_run=dry_run,
    )
    note = _rollups(target, report)
    if as_json:
        sys.stdout.write(json.dumps(asdict(report), indent=2) + "\n")
        return
    print_report(report)
    if note:
        out.print(note, markup=False)


def _rollups(target: Target, report: LoadReport) -> str | None:
    """Rollup upkeep after events were written (see ``connector.evaluate.incremental``)."""
    if target is not Target.EVENTS or report.dry_run:
        return None
    settings = state.settings()
    try:
        defs = load_config()
    except ConfigError:
        defs = None
    note = after_load(settings.source_url, settings.store, appended=report.appended, defs=defs)
    if defs is None or note is None:
        return note
    from connector.reconcile.snapshot_upkeep import keep_snapshot  # noqa: PLC0415 (heavy)

    try:
        kept = keep_snapshot(settings, defs)
    except ConfigError:  # a split the store cannot serve: validate and sync say why
        kept = None
    return note if kept is None else f"{note}; {kept}"
