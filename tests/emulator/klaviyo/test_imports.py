"""Klaviyo bulk profile import over loopback HTTP: limits, the queued → processing →
complete lifecycle on the emulator's clock, errors, profiles, lists, upsert semantics."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from connector.emulator import Emulator
from connector.emulator.klaviyo.account import KlaviyoState
from tests.emulator.conftest import FakeClock

JOBS = "/api/profile-bulk-import-jobs"


def job_body(profiles: list[dict[str, Any]], list_ids: tuple[str, ...] = ()) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": "profile-bulk-import-job",
        "attributes": {
            "profiles": {"data": [{"type": "profile", "attributes": p} for p in profiles]}
        },
    }
    if list_ids:
        data["relationships"] = {"lists": {"data": [{"type": "list", "id": i} for i in list_ids]}}
    return {"data": data}


def status(kl: httpx.Client, job_id: str) -> dict[str, Any]:
    attributes: dict[str, Any] = kl.get(f"{JOBS}/{job_id}").json()["data"]["attributes"]
    return attributes


def test_job_lifecycle_errors_profiles_and_list(
    kl: httpx.Client, klaviyo: Emulator[KlaviyoState], clock: FakeClock
) -> None:
    state = klaviyo.state
    target = state.add_list("segsync:vip")
    body = job_body(
        [
            {"email": "a@x.com", "properties": {"region": "CA"}},
            {"email": "not-an-email"},
            {"email": "b@x.com", "phone_number": "555"},
            {"external_id": "ext-1"},
            {"first_name": "No identifier"},
        ],
        (target.id,),
    )
    created = kl.post(JOBS, json=body)
    assert created.status_code == 202
    job = created.json()["data"]
    assert job["type"] == "profile-bulk-import-job" and job["attributes"]["status"] == "queued"
    assert job["attributes"]["total_count"] == 5
    assert job["relationships"]["lists"]["data"] == [{"type": "list", "id": target.id}]
    assert state.profile("a@x.com") is None  # nothing happens before the job runs
    clock.advance(5)
    assert status(kl, job["id"])["status"] == "processing"
    assert kl.get(f"{JOBS}/{job['id']}/profiles").json()["data"] == []
    clock.advance(25)  # looked at well after it was done
    done = status(kl, job["id"])
    assert done["status"] == "complete"
    assert (done["completed_count"], done["failed_count"]) == (2, 3)
    # stamped as the reference shows (microseconds), at the model's times: processing
    # from half the 10 s delay, done at 10 s — not when a request happened to look
    stamps = {
        k: datetime.fromisoformat(done[k]) for k in ("created_at", "started_at", "completed_at")
    }
    assert all(len(done[k].split(".")[1]) == len("000000+00:00") for k in stamps)
    assert (stamps["started_at"] - stamps["created_at"]).total_seconds() == pytest.approx(5)
    assert (stamps["completed_at"] - stamps["created_at"]).total_seconds() == pytest.approx(10)
    errors = kl.get(f"{JOBS}/{job['id']}/import-errors").json()["data"]
    assert [e["attributes"]["source"]["pointer"] for e in errors] == [
        "/data/attributes/profiles/data/1/attributes/email",
        "/data/attributes/profiles/data/2/attributes/phone_number",
        "/data/attributes/profiles/data/4/attributes",
    ]
    assert errors[0]["type"] == "import-error" and errors[0]["attributes"]["original_payload"]
    profiles = kl.get(f"{JOBS}/{job['id']}/profiles").json()["data"]
    assert [p["attributes"]["email"] for p in profiles] == ["a@x.com", None]
    ids = kl.get(f"{JOBS}/{job['id']}/relationships/profiles").json()["data"]
    assert [i["id"] for i in ids] == [p["id"] for p in profiles]
    assert state.list_emails(target.id) == {"a@x.com"}
    assert len(state.lists[target.id].members) == 2
    assert kl.get(f"{JOBS}/nope").status_code == 404


def test_upsert_keeps_values_null_does_not_clear_and_no_consent(
    kl: httpx.Client, klaviyo: Emulator[KlaviyoState], clock: FakeClock
) -> None:
    state = klaviyo.state
    state.add_profile(
        "a@x.com", consent="UNSUBSCRIBED", first_name="Ann", properties={"region": "CA", "tier": 1}
    )
    body = job_body(
        [
            {"email": "A@X.com", "first_name": None, "properties": {"region": None, "tier": 2}},
            {"email": "new@x.com"},
        ]
    )
    job_id = kl.post(JOBS, json=body).json()["data"]["id"]
    clock.advance(10)
    assert status(kl, job_id)["completed_count"] == 2
    kept = state.profile("a@x.com")
    assert kept is not None and kept.first_name == "Ann"
    assert kept.properties == {"region": "CA", "tier": 2}
    assert kept.consent == "UNSUBSCRIBED"
    new = state.profile("new@x.com")
    assert new is not None and new.consent == "NEVER_SUBSCRIBED"


def test_size_limits_and_body_validation(
    kl: httpx.Client, klaviyo: Emulator[KlaviyoState], clock: FakeClock
) -> None:
    at_limit = job_body([{"email": f"p{i}@x.com"} for i in range(10_000)])
    assert kl.post(JOBS, json=at_limit).status_code == 202
    over = job_body([{"email": f"p{i}@x.com"} for i in range(10_001)])
    refused = kl.post(JOBS, json=over)
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["source"]["pointer"] == "/data/attributes/profiles/data"
    huge = job_body(
        [{"email": f"p{i}@x.com", "properties": {"pad": "x" * 600}} for i in range(9000)]
    )
    too_big = kl.post(JOBS, json=huge)
    assert too_big.status_code == 413
    malformed = job_body([{"email": 5}])
    wrong = kl.post(JOBS, json=malformed)
    assert wrong.status_code == 400
    assert wrong.json()["errors"][0]["source"]["pointer"] == (
        "/data/attributes/profiles/data/0/attributes/email"
    )
    unknown_list = kl.post(JOBS, json=job_body([{"email": "a@x.com"}], ("NOPE01",)))
    assert unknown_list.status_code == 400
    clock.advance(10)
    klaviyo.state.tick()  # jobs run when the emulator looks at the clock
    assert len(klaviyo.state.profiles) == 10_000


def test_the_job_listing_reports_the_newest_jobs_first_filtered_and_paged(
    kl: httpx.Client, klaviyo: Emulator[KlaviyoState], clock: FakeClock
) -> None:
    first = kl.post(JOBS, json=job_body([{"email": "a@x.com"}])).json()["data"]["id"]
    clock.advance(20)
    second = kl.post(JOBS, json=job_body([{"email": "b@x.com"}])).json()["data"]["id"]
    newest = kl.get(
        JOBS,
        params={
            "sort": "-created_at",
            "page[size]": "100",
            "fields[profile-bulk-import-job]": "status,failed_count",
        },
    )
    assert newest.status_code == 200
    data = newest.json()["data"]
    assert [j["id"] for j in data] == [second, first]
    assert data[0]["attributes"] == {"status": "queued", "failed_count": 0}
    assert data[1]["attributes"] == {"status": "complete", "failed_count": 0}
    done = kl.get(JOBS, params={"filter": "equals(status,'complete')"}).json()["data"]
    assert [j["id"] for j in done] == [first]
    # the published limits: at most 100 a page, status filters only, two sorts
    assert kl.get(JOBS, params={"page[size]": "101"}).status_code == 400
    assert kl.get(JOBS, params={"filter": "equals(id,'x')"}).status_code == 400
    assert kl.get(JOBS, params={"sort": "status"}).status_code == 400
