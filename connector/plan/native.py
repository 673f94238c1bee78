"""Native segment definitions rendered as the exact JSON each ESP API takes.

Mailchimp: ``options`` of ``POST /lists/{id}/segments`` — ``{match, conditions: [...]}``.
Klaviyo: ``definition`` of ``POST /api/segments`` — ``{condition_groups: [{conditions}]}``.
Parts are referred to by the ESP id of their tag/list; before the ids exist (``plan``), a
placeholder ``<id of segsync:…>`` stands in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.definitions.conditions import Op
from connector.plan.model import NativeLiteral, NativeSegment

__all__ = ["klaviyo_property", "render_native"]

_MAILCHIMP_TEXT_OPS = {
    Op.EQ: "is",
    Op.IN: "is",
    Op.CONTAINS: "contains",
    Op.STARTS_WITH: "starts",
    Op.ENDS_WITH: "ends",
    Op.EXISTS: "blank_not",
    Op.NOT_EXISTS: "blank",
}
_KLAVIYO_NUMERIC_OPS = {
    Op.EQ: "equals",
    Op.IN: "equals",
    Op.GT: "greater-than",
    Op.GTE: "greater-than-or-equal",
    Op.LT: "less-than",
    Op.LTE: "less-than-or-equal",
}
#: Klaviyo's own profile fields; any other name is a custom property
_KLAVIYO_STANDARD = {
    "email", "phone_number", "external_id", "first_name", "last_name", "organization",
    "title", "image", "locale",
}  # fmt: skip


def klaviyo_property(field: str) -> str:
    """``properties['region']`` for a custom property; standard fields as they are."""
    if field in _KLAVIYO_STANDARD or field.startswith("properties["):
        return field
    return f"properties['{field}']"


def _part_id(name: str, part_ids: Mapping[str, str] | None) -> str:
    if part_ids is not None and name in part_ids:
        return part_ids[name]
    return f"<id of {name}>"


def _mailchimp(literal: NativeLiteral, part_ids: Mapping[str, str] | None) -> dict[str, Any]:
    if literal.kind == "esp":
        assert literal.esp is not None
        return dict(literal.esp.esp["mailchimp"])
    if literal.kind == "part":
        ident = _part_id(literal.part, part_ids)
        return {
            "condition_type": "StaticSegment",
            "field": "static_segment",
            "op": "static_is" if literal.positive else "static_not",
            "value": int(ident) if ident.isdigit() else ident,
        }
    assert literal.attribute is not None
    op = literal.attribute.op
    condition: dict[str, Any] = {
        "condition_type": "TextMerge",
        "field": literal.esp_field,
        "op": _MAILCHIMP_TEXT_OPS[op],
    }
    if op not in (Op.EXISTS, Op.NOT_EXISTS):
        condition["value"] = str(literal.value).strip(" ")
    return condition


def _klaviyo(literal: NativeLiteral, part_ids: Mapping[str, str] | None) -> dict[str, Any]:
    if literal.kind == "esp":
        assert literal.esp is not None
        return dict(literal.esp.esp["klaviyo"])
    if literal.kind == "part":
        return {
            "type": "profile-group-membership",
            "is_member": literal.positive,
            "group_ids": [_part_id(literal.part, part_ids)],
        }
    assert literal.attribute is not None
    op = literal.attribute.op
    flt: dict[str, Any]
    if op in (Op.EXISTS, Op.NOT_EXISTS):
        flt = {"type": "existence", "operator": "is-set" if op is Op.EXISTS else "not-set"}
    elif isinstance(literal.value, bool):
        flt = {"type": "boolean", "operator": "equals", "value": literal.value}
    else:
        flt = {"type": "numeric", "operator": _KLAVIYO_NUMERIC_OPS[op], "value": literal.value}
    return {
        "type": "profile-property",
        "property": klaviyo_property(literal.esp_field),
        "filter": flt,
    }


def render_native(
    esp: str, native: NativeSegment, part_ids: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The definition JSON for ``esp`` (Mailchimp ``options`` / Klaviyo ``definition``)."""
    if esp == "mailchimp":
        return {
            "match": native.match,
            "conditions": [_mailchimp(lit, part_ids) for group in native.groups for lit in group],
        }
    return {
        "condition_groups": [
            {"conditions": [_klaviyo(lit, part_ids) for lit in group]} for group in native.groups
        ]
    }
