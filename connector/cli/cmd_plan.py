"""``segsync plan``: what each segment becomes in each ESP, like ``terraform plan``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from connector.cli.app import app
from connector.cli.common import (
    AsOf,
    JsonFlag,
    SegmentNames,
    load_config,
    resolve_as_of,
    segment_names,
)
from connector.cli.context import state
from connector.cli.output import out
from connector.esp.registry import ESPS
from connector.pipeline import PlanDocument, SegmentPlan, build_plan
from connector.timespec import format_instant


def _native_lines(plan: SegmentPlan) -> list[str]:
    if plan.native is None:
        return []
    return ESPS[plan.esp].native_lines(plan.native["name"], plan.native["definition"])


def print_plan(document: PlanDocument) -> None:
    """The human-readable plan."""
    out.print(
        f"segsync plan as of {format_instant(document.as_of)} ({document.store})", markup=False
    )
    if not document.segments:
        out.print("no segment has destinations: nothing to plan", markup=False)
    for plan in document.segments:
        kind = plan.target["kind"]
        out.print("", markup=False)
        header = f"{plan.segment} -> {plan.destination} ({plan.esp}, mode {plan.mode})"
        out.print(f"[bold]{header}[/]" if out.is_terminal else header, markup=out.is_terminal)
        out.print(f"  target: {kind} {plan.target['name']}", markup=False)
        if plan.members is not None:
            out.print(f"  members to push: {plan.members}", markup=False)
        if plan.skipped:
            out.print(f"  SKIPPED: {plan.skipped}", markup=False)
        for line in _native_lines(plan):
            out.print(line, markup=False)
        for part in plan.parts:
            confirmed = (
                f"confirmed {part.confirmed}"
                if part.confirmed_from == "state"
                else "not in the state store"
            )
            lookups = f", +{part.adds_if_present} if present" if part.adds_if_present else ""
            out.print(
                f"  {plan.group_kind} {part.name}: {part.description}\n"
                f"      {part.contacts} contacts ({part.members} profiles); {confirmed}: "
                f"+{part.adds} to add{lookups}, -{part.removes} to remove",
                markup=False,
            )
        if plan.new_contacts:
            out.print(
                f"  contacts new to segsync: {plan.new_contacts} with consent (created if missing)",
                markup=False,
            )
        if plan.adds_if_present:
            out.print(
                f"  if present: {plan.adds_if_present} contacts segsync may not create and has "
                "not seen in the ESP (added only if it has them; skipped otherwise)",
                markup=False,
            )
        if plan.skipped_no_consent:
            out.print(
                f"  skipped: {plan.skipped_no_consent} contacts known missing from the ESP that "
                "segsync may not create (no consent, or new_contacts: never)",
                markup=False,
            )
        if any(part.confirmed_from != "state" for part in plan.parts):
            out.print(
                f"  note: the state store records no {plan.group_kind} for a part marked "
                "'not in the state store' (new, or the state store was lost); `segsync sync` "
                f"first reads a {plan.group_kind} of that name from the ESP if it has one and "
                "diffs against its members (`sync --dry-run` shows that diff)",
                markup=False,
            )
        if plan.fields:
            mapped = ", ".join(f"{k} -> {v}" for k, v in plan.fields.items())
            out.print(f"  fields pushed: {mapped}", markup=False)
    if document.traits or any(document.field_updates.values()):
        out.print("", markup=False)
    for destination, fields in sorted(document.traits.items()):
        out.print(f"traits -> {destination}: {', '.join(fields)}", markup=False)
    updates = ", ".join(f"{d}: {n}" for d, n in sorted(document.field_updates.items()) if n)
    if document.traits or updates:
        out.print(
            f"contacts with changed field values (traits, fields): {updates or 'none'}",
            markup=False,
        )


@app.command()
def plan(
    names: SegmentNames = None,
    as_of: AsOf = None,
    as_json: JsonFlag = False,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Save the plan as JSON (for `segsync apply`).")
    ] = None,
) -> None:
    """Show how each segment splits into native conditions and tags/lists, and its sizes."""
    defs = load_config()
    selected = segment_names(defs, names)
    document = build_plan(state.settings(), defs, as_of=resolve_as_of(as_of), names=selected)
    payload = document.to_json()
    if out_file is not None:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    if as_json:
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return
    print_plan(document)
    for guard in document.guards:
        out.print(
            f"GUARD: {guard} — `segsync sync` would stop (exit 3) unless --force", markup=False
        )
    if out_file is not None:
        out.print(f"\nsaved to {out_file}", markup=False)
