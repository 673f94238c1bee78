"""``segsync schema``: the JSON Schema of segment files, for editors."""

from __future__ import annotations

import json
import sys

from connector.cli.app import app
from connector.definitions.jsonschema import segment_json_schema


@app.command()
def schema() -> None:
    """Print the JSON Schema of a segment file (point your editor's YAML plugin at it)."""
    sys.stdout.write(json.dumps(segment_json_schema(), indent=2, sort_keys=False) + "\n")
