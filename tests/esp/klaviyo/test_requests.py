"""Klaviyo adapter: the exact requests each method sends, ids, paging and batch limits."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from connector.esp import EspObject
from connector.esp.klaviyo.adapter import KlaviyoAdapter
from tests.esp.conftest import KLAVIYO_KEY, FakeClock
from tests.esp.klaviyo.conftest import FakeKlaviyo, body_of


def test_check_reads_lists_with_the_key_and_revision_headers(
    klaviyo: KlaviyoAdapter, account: FakeKlaviyo, kl_router: respx.Router
) -> None:
    klaviyo.check()
    request = kl_router.routes["lists"].calls.last.request
    assert request.headers["authorization"] == f"Klaviyo-API-Key {KLAVIYO_KEY}"
    assert request.headers["revision"] == "2026-10-15"
    assert request.url.params["page[size]"] == "1"
    assert klaviyo.calls[("GET", "/api/lists", 200)] == 1


def test_list_owned_follows_cursors_for_lists_and_segments(
    klaviyo: KlaviyoAdapter, account: FakeKlaviyo, kl_router: respx.Router
) -> None:
    for i in range(23):
        account.add_list(f"newsletter-{i}")
    vip = account.add_list("SEGSYNC:vip")
    account.segments["S9"] = {"name": "segsync:vip-native"}
    account.segments["S8"] = {"name": "someone else's"}
    assert klaviyo.list_owned() == [
        EspObject(vip, "SEGSYNC:vip", "list"),
        EspObject("S9", "segsync:vip-native", "segment"),
    ]
    assert kl_router.routes["lists"].call_count == 3  # 24 lists, 10 per page


def test_ensure_group_finds_by_exact_name_or_creates(
    klaviyo: KlaviyoAdapter, account: FakeKlaviyo, kl_router: respx.Router
) -> None:
    existing = account.add_list("segsync:vip")
    assert klaviyo.ensure_group("segsync:vip") == EspObject(existing, "segsync:vip", "list")
    assert kl_router.routes["lists"].calls.last.request.url.params["filter"] == (
        'equals(name,"segsync:vip")'
    )
    made = klaviyo.ensure_group("segsync:churn")
    assert made.created and made.kind == "list"
    assert body_of(kl_router.routes["create_list"].calls.last.request) == {
        "data": {"type": "list", "attributes": {"name": "segsync:churn"}}
    }
    assert kl_router.routes["create_list"].call_count == 1


def test_add_members_resolves_ids_then_adds_1000_in_one_call(
    klaviyo: KlaviyoAdapter, account: FakeKlaviyo, kl_router: respx.Router
) -> None:
    group = EspObject(account.add_list("segsync:vip"), "segsync:vip", "list")
    emails = [f"p{i}@example.com" for i in range(1000)]
    ids = {e: account.add_profile(e) for e in emails[:999]}
    klaviyo.remember_ids({e: ids[e] for e in emails[:500]})
    result = klaviyo.add_members(group, emails)
    add = kl_router.routes["add"]
    assert add.call_count == 1
    assert body_of(add.calls.last.request) == {
        "data": [{"type": "profile", "id": ids[e]} for e in emails[:999]]
    }
    # only the 500 unknown emails were looked up, 100 per request
    assert [len(chunk) for chunk in account.lookups] == [100] * 5
    assert result.applied == emails[:999]
    assert [(e.email, e.code) for e in result.errors] == [(emails[999], "profile_not_found")]
    assert klaviyo.known_ids() == ids
    with pytest.raises(ValueError, match="at most 1000"):
        klaviyo.add_members(group, [*emails, "one@more.com"])


def test_a_stale_remembered_id_is_looked_up_again_once(
    klaviyo: KlaviyoAdapter, account: FakeKlaviyo, kl_router: respx.Router
) -> None:
    group = EspObject(account.add_list("segsync:vip"), "segsync:vip", "list")
    fresh = account.add_profile("merged@example.com")
    klaviyo.remember_ids({"merged@example.com": "01DELETEDPROFILE"})
    assert klaviyo.add_members(group, ["merged@example.com"]).applied == ["merged@example.com"]
    assert kl_router.routes["add"].call_count == 2
    assert account.lists[group.id]["members"] == [fresh]
    assert klaviyo.known_ids() == {"merged@example.com": fresh}


def test_remove_members_deletes_by_id_and_needs_no_profile_for_strangers(
    klaviyo: KlaviyoAdapter, account: FakeKlaviyo, kl_router: respx.Router
) -> None:
    pid = account.add_profile("a@example.com")
    group = EspObject(account.add_list("segsync:vip", pid), "segsync:vip", "list")
    result = klaviyo.remove_members(group, ["a@example.com", "nobody@example.com"])
    assert result.applied == ["a@example.com", "nobody@example.com"]
    request = kl_router.routes["remove"].calls.last.request
    assert request.method == "DELETE"
    assert body_of(request) == {"data": [{"type": "profile", "id": pid}]}
    assert account.lists[group.id]["members"] == []


def test_iter_members_pages_by_100_and_learns_ids(
    klaviyo: KlaviyoAdapter, account: FakeKlaviyo, kl_router: respx.Router
) -> None:
    ids = [account.add_profile(f"M{i}@Example.com") for i in range(250)]
    group = EspObject(account.add_list("segsync:vip", *ids), "segsync:vip", "list")
    emails = list(klaviyo.iter_members(group))
    assert emails == [f"m{i}@example.com" for i in range(250)]
    calls = kl_router.routes["members"].calls
    assert [c.request.url.params["page[size]"] for c in calls] == ["100"] * 3
    assert calls[0].request.url.params["fields[profile]"] == "email"
    assert len(klaviyo.known_ids()) == 250


def test_upsert_segment_sends_the_definition_unchanged(
    klaviyo: KlaviyoAdapter, account: FakeKlaviyo, kl_router: respx.Router, clock: FakeClock
) -> None:
    definition: dict[str, Any] = {
        "condition_groups": [
            {
                "conditions": [
                    {
                        "type": "profile-group-membership",
                        "is_member": True,
                        "group_ids": ["L00001"],
                        "timeframe_filter": None,
                    }
                ]
            },
            {
                "conditions": [
                    {
                        "type": "profile-property",
                        "property": "properties['predicted_clv']",
                        "filter": {"type": "numeric", "operator": "greater-than", "value": 500},
                    }
                ]
            },
        ]
    }
    made = klaviyo.upsert_segment("segsync:vip", definition, None)
    assert made.created and made.kind == "segment"
    sent = body_of(kl_router.routes["create_segment"].calls.last.request)
    assert sent["data"]["type"] == "segment"
    assert sent["data"]["attributes"]["name"] == "segsync:vip"
    assert sent["data"]["attributes"]["definition"] == definition
    # the same name again updates instead of spending one of the 100 daily creations
    again = klaviyo.upsert_segment("segsync:vip", {"condition_groups": []}, None)
    assert again == EspObject(made.id, "segsync:vip", "segment")
    patch = body_of(kl_router.routes["update_segment"].calls.last.request)
    assert patch == {
        "data": {
            "type": "segment",
            "id": made.id,
            "attributes": {"name": "segsync:vip", "definition": {"condition_groups": []}},
        }
    }
    assert kl_router.routes["create_segment"].call_count == 1
    # segment updates are 1/s per account: a second one at once waits for its window
    assert clock.sleeps == []
    klaviyo.upsert_segment("segsync:vip", definition, made.id)
    assert clock.sleeps == [pytest.approx(1.05)]


def test_list_owned_reads_only_the_kinds_asked_for(
    klaviyo: KlaviyoAdapter, account: FakeKlaviyo, kl_router: respx.Router
) -> None:
    vip = account.add_list("segsync:vip")
    account.segments["S9"] = {"name": "segsync:vip-native"}
    assert klaviyo.list_owned(segments=False) == [EspObject(vip, "segsync:vip", "list")]
    assert kl_router.routes["segments"].call_count == 0
    assert klaviyo.list_owned(groups=False) == [EspObject("S9", "segsync:vip-native", "segment")]
    assert kl_router.routes["lists"].call_count == 1


def test_a_list_missing_from_list_owned_is_created_without_a_second_look_up(
    klaviyo: KlaviyoAdapter, account: FakeKlaviyo, kl_router: respx.Router
) -> None:
    vip = account.add_list("segsync:vip")
    klaviyo.list_owned(segments=False)
    reads = kl_router.routes["lists"].call_count
    made = klaviyo.ensure_group("segsync:churn")  # not in the listing just read
    assert made.created
    assert kl_router.routes["lists"].call_count == reads
    # a listed name is still looked up (it may have been deleted since: recreated then)
    assert klaviyo.ensure_group("segsync:vip") == EspObject(vip, "segsync:vip", "list")
    assert kl_router.routes["lists"].call_count == reads + 1
    assert kl_router.routes["create_list"].call_count == 1


@pytest.mark.parametrize(
    "lost",
    [
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        None,  # a 503 after the list was made
    ],
)
def test_a_retried_list_create_whose_first_attempt_landed_makes_no_duplicate(
    klaviyo: KlaviyoAdapter,
    account: FakeKlaviyo,
    kl_router: respx.Router,
    lost: Exception | None,
) -> None:
    def create_then_lose_the_answer(request: httpx.Request) -> httpx.Response:
        account.create_list(request)  # Klaviyo made the list...
        if lost is not None:
            raise lost  # ...but segsync never heard
        return httpx.Response(503, json={"errors": [{"status": 503, "title": "Unavailable"}]})

    kl_router.routes["create_list"].mock(
        side_effect=[create_then_lose_the_answer, account.create_list]
    )
    klaviyo.list_owned(segments=False)  # nothing listed: the first attempt is sent blind
    made = klaviyo.ensure_group("segsync:vip")
    assert [data["name"] for data in account.lists.values()] == ["segsync:vip"]
    assert made == EspObject(next(iter(account.lists)), "segsync:vip", "list", created=True)
    assert kl_router.routes["create_list"].call_count == 1  # found before a second create


def test_a_retried_list_create_that_did_not_land_creates_it(
    klaviyo: KlaviyoAdapter, account: FakeKlaviyo, kl_router: respx.Router
) -> None:
    kl_router.routes["create_list"].mock(
        side_effect=[httpx.ConnectTimeout("timed out"), account.create_list]
    )
    made = klaviyo.ensure_group("segsync:vip")
    assert made.created
    assert [data["name"] for data in account.lists.values()] == ["segsync:vip"]
    assert kl_router.routes["create_list"].call_count == 2
