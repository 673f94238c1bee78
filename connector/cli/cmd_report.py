"""``segsync report``: each segment's members against its held-out group (docs/design.md)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from connector.cli.app import app
from connector.cli.common import JsonFlag, load_config, open_source, resolve_as_of, segment_names
from connector.cli.context import state
from connector.cli.output import err, out, print_table
from connector.definitions.kpis import Kpis
from connector.definitions.loader import Definitions
from connector.definitions.walk import has_esp_conditions
from connector.errors import ConfigError, Issue, Location
from connector.measure.build import build_report, default_as_of
from connector.measure.cohort import Cohort
from connector.measure.render import TABLE_COLUMNS, csv_text, html_page, notes, table_rows
from connector.measure.report import Report, report_json
from connector.reconcile.idsets import decode_ids
from connector.reconcile.state import StateStore
from connector.reconcile.state_url import state_url_of
from connector.timespec import format_instant, parse_duration, parse_instant


def _kpis(defs: Definitions, window: str | None) -> Kpis:
    if window is None:
        return defs.kpis
    try:
        return defs.kpis.model_copy(update={"window": parse_duration(window)})
    except ValueError as exc:
        raise ConfigError(str(exc), file="--window") from None


def _open_state() -> StateStore | None:
    location = state_url_of(state.settings())
    if location.path is not None and not location.path.exists():
        return None
    return StateStore(location)


def _run_cohorts(
    run_id: str, names: list[str], explicit: bool
) -> tuple[datetime, dict[str, Cohort]]:
    store = _open_state()
    if store is None:
        raise ConfigError(f"no sync run '{run_id}': no state store yet", file="--run")
    try:
        recorded = store.cohort_segments(run_id)
        if not recorded:
            raise ConfigError(
                f"sync run '{run_id}' recorded no cohorts (unknown id, a dry run, or a run "
                "stopped by a guard; `segsync status` lists runs)",
                file="--run",
            )
        missing = [n for n in names if n not in recorded]
        if explicit and missing:
            raise ConfigError(
                [
                    Issue(Location("--run"), f"run '{run_id}' did not sync segment '{n}'")
                    for n in missing
                ]
            )
        cohorts: dict[str, Cohort] = {}
        as_of: datetime | None = None
        for name in recorded:
            if name not in names:
                continue
            record = store.cohort(run_id, name)
            assert record is not None and record.members is not None
            as_of = parse_instant(record.as_of)
            cohorts[name] = Cohort(
                name, decode_ids(record.members), decode_ids(record.held_out_ids or b"")
            )
    finally:
        store.close()
    if as_of is None:
        raise ConfigError(f"run '{run_id}' synced none of the segments asked for", file="--run")
    return as_of, cohorts


def _history(names: list[str]) -> list[tuple[str, list[tuple[datetime, int]]]]:
    store = _open_state()
    if store is None:
        return []
    try:
        return [
            (n, [(parse_instant(r.as_of), r.size) for r in store.cohort_history(n)]) for n in names
        ]
    finally:
        store.close()


def _print(report: Report) -> None:
    title = (
        f"Members vs held out: cohort at {format_instant(report.as_of)}"
        + (f" (sync run {report.run_id})" if report.run_id else "")
        + f", outcomes in the {report.window} after it"
    )
    print_table(TABLE_COLUMNS, table_rows(report), title=title)
    for line in notes(report):
        err.print(line, markup=False)
    if report.segments:
        out.print(
            "lift = members − held out; [95% interval]; p < 0.05 is significant. "
            "MDE: the smallest conversion-rate lift this split detects 80% of the time.",
            markup=False,
        )


@app.command()
def report(
    segments: Annotated[
        list[str] | None, typer.Argument(help="Segments to measure (default: all).")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Cohort instant (ISO date or timestamp, UTC). Default: the data's last event "
            "minus the window (the newest cohort whose window the data covers).",
            show_default=False,
        ),
    ] = None,
    window: Annotated[
        str | None,
        typer.Option(
            "--window", help="Outcome window, e.g. 14d (default: kpis.window).", show_default=False
        ),
    ] = None,
    run: Annotated[
        str | None,
        typer.Option(
            "--run", help="Measure the cohort a past sync run recorded.", show_default=False
        ),
    ] = None,
    as_json: JsonFlag = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            help="Write a self-contained HTML page (forest plots, history).",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
) -> None:
    """Measure each segment's members against its held-out control group: conversion,
    repeat rate, revenue per profile and AOV, with lifts, 95 % intervals, p-values and MDE."""
    if sum([as_json, as_csv, html is not None]) > 1:
        raise ConfigError("choose one of --json, --csv and --html", file="report")
    if run is not None and as_of is not None:
        raise ConfigError(
            "--run measures that run's cohort at its own instant; drop --as-of", file="--as-of"
        )
    defs = load_config()
    kpis = _kpis(defs, window)
    wanted = segment_names(defs, segments)
    skipped = {
        n: "esp conditions: only the ESP knows who is in it"
        for n in wanted
        if has_esp_conditions(defs.segments[n].rule)
    }
    local = [n for n in wanted if n not in skipped]
    cohorts: dict[str, Cohort] | None = None
    moment = resolve_as_of(as_of) if as_of is not None else None
    if run is not None:
        moment, cohorts = _run_cohorts(run, local, explicit=bool(segments))
        local = [n for n in local if n in cohorts]
    with open_source() as store:
        if moment is None:
            moment = default_as_of(store, kpis)
        result = build_report(
            store,
            defs,
            local,
            kpis=kpis,
            as_of=moment,
            cohorts=cohorts,
            run_id=run,
            skipped=skipped,
        )
    if as_json:
        sys.stdout.write(json.dumps(report_json(result), indent=2) + "\n")
    elif as_csv:
        sys.stdout.write(csv_text(result))
    elif html is not None:
        html.parent.mkdir(parents=True, exist_ok=True)
        html.write_text(html_page(result, _history(local)), encoding="utf-8")
        err.print(f"wrote {html}", markup=False)
    else:
        _print(result)
