"""Native segments as Mailchimp takes them: the ``options`` of ``POST /lists/{id}/segments``.

``{match, conditions: [...]}``: one flat list; parts are static segments (tags) referred to
by their numeric id, attributes are text merge conditions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.definitions.conditions import Op
from connector.plan.model import NativeLiteral, NativeSegment, part_id

__all__ = ["render_native"]

_TEXT_OPS = {
    Op.EQ: "is",
    Op.IN: "is",
    Op.CONTAINS: "contains",
    Op.STARTS_WITH: "starts",
    Op.ENDS_WITH: "ends",
    Op.EXISTS: "blank_not",
    Op.NOT_EXISTS: "blank",
}


def _condition(literal: NativeLiteral, part_ids: Mapping[str, str] | None) -> dict[str, Any]:
    if literal.kind == "esp":
        assert literal.esp is not None
        return dict(literal.esp.esp["mailchimp"])
    if literal.kind == "part":
        ident = part_id(literal.part, part_ids)
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
        "op": _TEXT_OPS[op],
    }
    if op not in (Op.EXISTS, Op.NOT_EXISTS):
        condition["value"] = str(literal.value).strip(" ")
    return condition


def render_native(
    native: NativeSegment, part_ids: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The ``options`` object of a Mailchimp segment (``{match, conditions}``)."""
    return {
        "match": native.match,
        "conditions": [_condition(lit, part_ids) for group in native.groups for lit in group],
    }
