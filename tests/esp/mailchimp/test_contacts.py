"""Mailchimp ``ensure_contacts``: the consent rules, per-member errors and batch sizes."""

from __future__ import annotations

import json

import httpx
import respx

from connector.esp import Contact
from connector.esp.mailchimp.adapter import MailchimpAdapter, subscriber_hash
from tests.esp.mailchimp.conftest import FakeAudience


def _statuses_sent(audience: FakeAudience) -> list[tuple[bool, str | None, str | None]]:
    return [
        (batch["update_existing"], member.get("status"), member.get("status_if_new"))
        for batch in audience.batches
        for member in batch["members"]
    ]


def test_new_consenting_contacts_are_created_subscribed_with_their_fields(
    mailchimp: MailchimpAdapter, audience: FakeAudience, mc_router: respx.Router
) -> None:
    result = mailchimp.ensure_contacts(
        [Contact("new@example.com", True, {"STATE": "  CA ", "STAGE": None})], create_new=True
    )
    assert result.created == result.present == ["new@example.com"]
    # NULL is never sent as a value; status_if_new, never status
    assert audience.batches == [
        {
            "members": [
                {
                    "email_address": "new@example.com",
                    "status_if_new": "subscribed",
                    "merge_fields": {"STATE": "CA"},
                }
            ],
            "update_existing": True,
        }
    ]
    assert (
        mc_router.routes["batch"].calls.last.request.url.params["skip_merge_validation"] == "true"
    )


def test_existing_contacts_keep_their_status_and_get_fields_in_the_same_call(
    mailchimp: MailchimpAdapter, audience: FakeAudience
) -> None:
    audience.add("gone@example.com", "unsubscribed", STATE="NY")
    audience.add("bounced@example.com", "cleaned")
    result = mailchimp.ensure_contacts(
        [
            Contact("gone@example.com", True, {"STATE": "CA"}),
            Contact("bounced@example.com", True, {}),
            Contact("fresh@example.com", True, {}),
        ],
        create_new=True,
    )
    assert sorted(result.present) == [
        "bounced@example.com",
        "fresh@example.com",
        "gone@example.com",
    ]
    assert result.created == ["fresh@example.com"] and result.errors == []
    assert audience.members["gone@example.com"] == {
        "status": "unsubscribed",
        "merge_fields": {"STATE": "CA"},
    }
    assert audience.members["bounced@example.com"]["status"] == "cleaned"
    # one call; every member carries status_if_new and never status
    assert _statuses_sent(audience) == [(True, None, "subscribed")] * 3


def test_cleared_fields_are_sent_empty_never_as_null(
    mailchimp: MailchimpAdapter, audience: FakeAudience
) -> None:
    audience.add("a@example.com", "subscribed", STATE="NY", STAGE="vip")
    mailchimp.ensure_contacts(
        [Contact("a@example.com", True, {"STAGE": "new"}, frozenset({"STATE"}))], create_new=True
    )
    assert audience.batches[0]["members"][0]["merge_fields"] == {"STAGE": "new", "STATE": ""}
    assert "null" not in json.dumps(audience.batches)


def test_contacts_without_consent_are_never_created_nor_put_in_a_batch(
    mailchimp: MailchimpAdapter, audience: FakeAudience
) -> None:
    audience.add("known@example.com", "subscribed")
    result = mailchimp.ensure_contacts(
        [
            Contact("stranger@example.com", False, {"STATE": "CA"}),
            Contact("known@example.com", False, {"STATE": "TX"}),
        ],
        create_new=True,
    )
    assert result.skipped_no_consent == ["stranger@example.com"]
    assert result.present == ["known@example.com"]
    assert "stranger@example.com" not in audience.members
    # any batch member can be created: fields go by PATCH, which never creates
    assert audience.batches == []
    assert audience.patches == [
        (subscriber_hash("known@example.com"), {"merge_fields": {"STATE": "TX"}})
    ]
    assert audience.members["known@example.com"]["merge_fields"] == {"STATE": "TX"}
    assert sorted(audience.member_gets) == sorted(
        subscriber_hash(e) for e in ("stranger@example.com", "known@example.com")
    )


def test_a_contact_deleted_between_the_read_and_the_write_is_not_recreated(
    mailchimp: MailchimpAdapter, audience: FakeAudience, mc_router: respx.Router
) -> None:
    audience.add("leaving@example.com", "subscribed")
    original = audience.member

    def read_then_delete(request: httpx.Request, subscriber_hash_: str) -> httpx.Response:
        answer = original(request, subscriber_hash_)
        audience.members.pop("leaving@example.com", None)  # deleted right after our read
        return answer

    mc_router.routes["member"].mock(side_effect=read_then_delete)
    result = mailchimp.ensure_contacts(
        [Contact("leaving@example.com", False, {"STATE": "CA"})], create_new=True
    )
    assert result.skipped_no_consent == ["leaving@example.com"]
    assert result.present == []
    assert "leaving@example.com" not in audience.members


def test_archived_contacts_that_may_not_be_created_stay_archived(
    mailchimp: MailchimpAdapter, audience: FakeAudience
) -> None:
    audience.add("old@example.com", "archived")
    result = mailchimp.ensure_contacts(
        [Contact("old@example.com", False, {"STATE": "CA"})], create_new=True
    )
    assert result.skipped_no_consent == ["old@example.com"]
    assert result.present == []
    assert audience.batches == []


def test_new_contacts_never_keeps_consenting_strangers_out(
    mailchimp: MailchimpAdapter, audience: FakeAudience
) -> None:
    result = mailchimp.ensure_contacts(
        [Contact("fan@example.com", True, {"STATE": "CA"})], create_new=False
    )
    assert result.skipped_creation_disabled == ["fan@example.com"]
    assert result.skipped_no_consent == result.present == []
    assert audience.batches == []


def test_compliance_state_and_invalid_addresses_are_permanent_member_errors(
    mailchimp: MailchimpAdapter, audience: FakeAudience
) -> None:
    audience.compliance.add("left@example.com")
    audience.invalid.add("bad@example.com")
    result = mailchimp.ensure_contacts(
        [
            Contact("left@example.com", True),
            Contact("bad@example.com", True),
            Contact("ok@example.com", True),
        ],
        create_new=True,
    )
    assert result.created == result.present == ["ok@example.com"]
    errors = {e.email: (e.code, e.permanent) for e in result.errors}
    assert errors == {
        "left@example.com": ("compliance_state", True),
        "bad@example.com": ("invalid_email", True),
    }
    assert "compliance state" in next(e.reason for e in result.errors if e.email.startswith("left"))


def test_contacts_are_batched_at_500_and_deduplicated(
    mailchimp: MailchimpAdapter, audience: FakeAudience
) -> None:
    contacts = [Contact(f"p{i}@example.com", True) for i in range(1000)]
    contacts.append(Contact("P0@Example.com ", False, {"STATE": "CA"}))
    result = mailchimp.ensure_contacts(contacts, create_new=True)
    assert [len(b["members"]) for b in audience.batches] == [
        500,
        499,
    ]  # every batch full but the last
    assert len(result.created) == 999
    # the duplicate merged into p0: one copy has no consent, so the contact has none
    assert audience.batches[0]["members"][0]["email_address"] == "p1@example.com"
    assert result.skipped_no_consent == ["p0@example.com"]


def test_sync_tags_is_never_sent(mailchimp: MailchimpAdapter, audience: FakeAudience) -> None:
    audience.add("a@example.com")
    mailchimp.ensure_contacts(
        [Contact("a@example.com", True, {"X": 1}), Contact("b@example.com", True, {"X": 2})],
        create_new=True,
    )
    assert all("sync_tags" not in json.dumps(b) for b in audience.batches)
