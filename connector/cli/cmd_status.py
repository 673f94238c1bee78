"""``segsync status``: the last runs, quarantined members and owned ESP objects."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from connector.cli.app import app
from connector.cli.common import JsonFlag
from connector.cli.context import state
from connector.cli.output import out, print_table
from connector.reconcile.state import StateStore
from connector.reconcile.state_url import state_url_of


def _totals(summary: dict[str, Any] | None) -> tuple[int, int, int]:
    parts = (summary or {}).get("parts", [])
    return (
        sum(p.get("adds", 0) for p in parts),
        sum(p.get("removes", 0) for p in parts),
        sum(p.get("quarantined", 0) for p in parts),
    )


@app.command()
def status(
    limit: Annotated[int, typer.Option("--limit", help="How many runs to show.")] = 10,
    as_json: JsonFlag = False,
) -> None:
    """Show recent sync runs, quarantined members and the ESP objects segsync owns.

    A run shown ``running`` holds the state store's lock now; one that was killed (SIGKILL,
    a lost machine) shows ``interrupted``."""
    location = state_url_of(state.settings())
    if location.path is not None and not location.path.exists():
        out.print(f"no runs yet (no state store at {location.display()})", markup=False)
        return
    store = StateStore(location)
    try:
        store.settle_interrupted()
        runs = store.runs(limit)
        quarantine = store.quarantined()
        objects = store.objects()
    finally:
        store.close()
    if as_json:
        payload = {
            "runs": [
                {k: v for k, v in run.__dict__.items() if k != "summary"}
                | {
                    "adds": _totals(run.summary)[0],
                    "removes": _totals(run.summary)[1],
                    "quarantined": _totals(run.summary)[2],
                }
                for run in runs
            ],
            "quarantined": [q.__dict__ for q in quarantine],
            "objects": [o.__dict__ for o in objects],
        }
        sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
        return
    print_table(
        ["run", "started", "trigger", "status", "exit", "added", "removed", "quarantined"],
        [
            (r.run_id, r.started_at, r.trigger, r.status, r.exit_code, *_totals(r.summary))
            for r in runs
        ],
        title="Recent runs",
    )
    if quarantine:
        print_table(
            ["destination", "tag/list", "email", "operation", "attempts", "reason"],
            [
                (q.destination, q.part, q.email, q.operation, q.attempts, q.reason)
                for q in quarantine
            ],
            title="Quarantined members",
        )
    print_table(
        ["destination", "kind", "name", "ESP id", "segment"],
        [(o.destination, o.kind, o.name, o.esp_id, o.segment) for o in objects],
        title="Objects owned in the ESPs",
    )
