"""JSON Schema of segment files (``segsync schema``), for YAML-aware editors."""

from __future__ import annotations

from typing import Any

from connector.definitions.segment import Segment

__all__ = ["segment_json_schema"]


def segment_json_schema() -> dict[str, Any]:
    """The schema of one ``config/segments/<name>.yaml`` file."""
    schema = Segment.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "segsync segment"
    return schema
