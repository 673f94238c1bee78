"""Native segments as Klaviyo takes them: the ``definition`` of ``POST /api/segments``.

``{condition_groups: [{conditions}]}``: groups ANDed, conditions within a group ORed; parts
are static lists referred to by id, attributes are profile-property filters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.definitions.conditions import Op
from connector.plan.model import NativeLiteral, NativeSegment, part_id

__all__ = ["klaviyo_property", "render_native"]

_NUMERIC_OPS = {
    Op.EQ: "equals",
    Op.IN: "equals",
    Op.GT: "greater-than",
    Op.GTE: "greater-than-or-equal",
    Op.LT: "less-than",
    Op.LTE: "less-than-or-equal",
}
#: Klaviyo's own profile fields; any other name is a custom property
_STANDARD = {
    "email", "phone_number", "external_id", "first_name", "last_name", "organization",
    "title", "image", "locale",
}  # fmt: skip


def klaviyo_property(field: str) -> str:
    """``properties['region']`` for a custom property; standard fields as they are."""
    if field in _STANDARD or field.startswith("properties["):
        return field
    return f"properties['{field}']"


def _condition(literal: NativeLiteral, part_ids: Mapping[str, str] | None) -> dict[str, Any]:
    if literal.kind == "esp":
        assert literal.esp is not None
        return dict(literal.esp.esp["klaviyo"])
    if literal.kind == "part":
        return {
            "type": "profile-group-membership",
            "is_member": literal.positive,
            "group_ids": [part_id(literal.part, part_ids)],
        }
    assert literal.attribute is not None
    op = literal.attribute.op
    flt: dict[str, Any]
    if op in (Op.EXISTS, Op.NOT_EXISTS):
        flt = {"type": "existence", "operator": "is-set" if op is Op.EXISTS else "not-set"}
    elif isinstance(literal.value, bool):
        flt = {"type": "boolean", "operator": "equals", "value": literal.value}
    else:
        flt = {"type": "numeric", "operator": _NUMERIC_OPS[op], "value": literal.value}
    return {
        "type": "profile-property",
        "property": klaviyo_property(literal.esp_field),
        "filter": flt,
    }


def render_native(
    native: NativeSegment, part_ids: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The ``definition`` object of a Klaviyo segment (``{condition_groups}``)."""
    return {
        "condition_groups": [
            {"conditions": [_condition(lit, part_ids) for lit in group]} for group in native.groups
        ]
    }
