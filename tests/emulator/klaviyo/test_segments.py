"""Klaviyo segments over loopback HTTP: create/update/read, definition checks, computed
membership (lists, other segments, properties, consent)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connector.emulator import Emulator
from connector.emulator.klaviyo.account import KlaviyoState
from tests.emulator.conftest import FakeClock


def in_groups(*group_ids: str, member: bool = True) -> dict[str, Any]:
    return {"type": "profile-group-membership", "is_member": member, "group_ids": list(group_ids)}


def prop(name: str, kind: str, operator: str, value: Any = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": kind, "operator": operator}
    if value is not None:
        spec["value"] = value
    return {"type": "profile-property", "property": name, "filter": spec}


def definition(*groups: list[dict[str, Any]]) -> dict[str, Any]:
    return {"condition_groups": [{"conditions": g} for g in groups]}


def body(name: str, defn: dict[str, Any]) -> dict[str, Any]:
    return {"data": {"type": "segment", "attributes": {"name": name, "definition": defn}}}


@pytest.fixture
def people(klaviyo: Emulator[KlaviyoState]) -> dict[str, str]:
    state = klaviyo.state
    ids = {}
    for email, region, clv, consent in [
        ("a@x.com", "CA", 900, "SUBSCRIBED"),
        ("b@x.com", "ny", 100, "NEVER_SUBSCRIBED"),
        ("c@x.com", "Ca", None, "UNSUBSCRIBED"),
        ("d@x.com", None, 50, "SUBSCRIBED"),
    ]:
        properties: dict[str, Any] = {}
        if region is not None:
            properties["region"] = region
        if clv is not None:
            properties["clv"] = clv
        ids[email] = state.add_profile(email, consent=consent, properties=properties).id
    vip = state.add_list("segsync:vip")
    state.add_to_list(vip.id, [ids["a@x.com"], ids["b@x.com"], ids["c@x.com"]])
    ids["vip"] = vip.id
    return ids


def emails(kl: httpx.Client, segment_id: str) -> set[str]:
    data = kl.get(f"/api/segments/{segment_id}/profiles", params={"page[size]": 100}).json()
    return {p["attributes"]["email"] for p in data["data"]}


def create(kl: httpx.Client, clock: FakeClock, name: str, defn: dict[str, Any]) -> dict[str, Any]:
    clock.advance(61)  # segment writes are limited to 1/s and 15/min
    response = kl.post("/api/segments", json=body(name, defn))
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def test_membership_is_computed_from_the_definition(
    kl: httpx.Client, clock: FakeClock, people: dict[str, str], klaviyo: Emulator[KlaviyoState]
) -> None:
    vip = people["vip"]
    native = create(
        kl,
        clock,
        "native",
        definition([in_groups(vip)], [prop("properties['region']", "string", "equals", "ca")]),
    )
    assert native["type"] == "segment"
    assert native["attributes"]["definition"]["condition_groups"][0]["conditions"][0][
        "group_ids"
    ] == [vip]
    assert emails(kl, native["id"]) == {"a@x.com", "c@x.com"}
    cases = [
        (definition([in_groups(vip, member=False)]), {"d@x.com"}),
        (
            definition([prop("properties['clv']", "numeric", "greater-than-or-equal", 100)]),
            {"a@x.com", "b@x.com"},
        ),
        (definition([prop("properties['region']", "existence", "not-set")]), {"d@x.com"}),
        (
            definition([prop("properties['region']", "string", "not-equals", "ca")]),
            {"b@x.com", "d@x.com"},
        ),
        (definition([prop("properties['region']", "string", "in", ["NY", "tx"])]), {"b@x.com"}),
        (
            definition([prop("email", "string", "ends-with", "@X.COM")]),
            {"a@x.com", "b@x.com", "c@x.com", "d@x.com"},
        ),
        (
            definition(
                [
                    {
                        "type": "profile-marketing-consent",
                        "consent": {
                            "channel": "email",
                            "can_receive_marketing": True,
                            "consent_status": {"subscription": "subscribed"},
                        },
                    }
                ]
            ),
            {"a@x.com", "d@x.com"},
        ),
        (
            definition(
                [in_groups(native["id"])], [prop("properties['clv']", "numeric", "less-than", 500)]
            ),
            set(),
        ),
        (
            definition([{"type": "profile-region", "in_region": True, "region": "european_union"}]),
            set(),
        ),
    ]
    for index, (defn, expected) in enumerate(cases):
        created = create(kl, clock, f"case-{index}", defn)
        assert emails(kl, created["id"]) == expected, index
    assert klaviyo.state.segment_emails(native["id"]) == {"a@x.com", "c@x.com"}
    ids = kl.get(f"/api/segments/{native['id']}/relationships/profiles").json()["data"]
    assert {i["id"] for i in ids} == {people["a@x.com"], people["c@x.com"]}
    # membership follows the list
    klaviyo.state.lists[vip].members.pop(people["a@x.com"])
    assert emails(kl, native["id"]) == {"c@x.com"}


def test_update_find_read_delete(
    kl: httpx.Client, clock: FakeClock, people: dict[str, str]
) -> None:
    created = create(kl, clock, "segsync:native", definition([in_groups(people["vip"])]))
    clock.advance(61)
    new_definition = definition([prop("email", "string", "equals", "d@x.com")])
    patched = kl.patch(
        f"/api/segments/{created['id']}",
        json={
            "data": {
                "type": "segment",
                "id": created["id"],
                "attributes": {"definition": new_definition, "name": "renamed"},
            }
        },
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["data"]["attributes"]["name"] == "renamed"
    assert emails(kl, created["id"]) == {"d@x.com"}
    clock.advance(61)
    mismatch = kl.patch(
        f"/api/segments/{created['id']}",
        json={"data": {"type": "segment", "id": "OTHER1", "attributes": {"name": "x"}}},
    )
    assert mismatch.status_code == 409
    found = kl.get("/api/segments", params={"filter": 'equals(name,"renamed")'}).json()["data"]
    assert [s["id"] for s in found] == [created["id"]]
    counted = kl.get(
        f"/api/segments/{created['id']}", params={"additional-fields[segment]": "profile_count"}
    )
    assert counted.json()["data"]["attributes"]["profile_count"] == 1
    assert kl.get("/api/segments", params={"page[size]": 11}).status_code == 400
    assert kl.get("/api/segments/NOPE01").status_code == 404
    assert kl.delete(f"/api/segments/{created['id']}").status_code == 204


@pytest.mark.parametrize(
    ("defn", "pointer"),
    [
        (
            definition(*[[prop("email", "string", "equals", "x")]] * 101),
            "/data/attributes/definition/condition_groups",
        ),
        ({"condition_groups": []}, "/data/attributes/definition/condition_groups"),
        (
            definition([{"type": "profile-bogus"}]),
            "/data/attributes/definition/condition_groups/0/conditions/0/type",
        ),
        (
            definition([in_groups("NOPE01")]),
            "/data/attributes/definition/condition_groups/0/conditions/0/group_ids",
        ),
        (
            definition([prop("email", "string", "greater-than", "x")]),
            "/data/attributes/definition/condition_groups/0/conditions/0/filter/operator",
        ),
        (
            definition([prop("email", "string", "equals")]),
            "/data/attributes/definition/condition_groups/0/conditions/0/filter/value",
        ),
    ],
)
def test_definition_checks(
    kl: httpx.Client, people: dict[str, str], defn: dict[str, Any], pointer: str
) -> None:
    response = kl.post("/api/segments", json=body("bad", defn))
    assert response.status_code == 400
    assert pointer in {e["source"]["pointer"] for e in response.json()["errors"]}


def test_one_hundred_conditions_are_allowed(
    kl: httpx.Client, clock: FakeClock, people: dict[str, str]
) -> None:
    at_limit = definition(*[[prop("email", "string", "equals", f"{i}@x.com")] for i in range(100)])
    create(kl, clock, "hundred", at_limit)
    clock.advance(61)
    missing_name = kl.post(
        "/api/segments", json={"data": {"type": "segment", "attributes": {"definition": at_limit}}}
    )
    assert missing_name.status_code == 400
