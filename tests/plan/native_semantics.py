"""A small interpreter of each ESP's native segment semantics, for split tests.

A "world" is one profile as the ESP and segsync see it: the values segsync pushes to
mapped fields, which parts (tags/lists) hold the profile, and the truth of each ESP-only
condition. Native JSON is evaluated exactly as rendered for the API.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connector.esp.klaviyo.native import klaviyo_property


@dataclass
class World:
    pushed: dict[str, Any] = field(default_factory=dict)  # ESP field -> pushed value or None
    parts: set[str] = field(default_factory=set)  # part ids (here: names) holding the profile
    esp_truth: Callable[[dict[str, Any]], bool] = lambda _: False


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def mailchimp_condition(cond: Mapping[str, Any], world: World) -> bool:
    kind = cond["condition_type"]
    if kind == "StaticSegment":
        inside = str(cond["value"]) in world.parts
        return inside if cond["op"] == "static_is" else not inside
    if kind == "TextMerge":
        have = _text(world.pushed.get(cond["field"])).lower()  # Mailchimp text ops ignore case
        want = _text(cond.get("value")).lower()
        return {
            "is": lambda: have != "" and have == want,
            "contains": lambda: have != "" and want in have,
            "starts": lambda: have != "" and have.startswith(want),
            "ends": lambda: have != "" and have.endswith(want),
            "blank": lambda: have == "",
            "blank_not": lambda: have != "",
        }[cond["op"]]()
    return world.esp_truth(dict(cond))


def mailchimp_segment(options: Mapping[str, Any], world: World) -> bool:
    results = [mailchimp_condition(c, world) for c in options["conditions"]]
    return all(results) if options["match"] == "all" else any(results)


def _property_name(prop: str) -> str:
    return prop[len("properties['") : -2] if prop.startswith("properties['") else prop


def klaviyo_condition(cond: Mapping[str, Any], world: World) -> bool:
    kind = cond.get("type")
    if kind == "profile-group-membership":
        inside = any(str(g) in world.parts for g in cond["group_ids"])
        return inside if cond["is_member"] else not inside
    if kind == "profile-property":
        names = {klaviyo_property(f): f for f in world.pushed}
        value = world.pushed.get(names.get(cond["property"], _property_name(cond["property"])))
        flt = cond["filter"]
        if flt["type"] == "existence":
            return (value is not None) == (flt["operator"] == "is-set")
        if value is None:
            return False
        want = flt["value"]
        return {
            "equals": value == want,
            "greater-than": value > want,
            "greater-than-or-equal": value >= want,
            "less-than": value < want,
            "less-than-or-equal": value <= want,
        }[flt["operator"]]
    return world.esp_truth(dict(cond))


def klaviyo_segment(definition: Mapping[str, Any], world: World) -> bool:
    return all(
        any(klaviyo_condition(c, world) for c in group["conditions"])
        for group in definition["condition_groups"]
    )


def esp_key(raw: Mapping[str, Any]) -> str:
    return json.dumps(raw, sort_keys=True)
