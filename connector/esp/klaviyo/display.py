"""How ``segsync plan`` shows a Klaviyo native segment definition, one line a group."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["native_lines"]


def _condition_text(cond: Mapping[str, Any]) -> str:
    kind = cond.get("type")
    if kind == "profile-group-membership":
        verb = "in" if cond["is_member"] else "not in"
        return f"{verb} list {', '.join(cond['group_ids'])}"
    if kind == "profile-property":
        flt = cond["filter"]
        value = f" {json.dumps(flt['value'])}" if "value" in flt else ""
        return f"property {cond['property']} {flt['operator']}{value}"
    return f"ESP-only {json.dumps(cond, sort_keys=True)}"


def native_lines(name: str, definition: Mapping[str, Any]) -> list[str]:
    """The plan's lines for segment ``name`` with ``definition`` (``{condition_groups}``)."""
    lines = [f"  native segment {name} (every group holds; any condition in a group):"]
    for index, group in enumerate(definition["condition_groups"], 1):
        texts = " OR ".join(_condition_text(c) for c in group["conditions"])
        lines.append(f"    {index}. {texts}")
    return lines
