"""JSON Schemas of the config files (``segsync schema --kind …``), for YAML-aware editors.

``write_schemas`` puts them next to the config (``config/schemas/<kind>.schema.json``), and
the example files ``segsync demo`` and ``segsync init`` write start with a modeline
(``# yaml-language-server: $schema=…``) pointing at them, so VS Code's YAML extension and
other yaml-language-server editors complete and check fields with no setup.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, assert_never

from pydantic import TypeAdapter

from connector.definitions.destinations import DestinationModels
from connector.definitions.kpis import KPIS_KEY, Kpis
from connector.definitions.metrics import Metric
from connector.definitions.segment import NAME_PATTERN, Segment

__all__ = [
    "SCHEMA_KINDS",
    "SchemaKind",
    "destinations_json_schema",
    "json_schema",
    "metrics_json_schema",
    "modeline",
    "schema_file",
    "segment_json_schema",
    "write_schemas",
]

SchemaKind = Literal["segment", "metrics", "destinations"]
SCHEMA_KINDS: tuple[SchemaKind, ...] = ("segment", "metrics", "destinations")
_DIALECT = "https://json-schema.org/draft/2020-12/schema"
#: names of metrics and destinations: like segment names, underscores allowed
_KEY_PATTERN = NAME_PATTERN.replace("a-z0-9-", "a-z0-9_-")


#: durations and schedules are written as text in the files (pydantic only sees the parsed
#: dataclasses, so their generated definitions describe objects no file contains)
_TEXT_DEFS: dict[str, dict[str, Any]] = {
    "Duration": {
        "type": "string",
        "pattern": r"^\s*\d+\s*[mhdw]\s*$",
        "description": "A whole number and m, h, d or w: 15m, 24h, 30d, 2w.",
    },
    "Schedule": {
        "type": "string",
        "minLength": 1,
        "description": "An interval (15m, 1h, 1d) or a five-field cron line (0 6 * * *).",
    },
}


def _text_types(schema: dict[str, Any]) -> dict[str, Any]:
    defs = schema.get("$defs", {})
    for name, replacement in _TEXT_DEFS.items():
        if name in defs:
            defs[name] = replacement
    return schema


def segment_json_schema(destinations: DestinationModels) -> dict[str, Any]:
    """The schema of one ``config/segments/<name>.yaml`` file."""
    schema = Segment.model_json_schema(by_alias=True, mode="validation")
    # raw `esp:` conditions are keyed by the registered ESPs (checked by the loader)
    esp = schema["$defs"]["EspCondition"]["properties"]["esp"]
    esp["propertyNames"] = {"enum": list(destinations.names)}
    schema["$schema"] = _DIALECT
    schema["title"] = "segsync segment"
    return _text_types(schema)


def _mapping_of(item: Any, title: str, description: str) -> dict[str, Any]:
    """A ``name: definition`` file: an object whose every value is ``item``."""
    schema = TypeAdapter(dict[str, item]).json_schema(by_alias=True, mode="validation")
    schema.update({"$schema": _DIALECT, "title": title, "description": description})
    schema["propertyNames"] = {"pattern": _KEY_PATTERN}
    return _text_types(schema)


def metrics_json_schema() -> dict[str, Any]:
    """The schema of ``config/metrics.yaml``: named metrics, and the report's ``kpis:``."""
    schema = _mapping_of(
        Metric,
        "segsync metrics",
        "Named metrics: an event aggregate ({event, aggregate, property, where, within}) or "
        "a profile attribute ({attribute}); `kpis:` defines what `segsync report` measures.",
    )
    kpis = Kpis.model_json_schema(by_alias=True, mode="validation", ref_template="#/$defs/{model}")
    schema.setdefault("$defs", {}).update(kpis.pop("$defs", {}))
    schema["properties"] = {KPIS_KEY: kpis}
    return _text_types(schema)


def destinations_json_schema(destinations: DestinationModels) -> dict[str, Any]:
    """The schema of ``config/destinations.yaml``: named ESP accounts."""
    return _mapping_of(
        destinations.schema_type,
        "segsync destinations",
        "ESP accounts segments are pushed to: {esp, fields, traits, new_contacts} and the "
        "settings of that ESP (one shape per `esp:` value).",
    )


def json_schema(kind: SchemaKind, destinations: DestinationModels) -> dict[str, Any]:
    """The schema of one kind of config file; ``destinations`` are the ESPs' destination
    models (``connector.esp.registry.destination_models()``)."""
    match kind:
        case "segment":
            return segment_json_schema(destinations)
        case "metrics":
            return metrics_json_schema()
        case "destinations":
            return destinations_json_schema(destinations)
        case _:
            assert_never(kind)


def schema_file(kind: SchemaKind) -> str:
    """The schema's path relative to the config directory."""
    return f"schemas/{kind}.schema.json"


def modeline(kind: SchemaKind) -> str:
    """The first line of an example file: where yaml-language-server finds its schema
    (relative to the file: segment files live one folder further down)."""
    prefix = "../" if kind == "segment" else ""
    return f"# yaml-language-server: $schema={prefix}{schema_file(kind)}"


def write_schemas(config_dir: Path, destinations: DestinationModels) -> list[Path]:
    """Write every schema under ``config_dir/schemas/`` (generated files: always refreshed,
    so they follow the installed segsync)."""
    written = []
    for kind in SCHEMA_KINDS:
        path = config_dir / schema_file(kind)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(json_schema(kind, destinations), indent=2) + "\n"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
