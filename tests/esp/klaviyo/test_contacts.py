"""Klaviyo ``ensure_contacts``: lookups before imports, consent rules, import errors."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
import respx

import connector.esp.klaviyo.imports as klaviyo_imports
from connector.esp import Contact, EspObject
from connector.esp.klaviyo.adapter import KlaviyoAdapter
from tests.esp.conftest import FakeClock
from tests.esp.klaviyo.conftest import FakeKlaviyo, body_of, jsonapi_error


def _imported(account: FakeKlaviyo) -> list[dict[str, object]]:
    return [
        resource["attributes"]
        for job in account.imports
        for resource in job["data"]["attributes"]["profiles"]["data"]
    ]


def test_missing_contacts_without_consent_are_never_imported(
    klaviyo: KlaviyoAdapter, account: FakeKlaviyo
) -> None:
    known = account.add_profile("known@example.com")
    result = klaviyo.ensure_contacts(
        [
            Contact("known@example.com", False, {"region": " CA "}),
            Contact("stranger@example.com", False, {"region": "NY"}),
            Contact("fan@example.com", True, {"region": "TX"}),
        ],
        create_new=False,
    )
    assert result.present == ["known@example.com"]
    assert result.skipped_no_consent == ["stranger@example.com"]
    assert result.skipped_creation_disabled == ["fan@example.com"]
    assert result.created == result.errors == []
    # never imported (an import creates a missing profile): fields by PATCH, which cannot
    assert account.imports == []
    assert account.patches == [
        {"type": "profile", "id": known, "attributes": {"properties": {"region": "CA"}}}
    ]
    assert account.profiles[known]["properties"] == {"region": "CA"}
    assert account.id_of("stranger@example.com") is None


def test_consenting_new_contacts_are_imported_with_the_list_and_no_lookup(
    klaviyo: KlaviyoAdapter, account: FakeKlaviyo, kl_router: respx.Router, clock: FakeClock
) -> None:
    list_id = account.add_list("segsync:vip")
    result = klaviyo.ensure_contacts(
        [Contact("new@example.com", True, {"first_name": "Ada", "lifecycle": "vip", "n": None})],
        create_new=True,
        join=EspObject(list_id, "segsync:vip", "list"),
    )
    pid = account.id_of("new@example.com")
    assert result.created == result.present == result.joined == ["new@example.com"]
    assert account.lists[list_id]["members"] == [pid]
    assert account.imports == [
        {
            "data": {
                "type": "profile-bulk-import-job",
                "attributes": {
                    "profiles": {
                        "data": [
                            {
                                "type": "profile",
                                "attributes": {
                                    "email": "new@example.com",
                                    "first_name": "Ada",
                                    "properties": {"lifecycle": "vip"},
                                },
                            }
                        ]
                    }
                },
                "relationships": {"lists": {"data": [{"type": "list", "id": list_id}]}},
            }
        }
    ]
    assert account.lookups == []  # no id is needed to join a list through the import
    assert kl_router.routes["job"].call_count == 2  # processing, then complete
    # the first poll waits 0.25 s (a job is never done when accepted), then doubling
    assert clock.sleeps == [0.25, 0.5]
    assert not kl_router.routes["import_errors"].called
    assert not kl_router.routes["add"].called


def test_contacts_that_may_not_be_created_join_by_id(
    klaviyo: KlaviyoAdapter, account: FakeKlaviyo
) -> None:
    list_id = account.add_list("segsync:vip")
    known = account.add_profile("quiet@example.com")
    result = klaviyo.ensure_contacts(
        [Contact("quiet@example.com", False), Contact("ghost@example.com", False)],
        create_new=True,
        join=EspObject(list_id, "segsync:vip", "list"),
    )
    assert result.joined == ["quiet@example.com"]
    assert result.skipped_no_consent == ["ghost@example.com"]
    assert account.imports == []
    assert account.lists[list_id]["members"] == [known]
    assert account.id_of("ghost@example.com") is None


def test_cleared_properties_are_unset_never_sent_as_null(
    klaviyo: KlaviyoAdapter, account: FakeKlaviyo
) -> None:
    pid = account.add_profile("a@example.com", region="CA", stage="vip")
    klaviyo.ensure_contacts(
        [Contact("a@example.com", True, {"stage": "new"}, frozenset({"region"}))],
        create_new=True,
    )
    assert account.profiles[pid]["properties"] == {"stage": "new"}
    assert account.patches[-1]["meta"] == {"patch_properties": {"unset": ["region"]}}
    assert "null" not in json.dumps(account.imports)


def test_unicode_addresses_are_looked_up_as_written(
    klaviyo: KlaviyoAdapter, account: FakeKlaviyo
) -> None:
    pid = account.add_profile("jürgen@example.de")
    account.add_profile('odd"quote@example.com')
    list_id = account.add_list("segsync:x", pid)
    result = klaviyo.remove_members(
        EspObject(list_id, "segsync:x", "list"), ["jürgen@example.de", 'odd"quote@example.com']
    )
    assert sorted(result.applied) == ["jürgen@example.de", 'odd"quote@example.com']
    assert account.lists[list_id]["members"] == []  # json.dumps' \u00fc would match nobody
    assert sorted(klaviyo.known_ids()) == ["jürgen@example.de", 'odd"quote@example.com']


def test_lookups_are_100_emails_per_request_and_only_for_contacts_that_may_not_be_created(
    klaviyo: KlaviyoAdapter, account: FakeKlaviyo
) -> None:
    klaviyo.remember_ids({"c0@example.com": "01KNOWN", "s0@example.com": "01STALE"})
    contacts = [Contact(f"c{i}@example.com", True) for i in range(150)]
    contacts += [Contact(f"s{i}@example.com", False) for i in range(100)]
    result = klaviyo.ensure_contacts(contacts, create_new=True)
    looked_up = [e for chunk in account.lookups for e in chunk]
    # only the 100 that may not be created are looked up (s0 again, although remembered)
    assert [len(chunk) for chunk in account.lookups] == [100]
    assert "c0@example.com" not in looked_up
    assert "s0@example.com" in looked_up
    assert len(result.skipped_no_consent) == 100
    assert len(result.created) == 149  # c0 was known


def test_an_oversized_profile_is_refused_alone(
    klaviyo: KlaviyoAdapter, account: FakeKlaviyo
) -> None:
    result = klaviyo.ensure_contacts(
        [
            Contact("big@example.com", True, {"notes": "x" * 200_000}),
            Contact("ok@example.com", True, {"notes": "fine"}),
        ],
        create_new=True,
    )
    assert result.created == ["ok@example.com"]
    assert [(e.email, e.code, e.permanent) for e in result.errors] == [
        ("big@example.com", "profile_too_large", True)
    ]
    assert [
        p["attributes"]["email"]
        for p in account.imports[0]["data"]["attributes"]["profiles"]["data"]
    ] == ["ok@example.com"]


def test_a_job_refused_as_a_whole_is_split_until_the_bad_row_is_alone(
    klaviyo: KlaviyoAdapter, account: FakeKlaviyo, kl_router: respx.Router
) -> None:
    original = account.bulk_import

    def strict(request: httpx.Request) -> httpx.Response:
        profiles = body_of(request)["data"]["attributes"]["profiles"]["data"]
        if any(p["attributes"].get("properties", {}).get("age") == "old" for p in profiles):
            return jsonapi_error(400, "Invalid input.", "age must be a number")
        return original(request)

    kl_router.routes["import"].mock(side_effect=strict)
    contacts = [Contact(f"p{i}@example.com", True, {"age": i}) for i in range(7)]
    contacts.append(Contact("bad@example.com", True, {"age": "old"}))
    result = klaviyo.ensure_contacts(contacts, create_new=True)
    assert sorted(result.created) == sorted(f"p{i}@example.com" for i in range(7))
    assert [(e.email, e.permanent) for e in result.errors] == [("bad@example.com", True)]
    assert "age must be a number" in result.errors[0].reason


def test_import_errors_become_member_errors_by_payload_or_pointer(
    make_klaviyo: object, account: FakeKlaviyo
) -> None:
    for style in ("payload", "pointer"):
        account.error_style = style
        account.invalid = {f"bad-{style}@example"}
        adapter = make_klaviyo()  # type: ignore[operator]
        result = adapter.ensure_contacts(
            [Contact(f"ok-{style}@example.com", True), Contact(f"bad-{style}@example", True)],
            create_new=True,
        )
        assert result.created == [f"ok-{style}@example.com"]
        assert [(e.email, e.code, e.permanent) for e in result.errors] == [
            (f"bad-{style}@example", "invalid_email", True)
        ]
        assert "Invalid email address" in result.errors[0].reason


def test_large_imports_are_split_under_the_payload_limit(
    klaviyo: KlaviyoAdapter, account: FakeKlaviyo, monkeypatch: object
) -> None:
    monkeypatch.setattr(klaviyo_imports, "MAX_IMPORT_BYTES", 2_000)  # type: ignore[attr-defined]
    contacts = [Contact(f"p{i}@example.com", True, {"note": "x" * 100}) for i in range(30)]
    result = klaviyo.ensure_contacts(contacts, create_new=True)
    assert len(account.imports) > 1
    assert len(result.created) == 30


def test_every_job_is_submitted_before_any_poll_and_one_listing_polls_them_all(
    klaviyo: KlaviyoAdapter,
    account: FakeKlaviyo,
    kl_router: respx.Router,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(klaviyo_imports, "MAX_IMPORT_PROFILES", 2)
    list_id = account.add_list("segsync:vip")
    contacts = [Contact(f"p{i}@example.com", True) for i in range(5)]
    result = klaviyo.ensure_contacts(
        contacts, create_new=True, join=EspObject(list_id, "segsync:vip", "list")
    )
    assert len(result.joined) == 5 and result.errors == []
    assert len(account.imports) == 3
    # a job holds no connection while Klaviyo processes it: all three are submitted, then
    # one GET /api/profile-bulk-import-jobs per poll round reports on all of them
    methods = [call.request.method for call in kl_router.calls]
    assert methods == ["POST"] * 3 + ["GET"] * 2
    assert kl_router.routes["jobs"].call_count == 2  # processing, then complete
    assert not kl_router.routes["job"].called
    assert kl_router.routes["jobs"].calls[0].request.url.params["sort"] == "-created_at"
    assert clock.sleeps == [0.25, 0.5]


def test_a_later_jobs_first_poll_comes_when_the_accounts_jobs_say_it_is_done(
    make_klaviyo: Callable[..., KlaviyoAdapter],
    account: FakeKlaviyo,
    kl_router: respx.Router,
    clock: FakeClock,
) -> None:
    """Klaviyo stamps each job's creation and completion: once a job was seen done, a
    later one is first polled when that processing time says it will be (scaled up for a
    larger job at the same rate, not down for a smaller one) instead of after the fixed
    first wait, by another adapter of the account too (the next run of the process)."""
    account.processing_seconds = 0.6
    list_id = account.add_list("segsync:vip")
    group = EspObject(list_id, "segsync:vip", "list")

    def run(adapter: KlaviyoAdapter, count: int, prefix: str) -> None:
        contacts = [Contact(f"{prefix}{i}@example.com", True) for i in range(count)]
        result = adapter.ensure_contacts(contacts, create_new=True, join=group)
        assert len(result.joined) == count and result.errors == []

    run(make_klaviyo(), 4, "a")  # nothing known: 0.25 s (processing), then 0.5 s (done)
    assert kl_router.routes["job"].call_count == 2
    account.polls_until_complete = 1
    later = make_klaviyo()
    run(later, 2, "b")  # smaller: as long as the 4-profile job took
    run(later, 8, "c")  # twice as large: twice as long
    assert clock.sleeps == [0.25, 0.5, 0.6, 1.2]
    assert kl_router.routes["job"].call_count == 4  # one poll each


def test_a_job_missing_from_the_listing_is_polled_by_its_id(
    klaviyo: KlaviyoAdapter,
    account: FakeKlaviyo,
    kl_router: respx.Router,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """100 newer jobs (another integration) push ours off the listing's single page."""
    monkeypatch.setattr(klaviyo_imports, "MAX_IMPORT_PROFILES", 2)
    account.polls_until_complete = 1
    original = account.list_jobs

    def without_job1(request: httpx.Request) -> httpx.Response:
        answer = original(request)
        data = [j for j in answer.json()["data"] if j["id"] != "JOB1"]
        return httpx.Response(200, json={"data": data, "links": {}})

    kl_router.routes["jobs"].mock(side_effect=without_job1)
    result = klaviyo.ensure_contacts(
        [Contact(f"p{i}@example.com", True) for i in range(4)], create_new=True
    )
    assert len(result.present) == 4 and result.errors == []
    assert kl_router.routes["jobs"].call_count == 1
    assert [c.request.url.path for c in kl_router.routes["job"].calls] == [
        "/api/profile-bulk-import-jobs/JOB1"
    ]


def test_each_job_is_journalled_just_before_it_is_sent(
    klaviyo: KlaviyoAdapter,
    account: FakeKlaviyo,
    kl_router: respx.Router,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``journal`` gets each job's own emails before that job is sent, not every job's
    before the first: the first job goes while the others are journalled."""
    monkeypatch.setattr(klaviyo_imports, "MAX_IMPORT_PROFILES", 2)
    list_id = account.add_list("segsync:vip")
    journalled: list[list[str]] = []
    sent: list[tuple[list[str], int]] = []  # each job's emails, journal calls made by then

    def posted(request: httpx.Request) -> httpx.Response:
        profiles = body_of(request)["data"]["attributes"]["profiles"]["data"]
        sent.append(([p["attributes"]["email"] for p in profiles], len(journalled)))
        return account.bulk_import(request)

    kl_router.routes["import"].mock(side_effect=posted)
    contacts = [Contact(f"p{i}@example.com", True) for i in range(5)]
    result = klaviyo.ensure_contacts(
        contacts,
        create_new=True,
        join=EspObject(list_id, "segsync:vip", "list"),
        journal=journalled.append,
    )
    assert len(result.joined) == 5
    jobs = [[c.email for c in contacts[i : i + 2]] for i in range(0, 5, 2)]
    assert sorted(journalled) == jobs  # one journal call per job, with its emails
    for emails, journalled_by_then in sent:
        assert emails in journalled[:journalled_by_then]  # journalled before it was sent
    # without ``join`` nothing joins a list, so nothing is journalled
    journalled.clear()
    klaviyo.ensure_contacts(contacts, create_new=True, journal=journalled.append)
    assert journalled == []
