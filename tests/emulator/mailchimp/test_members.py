"""Mailchimp contact endpoints over loopback HTTP: shapes, per-member errors, statuses."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connector.emulator import Emulator
from connector.emulator.mailchimp.account import MailchimpState, subscriber_hash

LIST = "/lists/demo-audience"
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


def batch(mc: httpx.Client, members: list[dict[str, Any]], **body: Any) -> dict[str, Any]:
    response = mc.post(LIST, json={"members": members, **body})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def sub(email: str, **extra: Any) -> dict[str, Any]:
    return {"email_address": email, "status": "subscribed", **extra}


def test_ping_list_and_merge_fields(mc: httpx.Client, mailchimp: Emulator[MailchimpState]) -> None:
    assert mc.get("/ping").json() == {"health_status": "Everything's Chimpy!"}
    audience = mc.get(LIST).json()
    assert audience["id"] == "demo-audience" and audience["stats"]["member_count"] == 0
    assert mc.get(LIST, params={"fields": "id,stats.member_count"}).json() == {
        "id": "demo-audience",
        "stats": {"member_count": 0},
    }
    trimmed = mc.get(LIST, params={"exclude_fields": "contact,stats.member_count"}).json()
    assert "contact" not in trimmed and "member_count" not in trimmed["stats"]
    assert trimmed["id"] == "demo-audience" and "total_contacts" in trimmed["stats"]
    assert mc.get("/lists").json()["total_items"] == 1
    mailchimp.state.add_merge_field("demo-audience", "STATE")
    page = mc.get(f"{LIST}/merge-fields", params={"count": 2, "offset": 3}).json()
    assert page["total_items"] == 5
    assert [m["tag"] for m in page["merge_fields"]] == ["PHONE", "STATE"]
    assert {"merge_id", "tag", "name", "type", "required", "list_id"} <= set(
        page["merge_fields"][0]
    )
    missing = mc.get("/lists/nope")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json; charset=utf-8"
    assert set(missing.json()) == PROBLEM_KEYS and missing.json()["title"] == "Resource Not Found"


def test_batch_creates_then_refuses_existing_without_update_existing(mc: httpx.Client) -> None:
    first = batch(mc, [sub("A@x.com", merge_fields={"FNAME": "Ann"}), sub("b@x.com")])
    assert first["total_created"] == 2 and first["error_count"] == 0
    created = first["new_members"][0]
    assert created["id"] == subscriber_hash("a@x.com")
    assert created["status"] == "subscribed" and created["merge_fields"]["FNAME"] == "Ann"
    assert {"email_address", "status", "merge_fields", "tags", "tags_count", "list_id"} <= set(
        created
    )
    again = batch(mc, [sub("a@x.com")])
    assert again["total_created"] == 0 and again["error_count"] == 1
    error = again["errors"][0]
    assert error["error_code"] == "ERROR_CONTACT_EXISTS"
    assert set(error) == {"email_address", "error", "error_code", "field", "field_message"}
    assert "already a list member" in error["error"]


def test_batch_update_existing_never_resubscribes_compliance_states(
    mc: httpx.Client, mailchimp: Emulator[MailchimpState]
) -> None:
    state = mailchimp.state
    for email, status in [
        ("u@x.com", "unsubscribed"),
        ("c@x.com", "cleaned"),
        ("p@x.com", "pending"),
        ("t@x.com", "transactional"),
    ]:
        state.add_member("demo-audience", email, status)
    data = batch(mc, [sub(e) for e in ("u@x.com", "c@x.com", "p@x.com")], update_existing=True)
    assert data["total_updated"] == 1 and data["error_count"] == 2
    refused = {e["email_address"]: e for e in data["errors"]}
    assert set(refused) == {"u@x.com", "c@x.com"}
    assert all("compliance state" in e["error"] for e in refused.values())
    assert all(e["error_code"] == "ERROR_GENERIC" for e in refused.values())
    assert state.member("demo-audience", "u@x.com").status == "unsubscribed"  # type: ignore[union-attr]
    assert state.member("demo-audience", "p@x.com").status == "subscribed"  # type: ignore[union-attr]
    # status_if_new applies to new contacts only: an update touches fields only
    data = batch(
        mc,
        [
            {
                "email_address": "T@x.com",
                "status_if_new": "subscribed",
                "merge_fields": {"LNAME": "T"},
            },
            {"email_address": "U@x.com", "status_if_new": "subscribed"},
            {"email_address": "new@x.com", "status_if_new": "subscribed"},
        ],
        update_existing=True,
    )
    assert data["updated_members"][0]["status"] == "transactional"
    assert data["updated_members"][0]["merge_fields"]["LNAME"] == "T"
    assert data["updated_members"][1]["status"] == "unsubscribed"
    assert data["new_members"][0]["status"] == "subscribed"
    assert state.contract_violations == []


def test_batch_member_without_status_or_status_if_new_refuses_the_whole_request(
    mc: httpx.Client, mailchimp: Emulator[MailchimpState]
) -> None:
    mailchimp.state.add_member("demo-audience", "t@x.com", "transactional")
    response = mc.post(
        LIST,
        json={
            "members": [sub("ok@x.com"), {"email_address": "t@x.com", "merge_fields": {}}],
            "update_existing": True,
        },
    )
    assert response.status_code == 400
    body = response.json()
    assert body["title"] == "Invalid Resource"
    assert body["detail"] == "Required fields were not provided: status"
    assert body["errors"] == [
        {"field": "members.item:1.status", "message": "Required fields were not provided: status"}
    ]
    assert mailchimp.state.emails("demo-audience") == {"t@x.com"}  # nothing applied
    assert len(mailchimp.state.contract_violations) == 1
    bad_enum = mc.post(LIST, json={"members": [{"email_address": "a@x.com", "status": "yes"}]})
    assert bad_enum.status_code == 400
    assert bad_enum.json()["errors"][0]["field"] == "members.item:0.status"


def test_batch_per_member_errors_leave_the_rest(
    mc: httpx.Client, mailchimp: Emulator[MailchimpState]
) -> None:
    mailchimp.state.add_merge_field("demo-audience", "SCORE", "number")
    data = batch(
        mc,
        [
            sub("not-an-email"),
            sub("ok@x.com"),
            sub("ok@x.com"),
            sub("typo@x.com", merge_fields={"NOPE": "1"}),
            sub("num@x.com", merge_fields={"SCORE": "high"}),
        ],
    )
    assert data["total_created"] == 1 and data["error_count"] == 4
    errors = {e["email_address"]: e for e in data["errors"]}
    assert "invalid email address" in errors["not-an-email"]["error"]
    assert errors["typo@x.com"]["field"] == "NOPE"
    assert errors["num@x.com"]["field"] == "SCORE"
    assert errors["num@x.com"]["field_message"] == "Please enter a number"
    assert mailchimp.state.emails("demo-audience") == {"ok@x.com"}
    mailchimp.options.unknown_merge_fields = "ignore"
    assert batch(mc, [sub("typo@x.com", merge_fields={"NOPE": "1"})])["total_created"] == 1


def test_batch_size_limit_is_500(mc: httpx.Client) -> None:
    at_limit = batch(mc, [sub(f"m{i}@x.com") for i in range(500)])
    assert at_limit["total_created"] == 500
    over = mc.post(LIST, json={"members": [sub(f"n{i}@x.com") for i in range(501)]})
    assert over.status_code == 400
    body = over.json()
    assert body["title"] == "Invalid Resource" and body["errors"][0]["field"] == "members"
    assert mc.post(LIST, content=b"{nope").json()["title"] == "JSON Parse Error"
    assert mc.post(LIST, json={"update_existing": True}).status_code == 400


def test_tags_in_bodies_add_and_sync_tags_replaces(
    mc: httpx.Client, mailchimp: Emulator[MailchimpState]
) -> None:
    state = mailchimp.state
    state.add_member("demo-audience", "a@x.com", tags=["theirs", "segsync:x"])
    batch(
        mc,
        [{"email_address": "a@x.com", "status_if_new": "subscribed", "tags": ["segsync:y"]}],
        update_existing=True,
    )
    assert state.tags_of("demo-audience", "a@x.com") == {"theirs", "segsync:x", "segsync:y"}
    batch(
        mc,
        [{"email_address": "a@x.com", "status_if_new": "subscribed", "tags": ["segsync:y"]}],
        update_existing=True,
        sync_tags=True,
    )
    assert state.tags_of("demo-audience", "a@x.com") == {"segsync:y"}


def test_single_member_get_put_patch(mc: httpx.Client, mailchimp: Emulator[MailchimpState]) -> None:
    state = mailchimp.state
    state.add_member("demo-audience", "Mixed@X.com", "unsubscribed", merge_fields={"FNAME": "M"})
    by_hash = mc.get(f"{LIST}/members/{subscriber_hash('mixed@x.com')}").json()
    by_email = mc.get(f"{LIST}/members/MIXED@x.com").json()
    assert by_hash == by_email and by_hash["status"] == "unsubscribed"
    assert mc.get(f"{LIST}/members/{subscriber_hash('nobody@x.com')}").status_code == 404
    # PUT upsert: status_if_new applies only to new members
    put = mc.put(
        f"{LIST}/members/{subscriber_hash('new@x.com')}",
        json={"email_address": "new@x.com", "status_if_new": "subscribed"},
    )
    assert put.status_code == 200 and put.json()["status"] == "subscribed"
    kept = mc.put(
        f"{LIST}/members/mixed@x.com",
        json={
            "email_address": "mixed@x.com",
            "status_if_new": "subscribed",
            "merge_fields": {"FNAME": "N"},
        },
    ).json()
    assert kept["status"] == "unsubscribed" and kept["merge_fields"]["FNAME"] == "N"
    refused = mc.put(
        f"{LIST}/members/mixed@x.com",
        json={
            "email_address": "mixed@x.com",
            "status_if_new": "subscribed",
            "status": "subscribed",
        },
    )
    assert refused.status_code == 400 and refused.json()["title"] == "Member In Compliance State"
    assert mc.put(f"{LIST}/members/x", json={"email_address": "new@x.com"}).status_code == 400
    mismatch = mc.put(
        f"{LIST}/members/{subscriber_hash('other@x.com')}",
        json={"email_address": "new@x.com", "status_if_new": "subscribed"},
    )
    assert mismatch.status_code == 400
    patched = mc.patch(f"{LIST}/members/new@x.com", json={"status": "unsubscribed"}).json()
    assert patched["status"] == "unsubscribed"
    # PUT and PATCH answers honour ``fields`` like every other response
    only = {"fields": "email_address,status"}
    assert mc.patch(f"{LIST}/members/new@x.com", params=only, json={}).json() == {
        "email_address": "new@x.com",
        "status": "unsubscribed",
    }
    put_only = mc.put(
        f"{LIST}/members/new@x.com",
        params={"fields": "status"},
        json={"email_address": "new@x.com", "status_if_new": "subscribed"},
    )
    assert put_only.json() == {"status": "unsubscribed"}
    assert mc.patch(f"{LIST}/members/new@x.com", json={"status": "subscribed"}).status_code == 400
    assert mc.patch(f"{LIST}/members/ghost@x.com", json={}).status_code == 404
    bad = mc.patch(f"{LIST}/members/new@x.com", json={"merge_fields": {"NOPE": 1}})
    assert bad.status_code == 400 and bad.json()["errors"] == [
        {"field": "NOPE", "message": "The merge field NOPE does not exist in this audience"}
    ]


def test_members_paging_and_status_filter(
    mc: httpx.Client, mailchimp: Emulator[MailchimpState]
) -> None:
    statuses = ["subscribed", "unsubscribed", "cleaned", "pending", "transactional", "archived"]
    for i in range(12):
        mailchimp.state.add_member("demo-audience", f"m{i}@x.com", statuses[i % 6])
    everyone = mc.get(f"{LIST}/members", params={"count": 1000}).json()
    assert everyone["total_items"] == 10  # archived members are not listed by default
    page = mc.get(f"{LIST}/members", params={"count": 3, "offset": 3}).json()
    assert [m["email_address"] for m in page["members"]] == ["m3@x.com", "m4@x.com", "m6@x.com"]
    archived = mc.get(f"{LIST}/members", params={"status": "archived"}).json()
    assert archived["total_items"] == 2
    assert mc.get(f"{LIST}/members", params={"count": 1001}).status_code == 400
    assert mc.get(f"{LIST}/members", params={"status": "gone"}).status_code == 400


def test_archived_members_come_back_as_new(
    mc: httpx.Client, mailchimp: Emulator[MailchimpState]
) -> None:
    mailchimp.state.add_member("demo-audience", "arch@x.com", "archived")
    data = batch(mc, [sub("arch@x.com")])
    assert data["total_created"] == 1 and data["new_members"][0]["status"] == "subscribed"


@pytest.mark.parametrize("syncing", [True, False])
def test_member_tags_endpoint(
    mc: httpx.Client, mailchimp: Emulator[MailchimpState], syncing: bool
) -> None:
    state = mailchimp.state
    state.add_member("demo-audience", "a@x.com", tags=["theirs", "old"])
    url = f"{LIST}/members/{subscriber_hash('a@x.com')}/tags"
    response = mc.post(
        url,
        json={
            "tags": [{"name": "NEW", "status": "active"}, {"name": "Old", "status": "inactive"}],
            "is_syncing": syncing,
        },
    )
    assert response.status_code == 204 and response.content == b""
    assert state.tags_of("demo-audience", "a@x.com") == {"theirs", "NEW"}
    assert state.automation_triggers == (0 if syncing else 1)
    listed = mc.get(url).json()
    assert {t["name"] for t in listed["tags"]} == {"theirs", "NEW"}
    assert mc.post(url, json={"tags": [{"name": "x"}]}).status_code == 400
    ghost = f"{LIST}/members/{subscriber_hash('ghost@x.com')}/tags"
    assert mc.post(ghost, json={"tags": [{"name": "x", "status": "active"}]}).status_code == 404
