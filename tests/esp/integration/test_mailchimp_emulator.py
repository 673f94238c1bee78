"""MailchimpAdapter against the Mailchimp emulator: consent, batches, segments, faults."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from connector.emulator.server import Emulator
from connector.errors import EspAuthError, EspNotFoundError, EspValidationError
from connector.esp import Contact, EspObject
from connector.esp.mailchimp.adapter import MailchimpAdapter
from tests.esp.integration.conftest import AUDIENCE

R_TAG = "/lists/{list_id}/segments/{segment_id}"


def _seed(emu: Emulator[Any]) -> None:
    state = emu.state
    state.add_member(AUDIENCE, "gone@example.com", "unsubscribed", merge_fields={"STATE": "NY"})
    state.add_member(AUDIENCE, "bounced@example.com", "cleaned")
    state.add_member(AUDIENCE, "quiet@example.com", "subscribed")
    state.add_member(AUDIENCE, "receipts@example.com", "transactional")


def test_contacts_tags_and_read_back(
    make_mailchimp: Callable[..., MailchimpAdapter], mailchimp_emulator: Emulator[Any]
) -> None:
    emu = mailchimp_emulator
    _seed(emu)
    adapter = make_mailchimp()
    adapter.check()
    contacts = [Contact(f"new{i}@example.com", True, {"STATE": "CA"}) for i in range(1096)]
    contacts += [
        Contact("gone@example.com", True, {"STATE": "CA"}),
        Contact("bounced@example.com", True),
        Contact("quiet@example.com", False, {"STATE": "TX"}),
        Contact("receipts@example.com", False),
        Contact("stranger@example.com", False, {"STATE": "CA"}),
        Contact("fan@example.com", True, {"STATE": "CA"}),
    ]
    result = adapter.ensure_contacts(contacts, create_new=True)
    assert result.errors == []
    assert len(result.created) == 1097  # new0..new1095 and fan
    assert result.skipped_no_consent == ["stranger@example.com"]
    assert len(result.present) == 1101
    state = emu.state
    assert state.member(AUDIENCE, "stranger@example.com") is None
    # existing contacts kept their status, got their fields
    statuses = {
        e: state.member(AUDIENCE, e).status
        for e in ("gone", "bounced", "quiet", "receipts")
        for e in [f"{e}@example.com"]
    }
    assert statuses == {
        "gone@example.com": "unsubscribed",
        "bounced@example.com": "cleaned",
        "quiet@example.com": "subscribed",
        "receipts@example.com": "transactional",
    }
    assert state.member(AUDIENCE, "gone@example.com").merge_fields["STATE"] == "CA"
    assert state.member(AUDIENCE, "quiet@example.com").merge_fields["STATE"] == "TX"
    assert state.member(AUDIENCE, "fan@example.com").status == "subscribed"

    tag = adapter.ensure_group("segsync:vip")
    assert tag.created
    assert adapter.ensure_group("SEGSYNC:VIP") == EspObject(tag.id, "segsync:vip", "tag")
    assert adapter.list_owned() == [EspObject(tag.id, "segsync:vip", "tag")]

    present = sorted(result.present)
    for start in range(0, len(present), adapter.limits.max_members_per_call):
        chunk = present[start : start + adapter.limits.max_members_per_call]
        assert adapter.add_members(tag, chunk).applied == chunk
    assert [n for (m, r, s), n in adapter.calls.items() if (m, r, s) == ("POST", R_TAG, 200)] == [3]
    assert state.tag_members(AUDIENCE, "segsync:vip") == set(present)
    # read back includes unsubscribed, cleaned and transactional members
    assert set(adapter.iter_members(tag)) == set(present)

    gone = present[:700]
    for start in range(0, len(gone), 500):
        chunk = gone[start : start + 500]
        assert adapter.remove_members(tag, chunk).applied == chunk
    assert set(adapter.iter_members(tag)) == set(present[700:])
    assert state.automation_triggers == 0


def test_existing_members_are_never_resubscribed(
    make_mailchimp: Callable[..., MailchimpAdapter], mailchimp_emulator: Emulator[Any]
) -> None:
    _seed(mailchimp_emulator)
    adapter = make_mailchimp()
    adapter.ensure_contacts(
        [Contact(e, True, {"STAGE": "vip"}) for e in ("gone@example.com", "bounced@example.com")],
        create_new=True,
    )
    state = mailchimp_emulator.state
    assert state.member(AUDIENCE, "gone@example.com").status == "unsubscribed"
    assert state.member(AUDIENCE, "bounced@example.com").status == "cleaned"
    assert state.member(AUDIENCE, "bounced@example.com").merge_fields["STAGE"] == "vip"


def test_invalid_addresses_are_permanent_member_errors(
    make_mailchimp: Callable[..., MailchimpAdapter],
) -> None:
    result = make_mailchimp().ensure_contacts(
        [Contact("not-an-email", True), Contact("ok@example.com", True)], create_new=True
    )
    assert result.created == ["ok@example.com"]
    assert [(e.email, e.code, e.permanent) for e in result.errors] == [
        ("not-an-email", "invalid_email", True)
    ]


def test_tagging_someone_outside_the_audience_is_a_member_error(
    make_mailchimp: Callable[..., MailchimpAdapter], mailchimp_emulator: Emulator[Any]
) -> None:
    _seed(mailchimp_emulator)
    adapter = make_mailchimp()
    tag = adapter.ensure_group("segsync:vip")
    result = adapter.add_members(tag, ["quiet@example.com", "stranger@example.com"])
    assert result.applied == ["quiet@example.com"]
    assert [(e.email, e.code) for e in result.errors] == [
        ("stranger@example.com", "not_in_audience")
    ]
    assert adapter.remove_members(tag, ["stranger@example.com"]).applied == ["stranger@example.com"]


def test_native_segments_are_created_updated_and_validated(
    make_mailchimp: Callable[..., MailchimpAdapter], mailchimp_emulator: Emulator[Any]
) -> None:
    state = mailchimp_emulator.state
    for email, region in (
        ("a@example.com", "CA"),
        ("b@example.com", "NY"),
        ("c@example.com", "CA"),
    ):
        state.add_member(AUDIENCE, email, merge_fields={"STATE": region})
    adapter = make_mailchimp()
    tag = adapter.ensure_group("segsync:vip")
    adapter.add_members(tag, ["a@example.com", "b@example.com"])

    def options(region: str) -> dict[str, Any]:
        return {
            "match": "all",
            "conditions": [
                {
                    "condition_type": "StaticSegment",
                    "field": "static_segment",
                    "op": "static_is",
                    "value": int(tag.id),
                },
                {"condition_type": "TextMerge", "field": "STATE", "op": "is", "value": region},
            ],
        }

    segment = adapter.upsert_segment("segsync:vip-native", options("CA"), None)
    assert segment.created and segment.kind == "segment"
    assert state.segment_members(AUDIENCE, int(segment.id)) == {"a@example.com"}
    again = adapter.upsert_segment("segsync:vip-native", options("NY"), segment.id)
    assert again.id == segment.id and not again.created
    assert state.segment_members(AUDIENCE, int(segment.id)) == {"b@example.com"}
    owned = {o.name: o.kind for o in adapter.list_owned()}
    assert owned == {"segsync:vip": "tag", "segsync:vip-native": "segment"}

    too_many = options("CA")
    too_many["conditions"] = too_many["conditions"] * 3  # 6 > the emulator's 5
    with pytest.raises(EspValidationError, match="at most 5"):
        adapter.upsert_segment("segsync:vip-native", too_many, segment.id)
    assert adapter.calls[("PATCH", R_TAG, 400)] == 1  # not retried


def test_auth_and_missing_audience(
    make_mailchimp: Callable[..., MailchimpAdapter],
) -> None:
    with pytest.raises(EspAuthError, match="API Key Invalid"):
        make_mailchimp(api_key="0" * 32 + "-us1").check()
    with pytest.raises(EspNotFoundError):
        make_mailchimp(audience_id="no-such-audience").check()


def test_random_429_5xx_and_resets_are_survived(
    make_mailchimp: Callable[..., MailchimpAdapter], mailchimp_emulator: Emulator[Any]
) -> None:
    emu = mailchimp_emulator
    adapter = make_mailchimp()
    emails = [f"p{i}@example.com" for i in range(1500)]
    emu.options.fault_rate_429 = 0.15
    emu.options.fault_rate_5xx = 0.15
    emu.options.fault_rate_reset = 0.1
    emu.options.fault_phase = "after"  # the change is applied, the answer is lost
    result = adapter.ensure_contacts([Contact(e, True) for e in emails], create_new=True)
    tag = adapter.ensure_group("segsync:faulty")
    for start in range(0, 1500, 500):
        assert (
            adapter.add_members(tag, emails[start : start + 500]).applied
            == (emails[start : start + 500])
        )
    emu.options.fault_rate_429 = emu.options.fault_rate_5xx = emu.options.fault_rate_reset = 0
    assert emu.faults.events  # faults did strike
    assert set(result.present) == set(emails)
    # a lost answer after a create: the retry sees "already a member", so present, not created
    assert emu.state.emails(AUDIENCE) == set(emails)
    assert emu.state.tag_members(AUDIENCE, "segsync:faulty") == set(emails)
    assert (
        sum(
            n
            for (_, _, status), n in adapter.calls.items()
            if status in (0, 429, 500, 502, 503, 504)
        )
        > 0
    )


def test_a_timed_out_request_is_retried(
    make_mailchimp: Callable[..., MailchimpAdapter], mailchimp_emulator: Emulator[Any]
) -> None:
    adapter = make_mailchimp(timeout_seconds=0.3)
    mailchimp_emulator.faults.inject("timeout", method="GET", route="/3.0/lists/{list_id}")
    adapter.check()
    assert adapter.calls[("GET", "/lists/{list_id}", 0)] == 1
    assert adapter.calls[("GET", "/lists/{list_id}", 200)] == 1


def test_parallel_calls_stay_under_the_connection_limit(
    make_mailchimp: Callable[..., MailchimpAdapter], mailchimp_emulator: Emulator[Any]
) -> None:
    emu = mailchimp_emulator
    emu.options.latency_ms = 30
    adapter = make_mailchimp()
    tag = adapter.ensure_group("segsync:parallel")

    def work() -> None:
        for _ in range(3):
            adapter.add_members(tag, ["nobody@example.com"])

    threads = [threading.Thread(target=work) for _ in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert emu.calls.total(status=429) == 0
    assert adapter.calls[("POST", R_TAG, 200)] == 72


def test_the_10_connection_429_is_retried_when_others_hold_connections(
    make_mailchimp: Callable[..., MailchimpAdapter], mailchimp_emulator: Emulator[Any]
) -> None:
    emu = mailchimp_emulator
    emu.options.latency_ms = 30
    emu.options.max_connections = 4  # other apps of the same user hold the other six
    adapter = make_mailchimp()
    tag = adapter.ensure_group("segsync:crowded")
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(3):
                adapter.add_members(tag, ["nobody@example.com"])
        except BaseException as exc:  # pragma: no cover - shown by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert emu.calls.total(status=429) > 0
    assert adapter.calls[("POST", R_TAG, 200)] == 30
