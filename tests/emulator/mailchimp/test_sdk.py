"""The official mailchimp-marketing SDK against the emulator: every endpoint segsync uses
answers in the shape the SDK expects, and errors surface as ``ApiClientError``."""

from __future__ import annotations

import json

import mailchimp_marketing
import pytest
from mailchimp_marketing.api_client import ApiClientError

from connector.emulator import Emulator
from connector.emulator.mailchimp.account import MailchimpState, subscriber_hash

LIST_ID = "demo-audience"


@pytest.fixture
def sdk(mailchimp: Emulator[MailchimpState]) -> mailchimp_marketing.Client:
    client = mailchimp_marketing.Client()
    client.set_config({"api_key": mailchimp.api_key, "server": "us1"})
    client.api_client.host = mailchimp.base_url
    return client


def test_contacts_through_the_sdk(
    sdk: mailchimp_marketing.Client, mailchimp: Emulator[MailchimpState]
) -> None:
    assert sdk.ping.get() == {"health_status": "Everything's Chimpy!"}
    assert sdk.lists.get_list(LIST_ID, fields=["id", "name"]) == {
        "id": LIST_ID,
        "name": LIST_ID,
    }
    fields = sdk.lists.get_list_merge_fields(LIST_ID, count=100)
    assert [f["tag"] for f in fields["merge_fields"]] == ["FNAME", "LNAME", "ADDRESS", "PHONE"]
    created = sdk.lists.batch_list_members(
        LIST_ID,
        {
            "members": [
                {
                    "email_address": "a@x.com",
                    "status": "subscribed",
                    "merge_fields": {"FNAME": "A"},
                },
                {"email_address": "broken", "status": "subscribed"},
            ],
            "update_existing": False,
        },
    )
    assert created["total_created"] == 1 and created["error_count"] == 1
    member = sdk.lists.get_list_member(LIST_ID, subscriber_hash("a@x.com"))
    assert member["merge_fields"]["FNAME"] == "A"
    upserted = sdk.lists.set_list_member(
        LIST_ID,
        subscriber_hash("b@x.com"),
        {"email_address": "b@x.com", "status_if_new": "transactional"},
    )
    assert upserted["status"] == "transactional"
    patched = sdk.lists.update_list_member(
        LIST_ID, subscriber_hash("b@x.com"), {"merge_fields": {"LNAME": "B"}}
    )
    assert patched["merge_fields"]["LNAME"] == "B"
    listed = sdk.lists.get_list_members_info(LIST_ID, status="transactional", count=5)
    assert listed["total_items"] == 1
    done = sdk.lists.update_list_member_tags(
        LIST_ID,
        subscriber_hash("a@x.com"),
        {"tags": [{"name": "segsync:x", "status": "active"}], "is_syncing": True},
    )
    assert done.status_code == 204
    assert mailchimp.state.tags_of(LIST_ID, "a@x.com") == {"segsync:x"}


def test_tags_and_segments_through_the_sdk(
    sdk: mailchimp_marketing.Client, mailchimp: Emulator[MailchimpState]
) -> None:
    for email in ("a@x.com", "b@x.com", "c@x.com"):
        mailchimp.state.add_member(LIST_ID, email)
    mailchimp.state.set_status(LIST_ID, "c@x.com", "unsubscribed")
    tag = sdk.lists.create_segment(LIST_ID, {"name": "segsync:t", "static_segment": []})
    changed = sdk.lists.batch_segment_members(
        {"members_to_add": ["a@x.com", "c@x.com", "ghost@x.com"]}, LIST_ID, tag["id"]
    )
    assert changed["total_added"] == 2 and changed["errors"][0]["email_addresses"] == [
        "ghost@x.com"
    ]
    page = sdk.lists.get_segment_members_list(LIST_ID, tag["id"], count=1000)
    assert [m["email_address"] for m in page["members"]] == ["a@x.com"]
    everyone = sdk.lists.get_segment_members_list(
        LIST_ID, tag["id"], count=1000, include_unsubscribed=True
    )
    assert everyone["total_items"] == 2
    found = sdk.lists.tag_search(LIST_ID, name="segsync")
    assert found["tags"] == [{"id": tag["id"], "name": "segsync:t"}]
    statics = sdk.lists.list_segments(LIST_ID, type="static", count=1000)
    assert statics["total_items"] == 1
    native = sdk.lists.create_segment(
        LIST_ID,
        {
            "name": "native",
            "options": {
                "match": "all",
                "conditions": [
                    {
                        "condition_type": "StaticSegment",
                        "field": "static_segment",
                        "op": "static_is",
                        "value": tag["id"],
                    }
                ],
            },
        },
    )
    assert sdk.lists.get_segment(LIST_ID, native["id"])["member_count"] == 1
    updated = sdk.lists.update_segment(
        LIST_ID, native["id"], {"name": "native", "options": {"match": "any", "conditions": []}}
    )
    assert updated["options"] == {"match": "any", "conditions": []}
    sdk.lists.delete_segment(LIST_ID, native["id"])


def test_errors_surface_as_api_client_errors(sdk: mailchimp_marketing.Client) -> None:
    with pytest.raises(ApiClientError) as missing:
        sdk.lists.get_list("nope")
    assert missing.value.status_code == 404
    assert json.loads(missing.value.text)["title"] == "Resource Not Found"  # text, not parsed
    with pytest.raises(ApiClientError) as too_many:
        sdk.lists.batch_segment_members(
            {"members_to_add": [f"m{i}@x.com" for i in range(501)]}, LIST_ID, "1"
        )
    assert too_many.value.status_code == 400
    sdk.set_config({"api_key": "0" * 32 + "-us1", "server": "us1"})
    with pytest.raises(ApiClientError) as denied:
        sdk.ping.get()
    assert denied.value.status_code == 401
