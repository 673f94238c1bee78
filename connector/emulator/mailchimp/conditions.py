"""Saved-segment conditions: what the API accepts, and who a segment holds.

The table of condition types, fields and operators follows the Marketing API's segment
schema (one flat list of ``{condition_type, field, op, value}``; no nesting through the
API). Validation answers like the API's JSON-schema check: a 400 "Invalid Resource" with
an ``errors`` array of ``{field, message}``.

Membership is computed for the conditions segsync can produce or read back: StaticSegment
(``static_is``/``static_not``), TextMerge, SelectMerge, AddressMerge, DateMerge and
EmailAddress. Every other type is accepted but evaluates to false for every member (the
emulator has no campaign activity, ecommerce or location data), so a ``match: all``
segment with one of them holds nobody.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the account module computes segments with this one
    from connector.emulator.mailchimp.account import Audience, Member, Segment

__all__ = [
    "CONDITION_TYPES",
    "ConditionType",
    "evaluate",
    "segment_member_list",
    "validate_options",
]

_TEXT_OPS = ("is", "not", "contains", "notcontain", "starts", "ends", "greater", "less")
_BLANK_OPS = ("blank", "blank_not")


@dataclass(frozen=True)
class ConditionType:
    """One ``condition_type``: its fixed fields (None: a merge tag), ops and value kind."""

    ops: tuple[str, ...]
    fields: tuple[str, ...] | None = None
    value: str = "string"
    """string | number | array | none"""


CONDITION_TYPES: dict[str, ConditionType] = {
    "Aim": ConditionType(("open", "click", "sent", "noopen", "noclick", "nosent"), ("aim",)),
    "Automation": ConditionType(
        ("started", "completed", "not_started", "not_completed"), ("automation",)
    ),
    "CampaignPoll": ConditionType(("member", "notmember"), ("poll",), "number"),
    "Conversation": ConditionType(("member", "notmember"), ("conversation",)),
    "Date": ConditionType(
        ("greater", "less", "is", "not", "blank", "blank_not", "within", "notwithin"),
        ("timestamp_opt", "info_changed", "ecomm_date"),
    ),
    "EmailClient": ConditionType(("client_is", "client_not"), ("email_client",)),
    "Language": ConditionType(("is", "not"), ("language",)),
    "MemberRating": ConditionType(("is", "not", "greater", "less"), ("rating",), "number"),
    "SignupSource": ConditionType(("source_is", "source_not"), ("source",)),
    "SurveyMonkey": ConditionType(
        ("started", "completed", "not_started", "not_completed"), ("survey_monkey",)
    ),
    "VIP": ConditionType(("member", "notmember"), ("gmonkey",), "none"),
    "Interests": ConditionType(
        ("interestcontains", "interestcontainsall", "interestnotcontains"), None, "array"
    ),
    "EcommCategory": ConditionType(
        ("is", "not", "contains", "notcontain", "starts", "ends"), ("ecomm_cat", "ecomm_prod")
    ),
    "EcommNumber": ConditionType(
        ("is", "not", "greater", "less"),
        ("ecomm_spent_avg", "ecomm_orders", "ecomm_prod_all", "ecomm_avg_ord"),
        "number",
    ),
    "EcommPurchased": ConditionType(("member", "notmember"), ("ecomm_purchased",), "none"),
    "EcommSpent": ConditionType(
        ("greater", "less"), ("ecomm_spent_one", "ecomm_spent_all"), "number"
    ),
    "EcommStore": ConditionType(("is", "not"), ("ecomm_store",)),
    "GoalActivity": ConditionType(
        ("is", "goal_not", "contains", "goal_notcontain", "starts", "ends"), ("goal",)
    ),
    "GoalTimestamp": ConditionType(("greater", "less", "is"), ("goal_last_visited",)),
    "FuzzySegment": ConditionType(("fuzzy_is", "fuzzy_not"), ("fuzzy_segment",), "number"),
    "StaticSegment": ConditionType(("static_is", "static_not"), ("static_segment",), "number"),
    "IPGeoCountryState": ConditionType(
        ("ipgeocountry", "ipgeonotcountry", "ipgeostate", "ipgeonotstate"), ("ipgeo",)
    ),
    "IPGeoIn": ConditionType(("ipgeoin", "ipgeonotin"), ("ipgeo",), "number"),
    "IPGeoInZip": ConditionType(("ipgeoinzip",), ("ipgeo",), "number"),
    "IPGeoUnknown": ConditionType(("ipgeounknown",), ("ipgeo",), "none"),
    "IPGeoZip": ConditionType(("ipgeoiszip", "ipgeonotzip"), ("ipgeo",), "number"),
    "SocialAge": ConditionType(("is", "not"), ("social_age",)),
    "SocialGender": ConditionType(("is", "not"), ("social_gender",)),
    "SocialInfluence": ConditionType(
        ("is", "not", "greater", "less"), ("social_influence",), "number"
    ),
    "SocialNetworkMember": ConditionType(("member", "notmember"), ("social_network",)),
    "SocialNetworkFollow": ConditionType(("follow", "notfollow"), ("social_network",)),
    "AddressMerge": ConditionType(("contains", "notcontain", *_BLANK_OPS)),
    "ZipMerge": ConditionType(("geoin",)),
    "BirthdayMerge": ConditionType(("is", "not", *_BLANK_OPS)),
    "DateMerge": ConditionType(("is", "not", "less", "greater", *_BLANK_OPS)),
    "SelectMerge": ConditionType(("is", "not", "contains", "notcontain", *_BLANK_OPS)),
    "TextMerge": ConditionType((*_TEXT_OPS, *_BLANK_OPS)),
    "EmailAddress": ConditionType(_TEXT_OPS, ("merge0", "EMAIL")),
    "PredictedGender": ConditionType(("is", "not"), ("predicted_gender",)),
    "PredictedAge": ConditionType(("is",), ("predicted_age_range",)),
    "NewSubscribers": ConditionType(("date_within",), ("timestamp_opt",)),
}

_EVALUATED = {
    "StaticSegment",
    "TextMerge",
    "SelectMerge",
    "AddressMerge",
    "DateMerge",
    "EmailAddress",
}


def validate_options(
    options: object, audience: Audience, max_conditions: int
) -> list[dict[str, str]]:
    """Problems with a saved segment's ``options``, as the API's ``errors`` entries."""
    if not isinstance(options, dict):
        return [{"field": "options", "message": "Schema describes object, NULL found instead"}]
    errors: list[dict[str, str]] = []
    match = options.get("match", "any")
    if match not in ("any", "all"):
        errors.append({"field": "options.match", "message": "Value is not one of: any, all"})
    conditions = options.get("conditions")
    if not isinstance(conditions, list):
        errors.append(
            {"field": "options.conditions", "message": "Schema describes array, not found"}
        )
        return errors
    if len(conditions) > max_conditions:
        errors.append(
            {
                "field": "options.conditions",
                "message": f"Schema describes array, should have at most {max_conditions} "
                f"elements (found {len(conditions)})",
            }
        )
    for index, condition in enumerate(conditions):
        errors.extend(_validate_condition(f"options.conditions.item:{index}", condition, audience))
    return errors


def _validate_condition(where: str, condition: object, audience: Audience) -> list[dict[str, str]]:
    if not isinstance(condition, dict) or "conditions" in condition:
        # Nested groups exist only in the UI ("advanced segments"), never through the API.
        return [{"field": where, "message": "Data did not match any of the schemas described"}]
    kind = condition.get("condition_type")
    spec = CONDITION_TYPES.get(kind) if isinstance(kind, str) else None
    if spec is None:
        return [{"field": f"{where}.condition_type", "message": f"Unknown condition type {kind!r}"}]
    errors: list[dict[str, str]] = []
    op = condition.get("op")
    if op not in spec.ops:
        errors.append(
            {"field": f"{where}.op", "message": f"Value is not one of: {', '.join(spec.ops)}"}
        )
    field_name = condition.get("field")
    if not isinstance(field_name, str) or not field_name:
        errors.append({"field": f"{where}.field", "message": "Required property field not found"})
    elif spec.fields is not None and field_name not in spec.fields:
        errors.append(
            {"field": f"{where}.field", "message": f"Value is not one of: {', '.join(spec.fields)}"}
        )
    elif spec.fields is None and kind != "Interests" and audience.merge_field(field_name) is None:
        errors.append({"field": f"{where}.field", "message": f"Unknown merge field {field_name}"})
    needs_value = spec.value != "none" and op not in _BLANK_OPS
    if needs_value and "value" not in condition:
        errors.append({"field": f"{where}.value", "message": "Required property value not found"})
    if kind == "StaticSegment" and "value" in condition:
        target = _as_int(condition["value"])
        segment = audience.segments.get(target) if target is not None else None
        if segment is None or segment.type != "static":
            errors.append(
                {
                    "field": f"{where}.value",
                    "message": f"A Static Segment with an id of {condition['value']} "
                    "does not exist for this list.",
                }
            )
    return errors


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _text(value: object) -> str:
    return "" if value is None else str(value).strip().lower()


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _compare_text(op: str, actual: str, wanted: str) -> bool:
    """Mailchimp's text operators, case-insensitive."""
    if op == "is":
        return actual == wanted
    if op == "not":
        return actual != wanted
    if op == "contains":
        return wanted in actual
    if op == "notcontain":
        return wanted not in actual
    if op == "starts":
        return actual.startswith(wanted)
    if op == "ends":
        return actual.endswith(wanted)
    if op in ("greater", "less"):
        a, w = _number(actual), _number(wanted)
        if a is None or w is None:
            return actual > wanted if op == "greater" else actual < wanted
        return a > w if op == "greater" else a < w
    if op == "blank":
        return actual == ""
    if op == "blank_not":
        return actual != ""
    return False


def _date(text: str) -> date | None:
    for candidate in (text[:10], text):
        try:
            return date.fromisoformat(candidate)
        except ValueError:
            continue
    return None


def evaluate(condition: dict[str, Any], audience: Audience, member: Member) -> bool:
    """Whether ``member`` meets one condition (unsupported types: false)."""
    kind = condition.get("condition_type")
    op = str(condition.get("op", ""))
    if kind not in _EVALUATED:
        return False
    if kind == "StaticSegment":
        target = audience.segments.get(_as_int(condition.get("value")) or -1)
        inside = target is not None and member.id in target.members
        return inside if op == "static_is" else not inside
    if kind == "EmailAddress":
        return _compare_text(op, member.email_key, _text(condition.get("value")))
    merge = audience.merge_field(str(condition.get("field", "")))
    if merge is None:
        return False
    actual = _text(member.merge_fields.get(merge.tag))
    wanted = _text(condition.get("value"))
    if kind == "DateMerge" and op in ("is", "not", "greater", "less"):
        a, w = _date(actual), _date(wanted)
        if a is None or w is None:
            return op == "not"
        return {"is": a == w, "not": a != w, "greater": a > w, "less": a < w}[op]
    return _compare_text(op, actual, wanted)


def segment_member_list(
    audience: Audience, segment: Segment, statuses: Iterable[str]
) -> list[Member]:
    """Members of a tag or saved segment whose status is in ``statuses``, in audience
    order for saved segments and tagging order for tags."""
    wanted = set(statuses)
    if segment.type == "static":
        found = (audience.members.get(h) for h in segment.members)
        return [m for m in found if m is not None and m.status in wanted]
    members = [m for m in audience.members.values() if m.status in wanted]
    if not segment.conditions:
        return []
    test = all if segment.match == "all" else any
    return [m for m in members if test(evaluate(c, audience, m) for c in segment.conditions)]
