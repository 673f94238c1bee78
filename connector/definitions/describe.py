"""One-line, human descriptions of condition nodes (for explain, plan and audit output)."""

from __future__ import annotations

import json
from typing import Any

from connector.definitions.conditions import (
    AllOf,
    AnyOf,
    AttributeCondition,
    Condition,
    EspCondition,
    EventCondition,
    FollowUp,
    InSegmentCondition,
    MetricCondition,
    NearCondition,
    NotOf,
    PropertyCondition,
)
from connector.timespec import Duration, format_instant

__all__ = ["describe", "describe_rule"]

_SYMBOL = {"eq": "=", "neq": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def _value(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, Duration):
        return value.text
    if hasattr(value, "isoformat"):
        return format_instant(value)
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _comparison(subject: str, cond: AttributeCondition | PropertyCondition) -> str:
    text = f"{subject} {cond.op.value}"
    if cond.value is not None:
        text += f" {_value(cond.value)}"
    return text + (" (case-sensitive)" if cond.case_sensitive else "")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _events(node: EventCondition | FollowUp) -> str:
    text = f"event {node.event}"
    if node.where:
        text += " where " + " and ".join(_comparison(c.property, c) for c in node.where)
    if node.within is not None:
        text += f" within {node.within.text}"
    return text


def describe(node: Condition) -> str:
    """``event order_completed where category eq 'electronics' within 30d: count >= 4``."""
    if isinstance(node, AllOf):
        return "all of"
    if isinstance(node, AnyOf):
        return "any of"
    if isinstance(node, NotOf):
        return "not"
    if isinstance(node, AttributeCondition):
        return _comparison(node.attribute, node)
    if isinstance(node, EventCondition):
        text = _events(node)
        if node.not_followed_by is not None:
            return f"{text}, not followed by {_events(node.not_followed_by)}"
        kind, spec = node.aggregate()
        measure = kind if spec.property is None else f"{kind}({spec.property})"
        tests = " and ".join(
            f"{measure} {_SYMBOL[op]} {_number(v)}" for op, v in spec.comparisons()
        )
        per = f" for some single {node.per}" if node.per else ""
        return f"{text}: {tests}{per}"
    if isinstance(node, MetricCondition):
        if node.top_percent is not None:
            return f"metric {node.metric} in the top {_number(node.top_percent)}%"
        if node.bottom_percent is not None:
            return f"metric {node.metric} in the bottom {_number(node.bottom_percent)}%"
        tests = " and ".join(f"{_SYMBOL[op]} {_number(v)}" for op, v in node.comparisons())
        return f"metric {node.metric} {tests}"
    if isinstance(node, NearCondition):
        near = node.near
        return f"within {_number(near.radius_km)} km of ({near.lat}, {near.lon})"
    if isinstance(node, InSegmentCondition):
        return f"in segment {node.in_segment}"
    if isinstance(node, EspCondition):
        return "ESP-only condition " + json.dumps(node.esp, sort_keys=True, default=str)
    raise AssertionError(f"unhandled node {node!r}")  # pragma: no cover


def describe_rule(node: Condition) -> str:
    """A whole rule on one line: ``all of (region eq 'CA'; not (in segment churn))``."""
    if isinstance(node, AllOf | AnyOf):
        items = node.all if isinstance(node, AllOf) else node.any
        return f"{describe(node)} (" + "; ".join(describe_rule(i) for i in items) + ")"
    if isinstance(node, NotOf):
        return f"not ({describe_rule(node.not_)})"
    return describe(node)
