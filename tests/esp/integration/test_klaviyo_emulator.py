"""KlaviyoAdapter against the Klaviyo emulator: consent, ids, lists, segments, limits."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from connector.emulator.server import Emulator
from connector.errors import EspAuthError, EspValidationError
from connector.esp import Contact, EspObject
from connector.esp.klaviyo import imports as klaviyo_imports
from connector.esp.klaviyo.adapter import KlaviyoAdapter

R_MEMBERS = "/api/lists/{id}/relationships/profiles"
SUBSCRIBE = "/api/profile-subscription-bulk-create-jobs"
UNSUBSCRIBE = "/api/profile-subscription-bulk-delete-jobs"


def test_profiles_lists_and_read_back(
    make_klaviyo: Callable[..., KlaviyoAdapter], klaviyo_emulator: Emulator[Any]
) -> None:
    emu = klaviyo_emulator
    state = emu.state
    state.add_profile("unsub@example.com", consent="UNSUBSCRIBED")
    state.add_profile("bounced@example.com", suppressed="HARD_BOUNCE")
    state.add_profile("quiet@example.com")
    adapter = make_klaviyo()
    adapter.check()

    contacts = [Contact(f"new{i}@example.com", True, {"region": "CA"}) for i in range(1046)]
    contacts += [
        Contact("unsub@example.com", True, {"region": "NY"}),
        Contact("bounced@example.com", True),
        Contact("quiet@example.com", False, {"region": "TX"}),
        Contact("stranger@example.com", False, {"region": "CA"}),
    ]
    result = adapter.ensure_contacts(contacts, create_new=True)
    assert result.errors == []
    # "created" = new to the adapter: the import cannot tell a new profile from an existing
    # one it updated, so the two consenting profiles it did not know count too
    assert len(result.created) == 1048
    assert {f"new{i}@example.com" for i in range(1046)} <= set(result.created)
    assert "quiet@example.com" not in result.created
    assert result.skipped_no_consent == ["stranger@example.com"]
    assert len(result.present) == 1049
    assert state.profile("stranger@example.com") is None
    # nobody's consent changed; new profiles got no consent either
    assert state.profile("unsub@example.com").consent == "UNSUBSCRIBED"
    assert state.profile("unsub@example.com").properties == {"region": "NY"}
    assert state.profile("bounced@example.com").suppression == "HARD_BOUNCE"
    assert state.profile("quiet@example.com").properties == {"region": "TX"}
    assert state.profile("new7@example.com").consent == "NEVER_SUBSCRIBED"
    assert state.profile("new7@example.com").properties == {"region": "CA"}
    # ids were looked up only for the contacts that may not be created
    assert len(adapter.known_ids()) == 1
    assert emu.calls.total("GET", "/api/profiles") == 1

    group = adapter.ensure_group("segsync:vip")
    assert group.created
    assert adapter.ensure_group("segsync:vip") == EspObject(group.id, "segsync:vip", "list")
    assert adapter.list_owned() == [EspObject(group.id, "segsync:vip", "list")]

    # joining the list through the import: no id look-up, no list call
    present = sorted(result.present)
    joined = adapter.ensure_contacts(
        [Contact(e, e != "quiet@example.com") for e in present], create_new=True, join=group
    )
    assert sorted(joined.joined) == present
    assert adapter.calls[("POST", R_MEMBERS, 204)] == 1  # quiet@ joins by id
    assert state.list_emails(group.id) == set(present)
    assert set(adapter.iter_members(group)) == set(present)

    gone = present[:1020]
    for start in range(0, len(gone), 1000):
        chunk = gone[start : start + 1000]
        assert adapter.remove_members(group, chunk).applied == chunk
    assert set(adapter.iter_members(group)) == set(present[1020:])
    assert state.profile("unsub@example.com").consent == "UNSUBSCRIBED"
    assert emu.calls.total(route=SUBSCRIBE) == emu.calls.total(route=UNSUBSCRIBE) == 0


def test_ids_persisted_by_an_earlier_run_spare_the_lookups(
    make_klaviyo: Callable[..., KlaviyoAdapter], klaviyo_emulator: Emulator[Any]
) -> None:
    state = klaviyo_emulator.state
    ids = {f"p{i}@example.com": state.add_profile(f"p{i}@example.com").id for i in range(300)}
    first = make_klaviyo()
    list(first.iter_members(EspObject(state.add_list("seed").id, "seed", "list")))
    later = make_klaviyo()
    later.remember_ids(ids)
    group = later.ensure_group("segsync:vip")
    before = klaviyo_emulator.calls.total("GET", "/api/profiles")
    assert later.add_members(group, sorted(ids)).applied == sorted(ids)
    assert klaviyo_emulator.calls.total("GET", "/api/profiles") == before


def test_native_segments_are_created_updated_and_validated(
    make_klaviyo: Callable[..., KlaviyoAdapter], klaviyo_emulator: Emulator[Any]
) -> None:
    state = klaviyo_emulator.state
    for email, clv in (("a@example.com", 900), ("b@example.com", 100), ("c@example.com", 950)):
        state.add_profile(email, properties={"predicted_clv": clv})
    adapter = make_klaviyo()
    group = adapter.ensure_group("segsync:vip")
    adapter.add_members(group, ["a@example.com", "b@example.com"])

    def definition(threshold: int) -> dict[str, Any]:
        return {
            "condition_groups": [
                {
                    "conditions": [
                        {
                            "type": "profile-group-membership",
                            "is_member": True,
                            "group_ids": [group.id],
                            "timeframe_filter": None,
                        }
                    ]
                },
                {
                    "conditions": [
                        {
                            "type": "profile-property",
                            "property": "properties['predicted_clv']",
                            "filter": {
                                "type": "numeric",
                                "operator": "greater-than",
                                "value": threshold,
                            },
                        }
                    ]
                },
            ]
        }

    segment = adapter.upsert_segment("segsync:vip-native", definition(500), None)
    assert segment.created
    assert state.segment_emails(segment.id) == {"a@example.com"}
    again = adapter.upsert_segment("segsync:vip-native", definition(50), segment.id)
    assert again == EspObject(segment.id, "segsync:vip-native", "segment")
    assert state.segment_emails(segment.id) == {"a@example.com", "b@example.com"}
    assert {o.kind for o in adapter.list_owned()} == {"list", "segment"}

    too_big = definition(1)
    too_big["condition_groups"][1]["conditions"] *= 101
    with pytest.raises(EspValidationError):
        adapter.upsert_segment("segsync:vip-native", too_big, segment.id)


def test_a_wrong_key_is_an_auth_error(make_klaviyo: Callable[..., KlaviyoAdapter]) -> None:
    with pytest.raises(EspAuthError, match="Incorrect authentication credentials"):
        make_klaviyo(api_key="pk_" + "0" * 34).check()


def test_random_429_5xx_and_resets_are_survived(
    make_klaviyo: Callable[..., KlaviyoAdapter], klaviyo_emulator: Emulator[Any]
) -> None:
    emu = klaviyo_emulator
    adapter = make_klaviyo()
    group = adapter.ensure_group("segsync:faulty")
    emails = [f"p{i}@example.com" for i in range(1100)]
    emu.options.fault_rate_5xx = 0.15
    emu.options.fault_rate_reset = 0.1
    emu.options.fault_phase = "after"
    result = adapter.ensure_contacts([Contact(e, True) for e in emails], create_new=True)
    for start in range(0, 1100, 1000):
        chunk = emails[start : start + 1000]
        assert adapter.add_members(group, chunk).applied == chunk
    emu.options.fault_rate_5xx = emu.options.fault_rate_reset = 0
    assert emu.faults.events
    assert set(result.present) == set(emails)
    assert emu.state.list_emails(group.id) == set(emails)


def test_klaviyo_429s_are_waited_out(
    make_klaviyo: Callable[..., KlaviyoAdapter],
    klaviyo_emulator: Emulator[Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    emu = klaviyo_emulator
    profile = emu.state.add_profile("a@example.com")
    group_id = emu.state.add_list("segsync:vip").id
    emu.options.rate_limit_scale = 0.3  # another app spends most of this account's budget
    adapter = make_klaviyo()
    adapter.remember_ids({"a@example.com": profile.id})
    group = EspObject(group_id, "segsync:vip", "list")
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(2):
                adapter.add_members(group, ["a@example.com"])
        except BaseException as exc:  # pragma: no cover - shown by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert adapter.calls[("POST", R_MEMBERS, 204)] == 8
    assert emu.calls[("POST", R_MEMBERS, 429)] > 0
    waits = [r.args[2] for r in caplog.records if r.name == "segsync.esp.retry"]
    assert waits and set(waits) == {1.0}  # every retry waited the 429's Retry-After


def test_the_client_side_windows_keep_under_klaviyo_tiers(
    make_klaviyo: Callable[..., KlaviyoAdapter], klaviyo_emulator: Emulator[Any]
) -> None:
    emu = klaviyo_emulator
    profile = emu.state.add_profile("a@example.com")
    group = EspObject(emu.state.add_list("segsync:vip").id, "segsync:vip", "list")
    adapter = make_klaviyo()
    adapter.remember_ids({"a@example.com": profile.id})
    threads = [
        threading.Thread(target=adapter.add_members, args=(group, ["a@example.com"]))
        for _ in range(13)  # 10/s burst: the last three wait for the next second
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert adapter.calls[("POST", R_MEMBERS, 204)] == 13
    assert emu.calls.total(status=429) == 0


def test_a_runs_import_jobs_are_processed_together_and_polled_by_one_listing(
    make_klaviyo: Callable[..., KlaviyoAdapter],
    klaviyo_emulator: Emulator[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(klaviyo_imports, "MAX_IMPORT_PROFILES", 400)
    emu = klaviyo_emulator
    adapter = make_klaviyo(max_connections=4, job_poll_seconds=0.3)
    group = adapter.ensure_group("segsync:together")
    contacts = [Contact(f"t{i}@example.com", True) for i in range(2000)]
    result = adapter.ensure_contacts(contacts, create_new=True, join=group)
    assert result.errors == [] and len(result.joined) == 2000
    assert len(emu.state.lists[group.id].members) == 2000
    assert emu.calls.total("POST", "/api/profile-bulk-import-jobs") == 5
    # five jobs, submitted before any poll: processed at the same time, so one listing
    # (after the first 0.3 s wait) finds them all done, and no job is polled by its id
    assert emu.calls.total("GET", "/api/profile-bulk-import-jobs") == 1
    assert emu.calls.total("GET", "/api/profile-bulk-import-jobs/{job_id}") == 0


def test_a_later_job_is_first_polled_when_the_accounts_jobs_say_it_is_done(
    make_klaviyo: Callable[..., KlaviyoAdapter], klaviyo_emulator: Emulator[Any]
) -> None:
    """A job's resource stamps its creation and completion: the next run's job (another
    adapter of the account, in the same process) is first polled once that processing
    time has passed, so one poll finds it done where the fixed first wait took two."""
    emu = klaviyo_emulator
    emu.options.import_delay_s = 0.6
    polls = ("GET", "/api/profile-bulk-import-jobs/{job_id}")
    first = make_klaviyo(job_poll_seconds=0.25)
    group = first.ensure_group("segsync:timed")
    contacts = [Contact(f"a{i}@example.com", True) for i in range(50)]
    assert len(first.ensure_contacts(contacts, create_new=True, join=group).joined) == 50
    assert emu.calls.total(*polls) == 2  # at 0.25 s processing, at 0.75 s complete
    later = make_klaviyo(job_poll_seconds=0.25)
    contacts = [Contact(f"b{i}@example.com", True) for i in range(30)]
    assert len(later.ensure_contacts(contacts, create_new=True, join=group).joined) == 30
    assert emu.calls.total(*polls) == 3
    assert len(emu.state.lists[group.id].members) == 80
