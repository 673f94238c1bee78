"""Mailchimp adapter: the exact requests each method sends, paging and batch limits."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import httpx
import pytest
import respx

from connector.esp import EspObject
from connector.esp.mailchimp.adapter import MailchimpAdapter, subscriber_hash
from tests.esp.conftest import MAILCHIMP_KEY
from tests.esp.mailchimp.conftest import AUDIENCE, BASE, body_of, segments_page

TAG = EspObject("4021", "segsync:vip", "tag")


def test_subscriber_hash_is_md5_of_the_lower_cased_email() -> None:
    expected = hashlib.md5(b"urist.mcvankab@freddiesjokes.com").hexdigest()
    assert subscriber_hash(" Urist.McVankab@FreddiesJokes.com ") == expected
    assert expected == "62eeb292278cc15f5817cb78f7790b08"  # Mailchimp's documented example


def test_check_reads_the_audience_with_basic_auth(
    mailchimp: MailchimpAdapter, mc_router: respx.Router
) -> None:
    route = mc_router.get(f"/lists/{AUDIENCE}").respond(200, json={"id": AUDIENCE, "name": "x"})
    mailchimp.check()
    request = route.calls.last.request
    assert request.url.params["fields"] == "id,name"
    _, _, key = (
        base64.b64decode(request.headers["authorization"].split()[1]).decode().partition(":")
    )
    assert key == MAILCHIMP_KEY
    assert mailchimp.calls[("GET", "/lists/{list_id}", 200)] == 1


def test_default_base_url_comes_from_the_key_data_centre() -> None:
    adapter = MailchimpAdapter(api_key=MAILCHIMP_KEY, audience_id=AUDIENCE)
    assert adapter.base_url == BASE
    adapter.close()


def test_list_owned_pages_and_filters_by_prefix_ignoring_case(
    mailchimp: MailchimpAdapter, mc_router: respx.Router
) -> None:
    segments = [{"id": i, "name": f"other-{i}", "type": "static"} for i in range(1500)]
    segments += [
        {"id": 9001, "name": "SegSync:vip", "type": "static"},
        {"id": 9002, "name": "segsync:vip-native", "type": "saved"},
    ]
    route = mc_router.get(f"/lists/{AUDIENCE}/segments").mock(side_effect=segments_page(segments))
    owned = mailchimp.list_owned()
    assert owned == [
        EspObject("9001", "SegSync:vip", "tag"),
        EspObject("9002", "segsync:vip-native", "segment"),
    ]
    offsets = [int(c.request.url.params["offset"]) for c in route.calls]
    assert offsets == [0, 1000]
    assert {c.request.url.params["count"] for c in route.calls} == {"1000"}


def test_ensure_group_finds_an_existing_tag_ignoring_case(
    mailchimp: MailchimpAdapter, mc_router: respx.Router
) -> None:
    mc_router.get(f"/lists/{AUDIENCE}/segments").mock(
        side_effect=segments_page([{"id": 77, "name": "segsync:VIP", "type": "static"}])
    )
    create = mc_router.post(f"/lists/{AUDIENCE}/segments").respond(200, json={"id": 1})
    assert mailchimp.ensure_group("segsync:vip") == EspObject("77", "segsync:VIP", "tag")
    assert not create.called


def test_ensure_group_creates_an_empty_static_segment(
    mailchimp: MailchimpAdapter, mc_router: respx.Router
) -> None:
    mc_router.get(f"/lists/{AUDIENCE}/segments").mock(side_effect=segments_page([]))
    create = mc_router.post(f"/lists/{AUDIENCE}/segments").respond(
        200, json={"id": 4021, "name": "segsync:vip", "type": "static"}
    )
    group = mailchimp.ensure_group("segsync:vip")
    assert group == EspObject("4021", "segsync:vip", "tag", created=True)
    assert body_of(create.calls.last.request) == {"name": "segsync:vip", "static_segment": []}


def test_add_members_sends_one_bulk_call_of_exactly_500(
    mailchimp: MailchimpAdapter, mc_router: respx.Router
) -> None:
    emails = [f"p{i}@example.com" for i in range(500)]
    route = mc_router.post(f"/lists/{AUDIENCE}/segments/{TAG.id}").respond(
        200,
        json={
            "members_added": [{"email_address": e} for e in emails[:498]],
            "members_removed": [],
            "errors": [
                {
                    "email_addresses": [emails[498]],
                    "error": "Email address is not a list member",
                },
                {
                    "email_addresses": [emails[499]],
                    "error": "p499@example.com is in a compliance state",
                },
            ],
            "total_added": 498,
            "total_removed": 0,
            "error_count": 2,
        },
    )
    result = mailchimp.add_members(TAG, emails)
    assert route.call_count == 1
    assert body_of(route.calls.last.request) == {"members_to_add": emails}
    assert result.applied == emails[:498]
    assert [(e.email, e.code, e.permanent) for e in result.errors] == [
        (emails[498], "not_in_audience", False),
        (emails[499], "compliance_state", True),
    ]


def test_add_members_refuses_more_than_the_limit_and_skips_empty(
    mailchimp: MailchimpAdapter, mc_router: respx.Router
) -> None:
    route = mc_router.post(f"/lists/{AUDIENCE}/segments/{TAG.id}").respond(200, json={})
    with pytest.raises(ValueError, match="at most 500"):
        mailchimp.add_members(TAG, [f"p{i}@example.com" for i in range(501)])
    assert mailchimp.add_members(TAG, []).applied == []
    assert not route.called


def test_remove_members_counts_addresses_outside_the_audience_as_applied(
    mailchimp: MailchimpAdapter, mc_router: respx.Router
) -> None:
    route = mc_router.post(f"/lists/{AUDIENCE}/segments/{TAG.id}").respond(
        200,
        json={
            "members_removed": [{"email_address": "a@example.com"}],
            "errors": [{"email_addresses": ["gone@example.com"], "error": "not a list member"}],
        },
    )
    result = mailchimp.remove_members(TAG, ["a@example.com", "gone@example.com"])
    assert body_of(route.calls.last.request) == {
        "members_to_remove": ["a@example.com", "gone@example.com"]
    }
    assert result.applied == ["a@example.com", "gone@example.com"]
    assert result.errors == []


def test_iter_members_pages_by_1000_including_every_status(
    mailchimp: MailchimpAdapter, mc_router: respx.Router
) -> None:
    everyone = [f"P{i}@Example.com" for i in range(2500)]

    def page(request: httpx.Request) -> httpx.Response:
        offset, count = int(request.url.params["offset"]), int(request.url.params["count"])
        chunk = everyone[offset : offset + count]
        return httpx.Response(
            200,
            json={"members": [{"email_address": e} for e in chunk], "total_items": len(everyone)},
        )

    route = mc_router.get(f"/lists/{AUDIENCE}/segments/{TAG.id}/members").mock(side_effect=page)
    assert list(mailchimp.iter_members(TAG)) == [e.lower() for e in everyone]
    params = [c.request.url.params for c in route.calls]
    assert [p["offset"] for p in params] == ["0", "1000", "2000"]
    for p in params:
        assert p["count"] == "1000"
        assert p["include_cleaned"] == p["include_unsubscribed"] == "true"
        assert p["include_transactional"] == "true"


def test_upsert_segment_creates_with_the_exact_options(
    mailchimp: MailchimpAdapter, mc_router: respx.Router
) -> None:
    options: dict[str, Any] = {
        "match": "all",
        "conditions": [
            {
                "condition_type": "StaticSegment",
                "field": "static_segment",
                "op": "static_is",
                "value": 4021,
            },
            {"condition_type": "TextMerge", "field": "STATE", "op": "is", "value": "CA"},
        ],
    }
    mc_router.get(f"/lists/{AUDIENCE}/segments").mock(side_effect=segments_page([]))
    create = mc_router.post(f"/lists/{AUDIENCE}/segments").respond(
        200, json={"id": 5100, "name": "segsync:vip", "type": "saved"}
    )
    made = mailchimp.upsert_segment("segsync:vip", options, None)
    assert made == EspObject("5100", "segsync:vip", "segment", created=True)
    assert body_of(create.calls.last.request) == {"name": "segsync:vip", "options": options}


def test_upsert_segment_patches_by_id_or_by_existing_name(
    mailchimp: MailchimpAdapter, mc_router: respx.Router
) -> None:
    options = {"match": "any", "conditions": []}
    mc_router.get(f"/lists/{AUDIENCE}/segments").mock(
        side_effect=segments_page([{"id": 61, "name": "segsync:vip", "type": "saved"}])
    )
    patch = mc_router.patch(url__regex=rf"/lists/{AUDIENCE}/segments/\d+").mock(
        side_effect=lambda request: httpx.Response(
            200, json={"id": int(request.url.path.rsplit("/", 1)[1]), "name": "segsync:vip"}
        )
    )
    create = mc_router.post(f"/lists/{AUDIENCE}/segments").respond(200, json={"id": 1})
    assert mailchimp.upsert_segment("segsync:vip", options, "60").id == "60"
    assert mailchimp.upsert_segment("segsync:vip", options, None) == EspObject(
        "61", "segsync:vip", "segment", created=False
    )
    assert [c.request.url.path.rsplit("/", 1)[1] for c in patch.calls] == ["60", "61"]
    assert body_of(patch.calls.last.request) == {"name": "segsync:vip", "options": options}
    assert not create.called


def test_a_tag_missing_from_list_owned_is_created_without_a_second_look_up(
    mailchimp: MailchimpAdapter, mc_router: respx.Router
) -> None:
    read = mc_router.get(f"/lists/{AUDIENCE}/segments").mock(
        side_effect=segments_page([{"id": 77, "name": "segsync:VIP", "type": "static"}])
    )
    create = mc_router.post(f"/lists/{AUDIENCE}/segments").respond(
        200, json={"id": 78, "name": "segsync:churn"}
    )
    mailchimp.list_owned()
    assert mailchimp.ensure_group("segsync:churn") == EspObject(
        "78", "segsync:churn", "tag", created=True
    )
    assert read.call_count == 1 and create.call_count == 1
    # a listed name is still looked up (it may have been deleted since: recreated then)
    assert mailchimp.ensure_group("segsync:vip") == EspObject("77", "segsync:VIP", "tag")
    assert read.call_count == 2 and create.call_count == 1
