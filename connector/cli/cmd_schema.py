"""``segsync schema [--kind segment|metrics|destinations]``: JSON Schemas for editors."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from connector.cli.app import app
from connector.definitions.jsonschema import SCHEMA_KINDS, SchemaKind, json_schema
from connector.errors import ConfigError
from connector.esp.registry import destination_models


def _kind(text: str) -> SchemaKind:
    for kind in SCHEMA_KINDS:
        if text.strip().lower() == kind:
            return kind
    raise ConfigError(f"--kind must be one of {', '.join(SCHEMA_KINDS)}, got '{text}'")


@app.command()
def schema(
    kind: Annotated[
        str,
        typer.Option(
            "--kind",
            help="Which file: segment (config/segments/*.yaml), metrics (metrics.yaml) or "
            "destinations (destinations.yaml).",
            metavar="segment|metrics|destinations",
        ),
    ] = "segment",
) -> None:
    """Print the JSON Schema of a config file (point your editor's YAML plugin at it)."""
    sys.stdout.write(
        json.dumps(json_schema(_kind(kind), destination_models()), indent=2, sort_keys=False) + "\n"
    )
