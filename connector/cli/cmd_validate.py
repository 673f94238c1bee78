"""``segsync validate``: check config against the language and the store's schema."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from connector.cli.app import app
from connector.cli.common import JsonFlag, load_config, open_source
from connector.cli.context import state
from connector.cli.esp_fields import FieldCheck, check_trait_fields
from connector.cli.output import out, print_table
from connector.definitions.checks import raise_for_schema
from connector.definitions.loader import Definitions
from connector.errors import ConfigError
from connector.esp.registry import capabilities_for
from connector.evaluate.engine import has_esp_conditions
from connector.evaluate.incremental import segment_features
from connector.evaluate.snapshot import full_reason, trait_reason
from connector.plan.split import plan_splits
from connector.source.schema import StoreSchema


@app.command()
def validate(
    offline: Annotated[
        bool,
        typer.Option(
            "--offline", help="Check the YAML only, without the customer store (e.g. in CI)."
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Check every segment, metric and destination; exit 1 with located errors if any."""
    defs = load_config()
    schema = None
    snapshots = False  # the store keeps rollups and verdict snapshots (DuckDB)
    if not offline:
        with open_source() as store:
            schema = store.discover()
            snapshots = store.incremental
        raise_for_schema(defs, schema)
    plan_splits(
        defs, schema=schema, capabilities=capabilities_for
    )  # every (segment, destination) must have a split
    # trait values against the ESP's own field types (Mailchimp merge fields), read as
    # `doctor` reads them; not offline (no store, maybe no key)
    fields = FieldCheck() if offline else check_trait_fields(defs, state.settings(), schema)
    if fields.issues:
        raise ConfigError(fields.issues)
    rows = [
        (
            name,
            seg.type,
            str(seg.schedule or "default"),
            ", ".join(f"{d.to}({d.mode})" for d in seg.destinations) or "-",
            "esp-only parts" if has_esp_conditions(seg.rule) else "local",
        )
        for name, seg in defs.segments.items()
    ]
    features = _features(defs, schema)
    full = _full_reasons(defs, schema) if snapshots and schema is not None else {}
    if as_json:
        payload = {
            "ok": True,
            "segments": [
                _segment_json(r)
                | ({"features": features[r[0]]} if r[0] in features else {})
                | (
                    {"snapshot": r[0] not in full, "full_reason": full.get(r[0])}
                    if snapshots and r[4] == "local"
                    else {}
                )
                for r in rows
            ],
            "metrics": sorted(defs.metrics),
            "destinations": sorted(defs.destinations),
            "store_checked": not offline,
            "esp_fields_unchecked": fields.unchecked,
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return
    print_table(["segment", "type", "schedule", "destinations", "evaluation"], rows)
    if any(features.values()):
        out.print(
            "features read from events ([rollup]: kept incrementally in the store):",
            markup=False,
        )
        for name, lines in features.items():
            for line in lines:
                out.print(f"  {name}: {line}", markup=False)
    if snapshots and any(row[4] == "local" for row in rows):
        _print_snapshot(full)
    for note in fields.unchecked:
        out.print(f"trait fields not checked against the ESP: {note}", markup=False)
    checked = "YAML only" if offline else "against the customer store"
    out.print(
        f"ok: {len(defs.segments)} segments, {len(defs.metrics)} metrics, "
        f"{len(defs.destinations)} destinations valid ({checked})"
    )


def _segment_json(row: tuple[str, str, str, str, str]) -> dict[str, object]:
    return {"name": row[0], "type": row[1], "schedule": row[2], "destinations": row[3]}


def _print_snapshot(full: dict[str, str]) -> None:
    """Which segments' runs can use the verdict snapshot (later runs evaluate only the
    profiles whose results can change) and why the others evaluate every profile."""
    head = "verdict snapshot (later runs evaluate only the profiles that can change):"
    if not full:
        out.print(f"{head} every local segment", markup=False)
        return
    out.print(f"{head} runs with these segments evaluate every profile", markup=False)
    for name, reason in full.items():
        out.print(f"  {name}: {reason}", markup=False)


def _full_reasons(defs: Definitions, schema: StoreSchema) -> dict[str, str]:
    """Per local segment whose rule (or a trait its destinations map, for sync and plan
    runs) keeps its runs from the verdict snapshot, why."""
    found = {}
    for name, seg in defs.segments.items():
        if has_esp_conditions(seg.rule):
            continue
        reason = full_reason(defs, schema, seg.rule)
        for destination in seg.destinations:  # sync and plan runs compute their traits
            for esp_field, trait in defs.destinations[destination.to].traits.items():
                why = trait_reason(defs, trait)
                if reason is None and why is not None:
                    reason = f"{why} mapped to {destination.to}.{esp_field} (sync and plan runs)"
        if reason is not None:
            found[name] = reason
    return found


def _features(defs: Definitions, schema: StoreSchema | None) -> dict[str, list[str]]:
    """Per locally evaluated segment, the event features its rule reads (with the store)."""
    if schema is None:
        return {}
    now = datetime.now(UTC).replace(tzinfo=None)
    return {
        name: segment_features(defs, schema, name, now)
        for name, seg in defs.segments.items()
        if not has_esp_conditions(seg.rule)
    }
