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
    if not offline:
        with open_source() as store:
            schema = store.discover()
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
    if as_json:
        payload = {
            "ok": True,
            "segments": [
                {"name": r[0], "type": r[1], "schedule": r[2], "destinations": r[3]}
                | ({"features": features[r[0]]} if r[0] in features else {})
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
    for note in fields.unchecked:
        out.print(f"trait fields not checked against the ESP: {note}", markup=False)
    checked = "YAML only" if offline else "against the customer store"
    out.print(
        f"ok: {len(defs.segments)} segments, {len(defs.metrics)} metrics, "
        f"{len(defs.destinations)} destinations valid ({checked})"
    )


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
