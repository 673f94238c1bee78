"""Split planner edge shapes, with the exact native JSON each ESP receives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connector.definitions.conditions import EventCondition
from connector.definitions.loader import Definitions
from connector.definitions.segment import Segment
from connector.esp.klaviyo.destination import KlaviyoDestination
from connector.esp.mailchimp.destination import MailchimpDestination
from connector.esp.registry import capabilities_for, render_native
from connector.plan.split import PlanError, plan_split, plan_splits
from tests.plan.test_split_property import MAILCHIMP_FIELDS, SCHEMA

AIM = {"condition_type": "Aim", "field": "aim", "op": "open", "value": "any"}
METRIC = {"type": "profile-metric", "metric_id": "opened"}
ESP = {"esp": {"mailchimp": AIM, "klaviyo": METRIC}}
EVENT = {"event": "e1"}
ROUTES = {
    "mc": MailchimpDestination(esp="mailchimp", audience="a", fields=MAILCHIMP_FIELDS),
    "mc10": MailchimpDestination(
        esp="mailchimp", audience="a", max_conditions=10, fields=MAILCHIMP_FIELDS
    ),
    "kl": KlaviyoDestination(esp="klaviyo", fields={"age": "age", "region": "region"}),
}


def defs_for(rule: dict[str, Any], **extra: Any) -> Definitions:
    segment = Segment.model_validate({"name": "s", "rule": rule, **extra})
    return Definitions(config_dir=Path("."), segments={"s": segment}, destinations=dict(ROUTES))


def native(rule: dict[str, Any], dest: str, mode: str = "auto", **extra: Any) -> dict[str, Any]:
    split = plan_split(
        defs_for(rule, **extra), "s", dest, mode, SCHEMA, capabilities=capabilities_for
    )
    assert split.native is not None
    return render_native(
        split.esp, split.native, {p.name: str(i + 10) for i, p in enumerate(split.parts)}
    )


def region(value: str) -> dict[str, Any]:
    return {"attribute": "region", "op": "eq", "value": value}


def test_fully_local_rule_in_auto_mode_is_one_tag() -> None:
    split = plan_split(
        defs_for({"all": [EVENT, {"event": "e2"}]}),
        "s",
        "mc",
        "auto",
        SCHEMA,
        capabilities=capabilities_for,
    )
    assert split.native is None
    assert [p.name for p in split.parts] == ["segsync:s"]
    assert split.target == ("tag", "segsync:s")


def test_mode_segment_makes_an_empty_native_part_reference_one_tag() -> None:
    assert native({"all": [EVENT]}, "mc", "segment") == {
        "match": "all",
        "conditions": [
            {
                "condition_type": "StaticSegment",
                "field": "static_segment",
                "op": "static_is",
                "value": 10,
            }
        ],
    }


def test_mapped_attribute_stays_native_next_to_one_merged_tag() -> None:
    rule = {"all": [region(" ca "), EVENT, {"event": "e2"}, ESP]}
    split = plan_split(defs_for(rule), "s", "mc", "auto", SCHEMA, capabilities=capabilities_for)
    assert [p.name for p in split.parts] == ["segsync:s"]  # both events in one tag
    assert render_native("mailchimp", split.native, {"segsync:s": "7"}) == {  # type: ignore[arg-type]
        "match": "all",
        "conditions": [
            {
                "condition_type": "StaticSegment",
                "field": "static_segment",
                "op": "static_is",
                "value": 7,
            },
            {"condition_type": "TextMerge", "field": "STATE", "op": "is", "value": "ca"},
            AIM,
        ],
    }


def test_only_esp_conditions_need_no_parts() -> None:
    split = plan_split(
        defs_for({"any": [ESP, ESP | {}]}), "s", "kl", "auto", SCHEMA, capabilities=capabilities_for
    )
    assert split.parts == ()
    assert render_native("klaviyo", split.native) == {  # type: ignore[arg-type]
        "condition_groups": [{"conditions": [METRIC]}]
    }


def test_eleven_conditions_on_a_ten_limit_merge_native_ones_into_the_tag() -> None:
    rule = {"all": [region(f"r{i}") for i in range(10)] + [ESP]}
    body = native(rule, "mc10")
    assert len(body["conditions"]) == 10
    assert body["conditions"][0]["condition_type"] == "StaticSegment"
    assert sum(c["condition_type"] == "TextMerge" for c in body["conditions"]) == 8
    assert AIM in body["conditions"]


def test_over_the_limit_with_esp_only_conditions_fails_clearly() -> None:
    many = [{"esp": {"mailchimp": AIM | {"value": str(i)}}} for i in range(6)]
    with pytest.raises(PlanError, match="needs 6 conditions but mc allows 5"):
        plan_split(
            defs_for({"all": many}), "s", "mc", "auto", SCHEMA, capabilities=capabilities_for
        )


def test_not_over_any_becomes_an_and_of_negations() -> None:
    rule = {"all": [ESP, {"not": {"any": [EVENT, {"attribute": "age", "op": "exists"}]}}]}
    body = native(rule, "kl")
    assert body == {
        "condition_groups": [
            {
                "conditions": [
                    {"type": "profile-group-membership", "is_member": True, "group_ids": ["10"]}
                ]
            },
            {
                "conditions": [
                    {
                        "type": "profile-property",
                        "property": "properties['age']",
                        "filter": {"type": "existence", "operator": "not-set"},
                    }
                ]
            },
            {"conditions": [METRIC]},
        ]
    }


def test_esp_under_not_cannot_be_split() -> None:
    with pytest.raises(PlanError, match="cannot be negated natively"):
        plan_split(
            defs_for({"not": {"any": [ESP, EVENT]}}),
            "s",
            "kl",
            "auto",
            SCHEMA,
            capabilities=capabilities_for,
        )


def test_deep_nesting_distributes_for_klaviyo_and_fails_flat_for_mailchimp() -> None:
    rule = {"all": [EVENT, {"any": [ESP, {"all": [{"event": "e2"}, {"event": "e3"}]}]}]}
    body = native(rule, "kl")
    groups = body["condition_groups"]
    assert groups[0]["conditions"] == [
        {"type": "profile-group-membership", "is_member": True, "group_ids": ["10"]}
    ]
    assert groups[1]["conditions"] == [
        METRIC,
        {"type": "profile-group-membership", "is_member": True, "group_ids": ["11"]},
    ]
    with pytest.raises(PlanError) as info:
        plan_split(defs_for(rule), "s", "mc", "auto", SCHEMA, capabilities=capabilities_for)
    assert "rule.all[1].any[0]" in str(info.value)
    assert "Mailchimp segments are one flat list" in str(info.value)


def test_flat_any_keeps_native_terms_and_one_tag_for_the_rest() -> None:
    rule = {
        "any": [
            ESP,
            {"attribute": "region", "op": "in", "value": ["CA", "NY"]},
            EVENT,
            {"event": "e2"},
        ]
    }
    split = plan_split(defs_for(rule), "s", "mc", "auto", SCHEMA, capabilities=capabilities_for)
    assert len(split.parts) == 1
    body = render_native("mailchimp", split.native, {"segsync:s": "3"})  # type: ignore[arg-type]
    assert body["match"] == "any"
    assert [c.get("value") for c in body["conditions"]] == [3, "CA", "NY", "any"]


def test_holdout_travels_in_the_first_part() -> None:
    split = plan_split(
        defs_for({"all": [EVENT, ESP]}, holdout=10),
        "s",
        "mc",
        "auto",
        SCHEMA,
        capabilities=capabilities_for,
    )
    (part,) = split.parts
    assert part.apply_holdout


def test_holdout_without_local_conditions_excludes_held_out_profiles() -> None:
    split = plan_split(
        defs_for(ESP, holdout=10), "s", "kl", "auto", SCHEMA, capabilities=capabilities_for
    )
    (part,) = split.parts
    assert part.kind == "holdout"
    body = render_native("klaviyo", split.native, {part.name: "9"})  # type: ignore[arg-type]
    assert {"type": "profile-group-membership", "is_member": False, "group_ids": ["9"]} in [
        c for g in body["condition_groups"] for c in g["conditions"]
    ]


def test_holdout_cannot_ride_on_match_any() -> None:
    with pytest.raises(PlanError, match="holdout"):
        plan_split(
            defs_for({"any": [ESP, EVENT]}, holdout=5),
            "s",
            "mc",
            "auto",
            SCHEMA,
            capabilities=capabilities_for,
        )


def test_tag_mode_refuses_esp_conditions() -> None:
    with pytest.raises(PlanError, match="mode 'tag' pushes the whole segment as one tag"):
        plan_split(
            defs_for({"all": [ESP, EVENT]}), "s", "mc", "tag", SCHEMA, capabilities=capabilities_for
        )


def test_esp_condition_for_the_other_esp_only() -> None:
    rule = {"all": [EVENT, {"esp": {"klaviyo": METRIC}}]}
    with pytest.raises(PlanError, match="has no 'mailchimp' entry"):
        plan_split(defs_for(rule), "s", "mc", "auto", SCHEMA, capabilities=capabilities_for)


def test_case_sensitive_text_stays_local_on_mailchimp() -> None:
    rule = {"all": [region("CA") | {"case_sensitive": True}, ESP]}
    split = plan_split(defs_for(rule), "s", "mc", "auto", SCHEMA, capabilities=capabilities_for)
    assert len(split.parts) == 1 and split.parts[0].rule is not None


def test_names_are_stable_and_shared() -> None:
    rule = {
        "all": [
            ESP,
            {"any": [{"esp": {"klaviyo": {"type": "a"}}}, EVENT]},
            {"any": [{"esp": {"klaviyo": {"type": "b"}}}, EVENT]},
            {"event": "e2"},
        ]
    }
    first = plan_split(defs_for(rule), "s", "kl", "auto", SCHEMA, capabilities=capabilities_for)
    again = plan_split(defs_for(rule), "s", "kl", "auto", SCHEMA, capabilities=capabilities_for)
    assert first == again
    assert [p.name for p in first.parts] == ["segsync:s", "segsync:s:2"]  # e1 part shared


def test_without_schema_nothing_but_esp_is_native() -> None:
    split = plan_split(
        defs_for({"all": [region("CA"), ESP]}),
        "s",
        "mc",
        "auto",
        None,
        capabilities=capabilities_for,
    )
    assert split.native is not None and len(split.parts) == 1


def test_plan_splits_reports_every_failure() -> None:
    defs = defs_for(
        {"all": [ESP, EVENT]},
        destinations=[{"to": "mc", "mode": "tag"}, {"to": "kl", "mode": "list"}],
    )
    with pytest.raises(PlanError) as info:
        plan_splits(defs, capabilities=capabilities_for)
    assert len(info.value.issues) == 2


def test_auto_keeps_mapped_attributes_native_rather_than_one_bigger_tag() -> None:
    split = plan_split(
        defs_for({"all": [region("CA"), EVENT]}),
        "s",
        "mc",
        "auto",
        SCHEMA,
        capabilities=capabilities_for,
    )
    assert split.native is not None
    body = render_native("mailchimp", split.native, {"segsync:s": "1"})
    assert body["match"] == "all"
    assert {"condition_type": "TextMerge", "field": "STATE", "op": "is", "value": "CA"} in body[
        "conditions"
    ]
    assert split.parts[0].rule == EventCondition.model_validate(EVENT)
