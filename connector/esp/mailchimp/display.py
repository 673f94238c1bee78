"""How ``segsync plan`` shows a Mailchimp native segment definition, one line a condition."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["native_lines"]


def _condition_text(cond: Mapping[str, Any]) -> str:
    kind = cond.get("condition_type")
    if kind == "StaticSegment":
        return f"{cond['op']} tag {cond['value']}"
    if kind == "TextMerge":
        value = f" {json.dumps(cond['value'])}" if "value" in cond else ""
        return f"merge field {cond['field']} {cond['op']}{value}"
    return f"ESP-only {json.dumps(cond, sort_keys=True)}"


def native_lines(name: str, definition: Mapping[str, Any]) -> list[str]:
    """The plan's lines for segment ``name`` with ``definition`` (``{match, conditions}``)."""
    lines = [f"  native segment {name} (match {definition['match']}):"]
    lines += [f"    - {_condition_text(c)}" for c in definition["conditions"]]
    return lines
