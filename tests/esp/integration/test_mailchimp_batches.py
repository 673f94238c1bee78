"""Field updates of contacts that may not be created: one POST /batches of PATCHes."""

from __future__ import annotations

from connector.emulator import EmulatorOptions, run_emulator
from connector.esp.base import Contact
from connector.esp.mailchimp.adapter import MailchimpAdapter

AUDIENCE = "demo-audience"
MEMBER = "/3.0/lists/{list_id}/members/{subscriber_hash}"


def test_no_consent_field_updates_travel_in_one_batch_and_never_create_or_resubscribe() -> None:
    options = EmulatorOptions(import_delay_s=0.05, merge_fields=("STAGE",))
    with run_emulator("mailchimp", options) as emu:
        statuses = ["unsubscribed", "cleaned", "subscribed", "transactional", "archived"]
        for i, status in enumerate(statuses):
            emu.state.add_member(AUDIENCE, f"known{i}@x.com", status, merge_fields={"STAGE": "a"})
        contacts = [Contact(f"known{i}@x.com", False, {"STAGE": "b"}) for i in range(5)]
        contacts += [Contact(f"new{i}@x.com", False, {"STAGE": "b"}) for i in range(3)]
        contacts.append(Contact("known2@x.com", False, {"NOPE": "x"}))  # same email, bad field
        with MailchimpAdapter(
            api_key=emu.api_key, audience_id=AUDIENCE, base_url=emu.base_url
        ) as adapter:
            result = adapter.ensure_contacts(contacts, create_new=True)
            calls = dict(adapter.calls)
        # the archived contact and the missing ones are left alone, as before
        assert sorted(result.present) == [f"known{i}@x.com" for i in range(4)]
        assert sorted(result.skipped_no_consent) == ["known4@x.com"] + [
            f"new{i}@x.com" for i in range(3)
        ]
        (error,) = result.errors
        assert error.email == "known2@x.com" and "NOPE" in error.reason
        for i, status in enumerate(statuses):
            member = emu.state.member(AUDIENCE, f"known{i}@x.com")
            assert member.status == status  # no status ever changes
        assert emu.state.member(AUDIENCE, "known0@x.com").merge_fields["STAGE"] == "b"
        assert emu.state.audience(AUDIENCE).find_member("new0@x.com") is None
        # one batch, its polls and the results: no PATCH nor GET per contact
        assert emu.calls.total("POST", "/3.0/batches") == 1
        assert emu.calls.total("GET", "/mailchimp-api-batch/{name}") == 1
        assert emu.calls.total(None, MEMBER) == 0
        assert emu.calls.total("GET", "/3.0/lists/{list_id}/members") == 0
        assert calls[("GET", "response_body_url", 200)] == 1
        assert calls[("POST", "/batches", 200)] == 1
        assert emu.state.contract_violations == []


def test_a_few_field_updates_still_go_by_single_patches() -> None:
    with run_emulator("mailchimp", EmulatorOptions()) as emu:
        for i in range(3):
            emu.state.add_member(AUDIENCE, f"known{i}@x.com", "unsubscribed")
        contacts = [Contact(f"known{i}@x.com", False, {"FNAME": "Ada"}) for i in range(3)]
        with MailchimpAdapter(
            api_key=emu.api_key, audience_id=AUDIENCE, base_url=emu.base_url
        ) as adapter:
            result = adapter.ensure_contacts(contacts, create_new=True)
        assert len(result.present) == 3
        assert emu.calls.total("POST", "/3.0/batches") == 0
        assert emu.calls.total("PATCH", MEMBER) == 3


def test_a_refused_batch_operation_reads_like_the_same_patch_sent_alone() -> None:
    reasons = {}
    for count in (1, 4):
        with run_emulator("mailchimp", EmulatorOptions(import_delay_s=0.05)) as emu:
            for i in range(count):
                emu.state.add_member(AUDIENCE, f"k{i}@x.com", "unsubscribed")
            contacts = [Contact(f"k{i}@x.com", False, {"NOPE": "x"}) for i in range(count)]
            with MailchimpAdapter(
                api_key=emu.api_key, audience_id=AUDIENCE, base_url=emu.base_url
            ) as adapter:
                error = adapter.ensure_contacts(contacts, create_new=True).errors[0]
            assert emu.calls.total("POST", "/3.0/batches") == (count > 1)
        reasons[count] = (error.reason, error.code, error.permanent)
    assert reasons[1] == reasons[4]
