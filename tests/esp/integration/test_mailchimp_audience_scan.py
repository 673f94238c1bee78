"""Many contacts without consent: one paged read of the audience instead of a GET each."""

from __future__ import annotations

from connector.emulator import EmulatorOptions, run_emulator
from connector.esp.base import Contact
from connector.esp.mailchimp.adapter import MailchimpAdapter


def test_existence_checks_read_the_audience_once_when_cheaper() -> None:
    with run_emulator("mailchimp", EmulatorOptions()) as emu:
        for i in range(5):
            emu.state.add_member("demo-audience", f"known{i}@x.com", "unsubscribed")
        contacts = [Contact(f"known{i}@x.com", False) for i in range(5)]
        contacts += [Contact(f"new{i}@x.com", False) for i in range(60)]
        with MailchimpAdapter(
            api_key=emu.api_key, audience_id="demo-audience", base_url=emu.base_url
        ) as adapter:
            result = adapter.ensure_contacts(contacts, create_new=True)
        assert sorted(result.present) == [f"known{i}@x.com" for i in range(5)]
        assert len(result.skipped_no_consent) == 60
        assert emu.calls.total("GET", "/3.0/lists/{list_id}/members") == 1
        assert emu.calls.total("GET", "/3.0/lists/{list_id}/members/{subscriber_hash}") == 0
        assert emu.state.member("demo-audience", "known0@x.com").status == "unsubscribed"


def test_a_scan_three_pages_long_beats_twenty_five_gets() -> None:
    with run_emulator("mailchimp", EmulatorOptions()) as emu:
        for i in range(2100):
            emu.state.add_member("demo-audience", f"m{i}@x.com")
        contacts = [Contact(f"new{i}@x.com", False) for i in range(25)]
        with MailchimpAdapter(
            api_key=emu.api_key, audience_id="demo-audience", base_url=emu.base_url
        ) as adapter:
            assert len(adapter.ensure_contacts(contacts, create_new=True).skipped_no_consent) == 25
        assert emu.calls.total("GET", "/3.0/lists/{list_id}/members") == 3
        assert emu.calls.total("GET", "/3.0/lists/{list_id}/members/{subscriber_hash}") == 0


def test_few_lookups_in_a_big_audience_use_single_gets() -> None:
    with run_emulator("mailchimp", EmulatorOptions()) as emu:
        for i in range(21_500):  # 22 pages of 1000
            emu.state.add_member("demo-audience", f"m{i}@x.com")
        contacts = [Contact(f"new{i}@x.com", False) for i in range(20)] + [
            Contact("m7@x.com", False)
        ]
        with MailchimpAdapter(
            api_key=emu.api_key, audience_id="demo-audience", base_url=emu.base_url
        ) as adapter:
            result = adapter.ensure_contacts(contacts, create_new=True)
        assert result.present == ["m7@x.com"] and len(result.skipped_no_consent) == 20
        assert emu.calls.total("GET", "/3.0/lists/{list_id}/members") == 1  # learnt the size
        assert emu.calls.total("GET", "/3.0/lists/{list_id}/members/{subscriber_hash}") == 21
