"""Klaviyo segment definitions: checking them and computing who a segment holds.

A definition is ``{condition_groups: [{conditions: [...]}]}``: groups are ANDed,
conditions inside a group ORed, at most ``klaviyo_max_conditions`` (100) in all.

Membership is computed for ``profile-group-membership`` (lists and other segments),
``profile-property`` (string, string-list, numeric, boolean, existence and list
filters; text compares case-insensitively; a missing property fails positive operators
and passes their negations) and ``profile-marketing-consent`` on email. Other condition
types are accepted and evaluate to false (the emulator keeps no events, predictions or
locations).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the account module computes segments with this one
    from connector.emulator.klaviyo.account import KlaviyoState, KSegment, Profile

__all__ = ["CONDITION_TYPES", "count_conditions", "segment_members", "validate_definition"]

CONDITION_TYPES = (
    "profile-group-membership",
    "profile-metric",
    "profile-marketing-consent",
    "profile-postal-code-distance",
    "profile-property",
    "profile-region",
    "profile-predictive-analytics",
    "profile-has-custom-object",
    "profile-permissions",
    "profile-metric-funnel",
)
_FILTER_OPERATORS = {
    "string": (
        "contains",
        "ends-with",
        "equals",
        "not-contains",
        "not-ends-with",
        "not-equals",
        "not-starts-with",
        "nregex",
        "regex",
        "starts-with",
        "in",
        "not-in",
    ),
    "numeric": (
        "equals",
        "greater-than",
        "greater-than-or-equal",
        "less-than",
        "less-than-or-equal",
        "not-equals",
    ),
    "boolean": ("equals",),
    "existence": ("is-set", "not-set"),
    "list": ("contains", "not-contains"),
}
_NEGATIVE = {"not-equals", "not-contains", "not-starts-with", "not-ends-with", "nregex", "not-in"}
_PROPERTY = re.compile(r"""^(properties|location)\s*(?:\[\s*['"](.+)['"]\s*\]|\.(.+))$""")

Problem = tuple[str, str]


def count_conditions(definition: dict[str, Any]) -> int:
    """Conditions across every group."""
    groups = definition.get("condition_groups") or []
    return sum(len(g.get("conditions") or []) for g in groups if isinstance(g, dict))


def validate_definition(
    definition: object, state: KlaviyoState, max_conditions: int, pointer: str
) -> list[Problem]:
    """(pointer, detail) problems of a definition; empty when the API would accept it."""
    if not isinstance(definition, dict):
        return [(pointer, "The definition must be an object.")]
    groups = definition.get("condition_groups")
    if not isinstance(groups, list) or not groups:
        return [(f"{pointer}/condition_groups", "At least one condition group is required.")]
    problems: list[Problem] = []
    total = count_conditions(definition)
    if total > max_conditions:
        problems.append(
            (
                f"{pointer}/condition_groups",
                f"A segment definition can have at most {max_conditions} conditions "
                f"({total} given).",
            )
        )
    for g, group in enumerate(groups):
        where = f"{pointer}/condition_groups/{g}"
        conditions = group.get("conditions") if isinstance(group, dict) else None
        if not isinstance(conditions, list) or not conditions:
            problems.append((f"{where}/conditions", "A condition group needs conditions."))
            continue
        for c, condition in enumerate(conditions):
            problems.extend(_validate_condition(condition, state, f"{where}/conditions/{c}"))
    return problems


def _validate_condition(condition: object, state: KlaviyoState, where: str) -> list[Problem]:
    if not isinstance(condition, dict):
        return [(where, "A condition must be an object.")]
    kind = condition.get("type")
    if kind not in CONDITION_TYPES:
        return [(f"{where}/type", f"'{kind}' is not a valid condition type.")]
    if kind == "profile-group-membership":
        if not isinstance(condition.get("is_member"), bool):
            return [(f"{where}/is_member", "is_member must be true or false.")]
        ids = condition.get("group_ids")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            return [(f"{where}/group_ids", "group_ids must be a non-empty list of ids.")]
        unknown = [i for i in ids if i not in state.lists and i not in state.segments]
        if unknown:
            return [(f"{where}/group_ids", f"Unknown list or segment id(s): {', '.join(unknown)}")]
    if kind == "profile-property":
        if not isinstance(condition.get("property"), str) or not condition["property"]:
            return [(f"{where}/property", "property is required.")]
        return _validate_filter(condition.get("filter"), f"{where}/filter")
    if kind == "profile-marketing-consent" and not isinstance(condition.get("consent"), dict):
        return [(f"{where}/consent", "consent is required.")]
    return []


def _validate_filter(spec: object, where: str) -> list[Problem]:
    if not isinstance(spec, dict):
        return [(where, "filter is required.")]
    kind, operator = spec.get("type"), spec.get("operator")
    operators = _FILTER_OPERATORS.get(kind) if isinstance(kind, str) else None
    if operators is None:
        return []  # date filters and friends: accepted, not evaluated
    if operator not in operators:
        return [(f"{where}/operator", f"'{operator}' is not a valid operator for a {kind} filter.")]
    if kind != "existence" and "value" not in spec:
        return [(f"{where}/value", "value is required.")]
    return []


def _property(profile: Profile, name: str) -> Any:
    found = _PROPERTY.match(name.strip())
    if found:
        container = profile.properties if found.group(1) == "properties" else profile.location
        return container.get(found.group(2) or found.group(3))
    return getattr(profile, name, None) if not name.startswith("_") else None


def _text(value: Any) -> str:
    return str(value).strip().lower()


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _positive_string(operator: str, actual: str, wanted: Any) -> bool:
    target = _text(wanted) if not isinstance(wanted, list) else ""
    if operator in ("equals", "not-equals"):
        return actual == target
    if operator in ("contains", "not-contains"):
        return target in actual
    if operator in ("starts-with", "not-starts-with"):
        return actual.startswith(target)
    if operator in ("ends-with", "not-ends-with"):
        return actual.endswith(target)
    if operator in ("in", "not-in"):
        return isinstance(wanted, list) and actual in {_text(w) for w in wanted}
    if operator in ("regex", "nregex"):
        return re.search(str(wanted), actual, re.IGNORECASE) is not None
    return False


def _filter_holds(spec: dict[str, Any], actual: Any) -> bool:
    kind, operator, wanted = spec.get("type"), spec.get("operator"), spec.get("value")
    if kind == "existence":
        present = actual is not None and _text(actual) != ""
        return present if operator == "is-set" else not present
    negative = operator in _NEGATIVE
    if actual is None:
        return negative
    if kind == "string":
        hit = _positive_string(str(operator), _text(actual), wanted)
        return not hit if negative else hit
    if kind == "numeric":
        a, w = _number(actual), _number(wanted)
        if a is None or w is None:
            return operator == "not-equals"
        return {
            "equals": a == w,
            "not-equals": a != w,
            "greater-than": a > w,
            "greater-than-or-equal": a >= w,
            "less-than": a < w,
            "less-than-or-equal": a <= w,
        }.get(str(operator), False)
    if kind == "boolean":
        return isinstance(actual, bool) and actual == wanted
    if kind == "list":
        items = {_text(v) for v in actual} if isinstance(actual, list) else set()
        hit = _text(wanted) in items
        return not hit if negative else hit
    return False


def _consent_holds(consent: dict[str, Any], profile: Profile) -> bool:
    if consent.get("channel") != "email":
        return False
    if bool(consent.get("can_receive_marketing")) != profile.can_receive_email:
        return False
    status = consent.get("consent_status")
    wanted = status.get("subscription", "any") if isinstance(status, dict) else "any"
    return wanted == "any" or profile.consent == str(wanted).upper()


def _holds(
    condition: dict[str, Any], profile: Profile, state: KlaviyoState, visiting: frozenset[str]
) -> bool:
    kind = condition.get("type")
    if kind == "profile-group-membership":
        inside = any(
            _in_group(group_id, profile, state, visiting) for group_id in condition["group_ids"]
        )
        return inside if condition.get("is_member") else not inside
    if kind == "profile-property":
        return _filter_holds(condition["filter"], _property(profile, condition["property"]))
    if kind == "profile-marketing-consent":
        return _consent_holds(condition["consent"], profile)
    return False


def _in_group(
    group_id: str, profile: Profile, state: KlaviyoState, visiting: frozenset[str]
) -> bool:
    if group_id in state.lists:
        return profile.id in state.lists[group_id].members
    segment = state.segments.get(group_id)
    if segment is None or group_id in visiting:  # a cycle holds nobody
        return False
    return _qualifies(segment.definition, profile, state, visiting | {group_id})


def _qualifies(
    definition: dict[str, Any], profile: Profile, state: KlaviyoState, visiting: frozenset[str]
) -> bool:
    groups = definition.get("condition_groups") or []
    return bool(groups) and all(
        any(_holds(c, profile, state, visiting) for c in group.get("conditions") or [])
        for group in groups
    )


def segment_members(state: KlaviyoState, segment: KSegment) -> list[str]:
    """Ids of the profiles a segment holds now, in profile creation order."""
    if not segment.is_active:
        return []
    visiting = frozenset({segment.id})
    return [
        p.id for p in state.profiles.values() if _qualifies(segment.definition, p, state, visiting)
    ]
