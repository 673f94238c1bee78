"""Mailchimp tags and saved segments over loopback HTTP: shapes, batch limits, paging,
condition checks and computed membership."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connector.emulator import Emulator
from connector.emulator.mailchimp.account import MailchimpState

LIST = "/lists/demo-audience"


@pytest.fixture
def people(mailchimp: Emulator[MailchimpState]) -> MailchimpState:
    state = mailchimp.state
    state.add_merge_field("demo-audience", "STATE")
    for email, status, region in [
        ("a@x.com", "subscribed", "CA"),
        ("b@x.com", "subscribed", "ny"),
        ("c@x.com", "unsubscribed", "CA"),
        ("d@x.com", "cleaned", "CA"),
        ("e@x.com", "transactional", "ca"),
        ("f@x.com", "pending", ""),
        ("g@x.com", "archived", "CA"),
    ]:
        state.add_member("demo-audience", email, status, merge_fields={"STATE": region})
    return state


def create(mc: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = mc.post(f"{LIST}/segments", json=body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def members(mc: httpx.Client, segment_id: int, **params: Any) -> set[str]:
    data = mc.get(f"{LIST}/segments/{segment_id}/members", params={"count": 1000, **params}).json()
    return {m["email_address"] for m in data["members"]}


def test_tag_create_read_list_update_delete(mc: httpx.Client, people: MailchimpState) -> None:
    tag = create(mc, {"name": "segsync:vip", "static_segment": ["a@x.com", "nobody@x.com"]})
    assert tag["type"] == "static" and tag["member_count"] == 1
    assert {"id", "name", "member_count", "type", "created_at", "updated_at", "list_id"} <= set(tag)
    saved = create(
        mc,
        {
            "name": "native",
            "options": {
                "match": "all",
                "conditions": [
                    {"condition_type": "TextMerge", "field": "STATE", "op": "is", "value": "ca"}
                ],
            },
        },
    )
    assert saved["type"] == "saved" and saved["options"]["match"] == "all"
    assert mc.get(f"{LIST}/segments/{tag['id']}").json()["name"] == "segsync:vip"
    statics = mc.get(f"{LIST}/segments", params={"type": "static"}).json()
    assert [s["id"] for s in statics["segments"]] == [tag["id"]] and statics["total_items"] == 1
    everything = mc.get(f"{LIST}/segments", params={"count": 1, "offset": 1}).json()
    assert everything["total_items"] == 2 and everything["segments"][0]["id"] == saved["id"]
    dup = mc.post(f"{LIST}/segments", json={"name": "SEGSYNC:VIP", "static_segment": []})
    assert dup.status_code == 400
    neither = mc.post(f"{LIST}/segments", json={"name": "x"})
    assert neither.status_code == 400 and "static_segment" in neither.json()["detail"]
    renamed = mc.patch(f"{LIST}/segments/{tag['id']}", json={"name": "segsync:vip2"})
    assert renamed.json()["name"] == "segsync:vip2" and renamed.json()["member_count"] == 1
    assert mc.delete(f"{LIST}/segments/{tag['id']}").status_code == 204
    assert mc.get(f"{LIST}/segments/{tag['id']}").status_code == 404
    assert mc.get(f"{LIST}/segments/123456789").status_code == 404


def test_bulk_membership_at_limit_and_one_over(
    mc: httpx.Client, mailchimp: Emulator[MailchimpState]
) -> None:
    state = mailchimp.state
    for i in range(500):
        state.add_member("demo-audience", f"m{i}@x.com")
    tag = create(mc, {"name": "segsync:big", "static_segment": []})
    url = f"{LIST}/segments/{tag['id']}"
    emails = [f"m{i}@x.com" for i in range(500)]
    added = mc.post(url, json={"members_to_add": emails})
    assert added.status_code == 200
    body = added.json()
    assert body["total_added"] == 500 and body["error_count"] == 0
    assert set(body) >= {"members_added", "members_removed", "errors", "total_removed"}
    over = mc.post(url, json={"members_to_remove": [*emails, "x@x.com"]})
    assert over.status_code == 400
    assert over.json()["detail"] == "Maximum allowed member items exceeded"
    assert len(state.tag_members("demo-audience", "segsync:big")) == 500


def test_bulk_membership_errors_idempotence_and_other_tags(
    mc: httpx.Client, people: MailchimpState
) -> None:
    people.tag("demo-audience", "theirs", ["a@x.com"])
    tag = create(mc, {"name": "segsync:t", "static_segment": []})
    url = f"{LIST}/segments/{tag['id']}"
    body = mc.post(
        url, json={"members_to_add": ["A@x.com", "c@x.com", "ghost@x.com", "g@x.com"]}
    ).json()
    assert body["total_added"] == 2 and body["error_count"] == 2
    assert body["errors"] == [
        {
            "email_addresses": ["ghost@x.com", "g@x.com"],
            "error": "Email address is not a list member",
        }
    ]
    again = mc.post(url, json={"members_to_add": ["a@x.com"], "members_to_remove": ["c@x.com"]})
    assert again.json()["total_added"] == 0 and again.json()["total_removed"] == 1
    assert people.tag_members("demo-audience", tag["id"]) == {"a@x.com"}
    assert people.tags_of("demo-audience", "a@x.com") == {"theirs", "segsync:t"}
    saved = create(
        mc,
        {
            "name": "s",
            "options": {
                "match": "any",
                "conditions": [
                    {
                        "condition_type": "EmailAddress",
                        "field": "EMAIL",
                        "op": "is",
                        "value": "a@x.com",
                    }
                ],
            },
        },
    )
    refused = mc.post(f"{LIST}/segments/{saved['id']}", json={"members_to_add": ["a@x.com"]})
    assert refused.status_code == 400 and "Static Segment" in refused.json()["detail"]


def test_segment_members_paging_and_include_flags(mc: httpx.Client, people: MailchimpState) -> None:
    emails = ["a@x.com", "b@x.com", "c@x.com", "d@x.com", "e@x.com", "f@x.com"]
    tag = create(mc, {"name": "segsync:all", "static_segment": emails})
    assert members(mc, tag["id"]) == {"a@x.com", "b@x.com", "f@x.com"}
    assert members(mc, tag["id"], include_unsubscribed="true") == {
        "a@x.com",
        "b@x.com",
        "c@x.com",
        "f@x.com",
    }
    flags = {
        "include_unsubscribed": "true",
        "include_cleaned": "true",
        "include_transactional": "true",
    }
    assert members(mc, tag["id"], **flags) == set(emails)
    page = mc.get(f"{LIST}/segments/{tag['id']}/members", params={"count": 2, "offset": 2}).json()
    assert page["total_items"] == 3 and [m["email_address"] for m in page["members"]] == ["f@x.com"]
    at_limit = mc.get(f"{LIST}/segments/{tag['id']}/members", params={"count": 1000})
    assert at_limit.status_code == 200
    over = mc.get(f"{LIST}/segments/{tag['id']}/members", params={"count": 1001})
    assert over.status_code == 400
    assert people.segment_members("demo-audience", "segsync:all") == {
        "a@x.com",
        "b@x.com",
        "f@x.com",
    }


def test_tag_search_is_a_case_insensitive_prefix_over_tags(
    mc: httpx.Client, people: MailchimpState
) -> None:
    for name in ("segsync:a", "Segsync:b", "other"):
        people.tag("demo-audience", name)
    create(mc, {"name": "segsync:saved", "options": {"match": "any", "conditions": []}})
    found = mc.get(f"{LIST}/tag-search", params={"name": "segsync:"}).json()
    assert {t["name"] for t in found["tags"]} == {"segsync:a", "Segsync:b"}
    assert found["total_items"] == 2 and set(found["tags"][0]) == {"id", "name"}
    assert mc.get(f"{LIST}/tag-search").json()["total_items"] == 3


def conditions_of(*items: dict[str, Any], match: str = "all") -> dict[str, Any]:
    return {"name": "native", "options": {"match": match, "conditions": list(items)}}


def text(op: str, value: str = "", field: str = "STATE") -> dict[str, Any]:
    return {"condition_type": "TextMerge", "field": field, "op": op, "value": value}


def test_saved_segment_membership_is_computed(mc: httpx.Client, people: MailchimpState) -> None:
    tag = create(mc, {"name": "segsync:p", "static_segment": ["a@x.com", "b@x.com", "f@x.com"]})
    static_is = {
        "condition_type": "StaticSegment",
        "field": "static_segment",
        "op": "static_is",
        "value": tag["id"],
    }
    both = create(mc, conditions_of(static_is, text("is", "CA")))
    assert members(mc, both["id"]) == {"a@x.com"}
    assert both["member_count"] == 1
    either = create(mc, {**conditions_of(static_is, text("is", "ca"), match="any"), "name": "n2"})
    assert members(mc, either["id"]) == {"a@x.com", "b@x.com", "f@x.com"}
    flags = {
        "include_unsubscribed": "true",
        "include_cleaned": "true",
        "include_transactional": "true",
    }
    assert members(mc, either["id"], **flags) == {
        "a@x.com",
        "b@x.com",
        "c@x.com",
        "d@x.com",
        "e@x.com",
        "f@x.com",
    }
    cases = {
        "n3": (text("blank"), {"f@x.com"}),
        "n4": (text("blank_not"), {"a@x.com", "b@x.com"}),
        "n5": (text("starts", "N"), {"b@x.com"}),
        "n6": (text("not", "ca"), {"b@x.com", "f@x.com"}),
        "n7": (
            {
                "condition_type": "StaticSegment",
                "field": "static_segment",
                "op": "static_not",
                "value": tag["id"],
            },
            set(),
        ),
        "n8": (
            {"condition_type": "EmailAddress", "field": "merge0", "op": "ends", "value": "@X.COM"},
            {"a@x.com", "b@x.com", "f@x.com"},
        ),
        "n9": ({"condition_type": "Aim", "field": "aim", "op": "open", "value": "any"}, set()),
    }
    for name, (condition, expected) in cases.items():
        created = create(mc, {**conditions_of(condition), "name": name})
        assert members(mc, created["id"]) == expected, name
    # moving a tag's members moves the native segment built on it
    mc.post(f"{LIST}/segments/{tag['id']}", json={"members_to_remove": ["a@x.com"]})
    assert members(mc, both["id"]) == set()
    updated = mc.patch(
        f"{LIST}/segments/{both['id']}",
        json={"name": "native", "options": {"match": "all", "conditions": [text("is", "ny")]}},
    )
    assert updated.status_code == 200 and members(mc, both["id"]) == {"b@x.com"}


@pytest.mark.parametrize(
    ("conditions", "field"),
    [
        ([text("is", "x")] * 6, "options.conditions"),
        (
            [{"condition_type": "Nope", "field": "x", "op": "is"}],
            "options.conditions.item:0.condition_type",
        ),
        ([text("equals", "x")], "options.conditions.item:0.op"),
        ([text("is", "x", field="NOFIELD")], "options.conditions.item:0.field"),
        (
            [{"condition_type": "TextMerge", "field": "STATE", "op": "is"}],
            "options.conditions.item:0.value",
        ),
        ([{"match": "any", "conditions": [text("is", "x")]}], "options.conditions.item:0"),
        (
            [
                {
                    "condition_type": "StaticSegment",
                    "field": "static_segment",
                    "op": "static_is",
                    "value": 1,
                }
            ],
            "options.conditions.item:0.value",
        ),
        (
            [{"condition_type": "Aim", "field": "email", "op": "open", "value": "x"}],
            "options.conditions.item:0.field",
        ),
    ],
)
def test_condition_validation(
    mc: httpx.Client, people: MailchimpState, conditions: list[Any], field: str
) -> None:
    response = mc.post(f"{LIST}/segments", json=conditions_of(*conditions))
    assert response.status_code == 400
    body = response.json()
    assert body["title"] == "Invalid Resource"
    assert field in {e["field"] for e in body["errors"]}


def test_condition_limit_is_a_setting(
    mc: httpx.Client, mailchimp: Emulator[MailchimpState], people: MailchimpState
) -> None:
    assert (
        mc.post(f"{LIST}/segments", json=conditions_of(*[text("is", "x")] * 5)).status_code == 200
    )
    mailchimp.options.max_conditions = 7
    body = {**conditions_of(*[text("is", "x")] * 7), "name": "seven"}
    assert mc.post(f"{LIST}/segments", json=body).status_code == 200
    bad_match = {"name": "m", "options": {"match": "some", "conditions": []}}
    assert mc.post(f"{LIST}/segments", json=bad_match).status_code == 400
