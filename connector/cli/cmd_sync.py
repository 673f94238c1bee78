"""``segsync sync``: reconcile segment membership into the ESPs."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from connector.cli.app import app
from connector.cli.common import (
    AsOf,
    JsonFlag,
    SegmentNames,
    WaitFlag,
    load_config,
    resolve_as_of,
    segment_names,
)
from connector.cli.context import state
from connector.cli.output import err, out, print_table
from connector.cli.progress import TerminalProgress
from connector.cli.signals import stop_on_signals
from connector.reconcile.addresses import Rejects
from connector.reconcile.runner import SyncOptions, run_sync
from connector.reconcile.summary import RunSummary

_VERDICT = {
    "ok": "done",
    "quarantined": "done, with quarantined members (exit 4)",
    "guard": "STOPPED by a guard before writing anything (exit 3; --force overrides)",
    "failed": "FAILED (exit 2): confirmed batches are kept, and the next run sends only what "
    "the ESP has not confirmed",
    "dry_run": "dry run: nothing was written",
    "stopped": "stopped on request: confirmed batches are kept",
}


def print_summary(summary: RunSummary) -> None:
    rows = [
        (p.segment, p.destination, p.part, p.desired,
         f"+{p.adds}" + (f" (+{p.adds_if_present} if present)" if p.adds_if_present else ""),
         f"-{p.removes}", p.skipped_no_consent, p.quarantined + p.held_back)
        for p in summary.parts
    ]  # fmt: skip
    if rows:
        planned = summary.status in ("dry_run", "guard")
        print_table(
            ["segment", "destination", "tag/list", "desired", "add", "remove",
             "no consent", "quarantined"],
            rows,
            title=f"run {summary.run_id} as of {summary.as_of}"
            + (": changes it would make (nothing written)" if planned else ""),
        )  # fmt: skip
    if any(p.adds_if_present for p in summary.parts):
        out.print(
            "if present: members segsync may not create and has not seen in the ESP; the sync "
            "adds those the ESP has and counts the others under 'no consent'",
            markup=False,
        )
    adopted = sorted({p.part for p in summary.parts if p.confirmed_from == "esp"})
    if adopted:
        out.print(
            "diffed against the members read from the ESP (the state store had no record of "
            f"them, or --full-resync): {', '.join(adopted)}",
            markup=False,
        )
    rejected = Rejects(**summary.rejected).describe() if summary.rejected else ""
    if rejected:
        out.print(rejected, markup=False)
    for segment, why in sorted(summary.skipped_segments.items()):
        out.print(f"skipped {segment}: {why}", markup=False)
    updates = ", ".join(f"{d}: {n}" for d, n in sorted(summary.field_updates.items()) if n)
    if updates:
        out.print(f"contacts with changed field values (traits, fields): {updates}", markup=False)
    for guard in summary.guards:
        err.print(f"guard: {guard}", markup=False)
    for error in summary.errors:
        err.print(f"error: {error}", markup=False)
    calls = ", ".join(f"{d}: {c['total']}" for d, c in summary.api_calls.items()) or "none"
    out.print(
        f"{_VERDICT.get(summary.status, summary.status)}. Run time {summary.duration_seconds:.1f}s;"
        f" API calls {calls}",
        markup=False,
    )


@app.command()
def sync(
    names: SegmentNames = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Compute changes, write nothing.")
    ] = False,
    full_resync: Annotated[
        bool,
        typer.Option("--full-resync", help="Read actual ESP membership first and repair drift."),
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Proceed even if a guard trips.")] = False,
    as_of: AsOf = None,
    wait: WaitFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Sync segment membership into the ESPs (exit 0 ok, 2 ESP failure, 3 guard,
    4 quarantined members, 5 another run holds the state store's lock)."""
    defs = load_config()
    selected = segment_names(defs, names)
    options = SyncOptions(
        names=selected,
        as_of=resolve_as_of(as_of),
        dry_run=dry_run,
        full_resync=full_resync,
        force=force,
        trigger="cli",
        wait=wait,
    )
    with TerminalProgress() as progress, stop_on_signals() as stop:
        summary = run_sync(state.settings(), defs, options=options, progress=progress, stop=stop)
    if as_json:
        sys.stdout.write(json.dumps(summary.to_json(), indent=2) + "\n")
    else:
        print_summary(summary)
    raise typer.Exit(summary.exit_code)
