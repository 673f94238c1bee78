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

__all__ = ["count_conditions", "segment_members", "validate_definition"]

_NEGATIVE = {"not-equals", "not-contains", "not-starts-with", "not-ends-with", "nregex", "not-in"}
_PROPERTY = re.compile(r"""^(properties|location)\s*(?:\[\s*['"](.+)['"]\s*\]|\.(.+))$""")

Problem = tuple[str, str]


def count_conditions(definition: dict[str, Any]) -> int:
    """Conditions across every group."""
    groups = definition.get("condition_groups") or []
    return sum(len(g.get("conditions") or []) for g in groups if isinstance(g, dict))


def validate_definition(
    definition: dict[str, Any], state: KlaviyoState, max_conditions: int, pointer: str
) -> list[Problem]:
    """(pointer, detail) problems the OpenAPI schema cannot state (its shape has passed
    the schema): empty groups, the condition limit, unknown group ids, empty names."""
    groups = definition["condition_groups"]
    if not groups:
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
        where = f"{pointer}/condition_groups/{g}/conditions"
        if not group["conditions"]:
            problems.append((where, "A condition group needs conditions."))
        for c, condition in enumerate(group["conditions"]):
            problems.extend(_condition_problems(condition, state, f"{where}/{c}"))
    return problems


def _condition_problems(
    condition: dict[str, Any], state: KlaviyoState, where: str
) -> list[Problem]:
    if condition["type"] == "profile-group-membership":
        ids = condition["group_ids"]
        unknown = [i for i in ids if i not in state.lists and i not in state.segments]
        if not ids:
            return [(f"{where}/group_ids", "group_ids must be a non-empty list of ids.")]
        if unknown:
            return [(f"{where}/group_ids", f"Unknown list or segment id(s): {', '.join(unknown)}")]
    if condition["type"] == "profile-property" and not condition["property"]:
        return [(f"{where}/property", "property is required.")]
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
