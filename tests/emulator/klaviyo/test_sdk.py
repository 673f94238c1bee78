"""The official klaviyo-api SDK against the emulator: its response models deserialize
every answer (so required fields are present), its page cursors work, and errors raise
the SDK's exceptions."""

from __future__ import annotations

import json
from typing import Any

import pytest
from klaviyo_api import KlaviyoAPI
from openapi_client.exceptions import ApiException

from connector.emulator import Emulator, EmulatorOptions, run_emulator
from connector.emulator.klaviyo.account import KlaviyoState
from tests.emulator.conftest import FakeClock


@pytest.fixture
def sdk(klaviyo: Emulator[KlaviyoState]) -> KlaviyoAPI:
    return KlaviyoAPI(klaviyo.api_key, max_retries=0, test_host=klaviyo.base_url)


def import_body(emails: list[str], list_id: str) -> dict[str, Any]:
    return {
        "data": {
            "type": "profile-bulk-import-job",
            "attributes": {
                "profiles": {
                    "data": [{"type": "profile", "attributes": {"email": e}} for e in emails]
                }
            },
            "relationships": {"lists": {"data": [{"type": "list", "id": list_id}]}},
        }
    }


def test_lists_imports_and_profiles_through_the_sdk(
    sdk: KlaviyoAPI, klaviyo: Emulator[KlaviyoState], clock: FakeClock
) -> None:
    assert sdk.Accounts.get_accounts().data[0].attributes.timezone == "UTC"
    created = sdk.Lists.create_list({"data": {"type": "list", "attributes": {"name": "segsync:a"}}})
    list_id = created.data.id
    for i in range(11):
        klaviyo.state.add_list(f"filler-{i}")
    first = sdk.Lists.get_lists()
    assert len(first.data) == 10 and first.links.next
    rest = sdk.Lists.get_lists(page_cursor=first.links.next)
    assert len(rest.data) == 2 and rest.links.next is None
    found = sdk.Lists.get_lists(filter='equals(name,"segsync:a")')
    assert [li.id for li in found.data] == [list_id]
    assert sdk.Lists.get_list(list_id).data.attributes.name == "segsync:a"

    job = sdk.Profiles.bulk_import_profiles(import_body(["a@x.com", "b@x.com", "bad"], list_id))
    assert job.data.attributes.status == "queued"
    clock.advance(10)
    done = sdk.Profiles.get_bulk_import_profiles_job(job.data.id)
    assert done.data.attributes.status == "complete" and done.data.attributes.failed_count == 1
    errors = sdk.Profiles.get_errors_for_bulk_import_profiles_job(job.data.id)
    assert errors.data[0].attributes.source.pointer.endswith("/2/attributes/email")
    imported = sdk.Profiles.get_profiles_for_bulk_import_profiles_job(job.data.id)
    ids = [p.id for p in imported.data]
    assert len(ids) == 2

    members = sdk.Lists.get_profiles_for_list(list_id, page_size=100)
    assert {m.attributes.email for m in members.data} == {"a@x.com", "b@x.com"}
    assert members.data[0].attributes.joined_group_at is not None
    relationship = sdk.Lists.get_profile_ids_for_list(list_id)
    assert {r.id for r in relationship.data} == set(ids)
    sdk.Lists.remove_profiles_from_list(list_id, {"data": [{"type": "profile", "id": ids[0]}]})
    sdk.Lists.add_profiles_to_list(list_id, {"data": [{"type": "profile", "id": ids[0]}]})
    assert klaviyo.state.list_emails(list_id) == {"a@x.com", "b@x.com"}

    looked_up = sdk.Profiles.get_profiles(filter='any(email,["a@x.com","nobody@x.com"])')
    assert [p.id for p in looked_up.data] == [ids[0]]
    one = sdk.Profiles.get_profile(ids[0], additional_fields_profile=["subscriptions"])
    assert one.data.attributes.subscriptions.email.marketing.consent == "NEVER_SUBSCRIBED"
    sparse = sdk.Lists.get_lists(fields_list=["name"], page_size=1)  # sparse: plain dicts
    assert sparse["data"][0]["attributes"] == {"name": "segsync:a"}


def test_segments_through_the_sdk(
    sdk: KlaviyoAPI, klaviyo: Emulator[KlaviyoState], clock: FakeClock
) -> None:
    target = klaviyo.state.add_list("segsync:tag")
    profile = klaviyo.state.add_profile("a@x.com", properties={"region": "CA"})
    klaviyo.state.add_to_list(target.id, [profile.id])
    definition = {
        "condition_groups": [
            {
                "conditions": [
                    {
                        "type": "profile-group-membership",
                        "is_member": True,
                        "group_ids": [target.id],
                    }
                ]
            }
        ]
    }
    created = sdk.Segments.create_segment(
        {"data": {"type": "segment", "attributes": {"name": "native", "definition": definition}}}
    )
    segment_id = created.data.id
    assert created.data.attributes.definition.condition_groups[0].conditions[0]["group_ids"] == [
        target.id
    ]
    members = sdk.Segments.get_profiles_for_segment(segment_id)
    assert [m.attributes.email for m in members.data] == ["a@x.com"]
    clock.advance(61)
    updated = sdk.Segments.update_segment(
        segment_id,
        {"data": {"type": "segment", "id": segment_id, "attributes": {"name": "native-2"}}},
    )
    assert updated.data.attributes.name == "native-2"
    assert sdk.Segments.get_segment(segment_id).data.attributes.is_active is True
    listed = sdk.Segments.get_segments(filter='equals(name,"native-2")')
    assert [s.id for s in listed.data] == [segment_id]


def test_errors_raise_sdk_exceptions(sdk: KlaviyoAPI) -> None:
    with pytest.raises(ApiException) as missing:
        sdk.Lists.get_list("NOPE01")
    assert missing.value.status == 404
    target = sdk.Lists.create_list({"data": {"type": "list", "attributes": {"name": "l"}}})
    with pytest.raises(ApiException) as invalid:
        sdk.Lists.add_profiles_to_list(
            target.data.id, {"data": [{"type": "profile", "id": "01NOPE"}]}
        )
    assert invalid.value.status == 400
    assert json.loads(invalid.value.body or "")["errors"][0]["source"]["pointer"] == "/data/0/id"


def test_create_or_update_profile_one_at_a_time() -> None:
    with run_emulator("klaviyo", EmulatorOptions()) as emu:
        emu.state.add_profile("old@example.com", consent="UNSUBSCRIBED")
        api = KlaviyoAPI(emu.api_key, max_retries=1, test_host=emu.base_url)
        body = {"data": {"type": "profile", "attributes": {"email": "new@example.com"}}}
        created = api.Profiles.create_or_update_profile(body)
        updated = api.Profiles.create_or_update_profile(
            {
                "data": {
                    "type": "profile",
                    "attributes": {"email": "old@example.com", "first_name": "Al"},
                }
            }
        )
        assert created.data.id == emu.state.profile("new@example.com").id
        assert updated.data.attributes.first_name == "Al"
        assert emu.state.profile("old@example.com").consent == "UNSUBSCRIBED"
        assert emu.calls.total("POST", "/api/profile-import") == 2
