"""Klaviyo lists over loopback HTTP: create, find by name, cursor paging, members."""

from __future__ import annotations

from typing import Any

import httpx

from connector.emulator import Emulator
from connector.emulator.klaviyo.account import KlaviyoState
from tests.emulator.conftest import FakeClock

MEMBERS = "/api/lists/{id}/relationships/profiles"


def create_list(kl: httpx.Client, name: str) -> dict[str, Any]:
    response = kl.post("/api/lists", json={"data": {"type": "list", "attributes": {"name": name}}})
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def refs(ids: list[str]) -> dict[str, Any]:
    return {"data": [{"type": "profile", "id": i} for i in ids]}


def test_create_get_and_find_lists_by_name(kl: httpx.Client, clock: FakeClock) -> None:
    created = create_list(kl, "segsync:vip")
    assert created["type"] == "list" and created["attributes"]["name"] == "segsync:vip"
    assert set(created["attributes"]) >= {"name", "created", "updated", "opt_in_process"}
    assert created["links"]["self"].endswith(f"/api/lists/{created['id']}/")
    create_list(kl, "other")
    found = kl.get("/api/lists", params={"filter": 'equals(name,"segsync:vip")'}).json()
    assert [li["id"] for li in found["data"]] == [created["id"]]
    both = kl.get("/api/lists", params={"filter": 'any(name,["segsync:vip","other"])'}).json()
    assert len(both["data"]) == 2
    one = kl.get(f"/api/lists/{created['id']}", params={"additional-fields[list]": "profile_count"})
    assert one.json()["data"]["attributes"]["profile_count"] == 0
    sparse = kl.get(f"/api/lists/{created['id']}", params={"fields[list]": "name"}).json()
    assert sparse["data"]["attributes"] == {"name": "segsync:vip"}
    missing = kl.get("/api/lists/NOPE01")
    assert missing.status_code == 404
    error = missing.json()["errors"][0]
    assert error["code"] == "not_found" and {
        "id",
        "status",
        "code",
        "title",
        "detail",
        "source",
    } <= set(error)
    bad = kl.get("/api/lists", params={"filter": 'equals(nam,"x")'})
    assert bad.status_code == 400 and bad.json()["errors"][0]["source"] == {"parameter": "filter"}
    invalid = kl.post("/api/lists", json={"data": {"type": "lists", "attributes": {}}})
    assert invalid.status_code == 400
    pointers = {e["source"]["pointer"] for e in invalid.json()["errors"]}
    assert pointers == {"/data/type", "/data/attributes/name"}


def test_cursor_paging_of_lists(kl: httpx.Client, klaviyo: Emulator[KlaviyoState]) -> None:
    for i in range(23):
        klaviyo.state.add_list(f"list-{i:02}")
    names: list[str] = []
    url: str | None = "/api/lists"
    pages = 0
    while url:
        page = kl.get(url).json()
        names += [li["attributes"]["name"] for li in page["data"]]
        url = page["links"]["next"]
        pages += 1
    assert names == [f"list-{i:02}" for i in range(23)] and pages == 3
    assert kl.get("/api/lists", params={"page[size]": 10}).status_code == 200
    too_big = kl.get("/api/lists", params={"page[size]": 11})
    assert too_big.status_code == 400
    assert too_big.json()["errors"][0]["source"] == {"parameter": "page[size]"}
    assert kl.get("/api/lists", params={"page[cursor]": "garbage!"}).status_code == 400


def test_members_add_remove_read(
    kl: httpx.Client, klaviyo: Emulator[KlaviyoState], clock: FakeClock
) -> None:
    state = klaviyo.state
    target = create_list(kl, "segsync:m")
    url = MEMBERS.format(id=target["id"])
    profiles = [state.add_profile(f"p{i}@x.com") for i in range(1001)]
    ids = [p.id for p in profiles]
    at_limit = kl.post(url, json=refs(ids[:1000]))
    assert at_limit.status_code == 204 and at_limit.content == b""
    over = kl.post(url, json=refs(ids))
    assert over.status_code == 400 and over.json()["errors"][0]["code"] == "invalid"
    assert len(state.list_emails(target["id"])) == 1000
    unknown = kl.post(url, json=refs([ids[0], "01NOPE"]))
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["source"]["pointer"] == "/data/1/id"
    assert kl.request("DELETE", url, json=refs(ids[:990])).status_code == 204
    assert state.list_emails(target["id"]) == {f"p{i}@x.com" for i in range(990, 1000)}
    page = kl.get(url, params={"page[size]": 4}).json()
    assert page["data"] == [{"type": "profile", "id": i} for i in ids[990:994]]
    assert page["links"]["next"] and page["links"]["prev"] is None
    second = kl.get(page["links"]["next"]).json()
    assert [d["id"] for d in second["data"]] == ids[994:998] and second["links"]["prev"]
    full = kl.get(
        f"/api/lists/{target['id']}/profiles",
        params={"page[size]": 100, "fields[profile]": "email,joined_group_at"},
    ).json()
    assert len(full["data"]) == 10
    assert set(full["data"][0]["attributes"]) == {"email", "joined_group_at"}
    assert kl.get(url, params={"page[size]": 101}).status_code == 400
    one = kl.get(
        f"/api/lists/{target['id']}/profiles", params={"filter": 'equals(email,"P995@x.com")'}
    ).json()
    assert [d["id"] for d in one["data"]] == [ids[995]]
    assert kl.post(MEMBERS.format(id="NOPE01"), json=refs(ids[:1])).status_code == 404


def test_member_filters_on_joined_group_at_apply_every_documented_operator(
    kl: httpx.Client, klaviyo: Emulator[KlaviyoState]
) -> None:
    state = klaviyo.state
    target = state.add_list("joined")
    state.add_to_list(target.id, [state.add_profile("a@x.com").id])
    joined = target.members[next(iter(target.members))]
    path = f"/api/lists/{target.id}/relationships/profiles"
    for op, at, kept in [
        ("greater-or-equal", joined, 1),
        ("greater-or-equal", "2999-01-01T00:00:00+00:00", 0),
        ("greater-than", joined, 0),
        ("less-or-equal", joined, 1),
        ("less-or-equal", "2000-01-01T00:00:00+00:00", 0),
        ("less-than", joined, 0),
    ]:
        found = kl.get(path, params={"filter": f"{op}(joined_group_at,{at})"}).json()["data"]
        assert len(found) == kept, (op, at)
