"""Klaviyo's gateway over loopback HTTP: credentials, revision header, burst/steady/daily
rate limits with Retry-After, and injected faults."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connector.emulator import Emulator, EmulatorOptions, run_emulator
from connector.emulator.klaviyo.account import KlaviyoState
from tests.emulator.conftest import SSL_CONTEXT, FakeClock, klaviyo_headers

MEMBERS = "/api/lists/{id}/relationships/profiles"


def test_credentials_and_revision(klaviyo: Emulator[KlaviyoState]) -> None:
    with httpx.Client(base_url=klaviyo.base_url, verify=SSL_CONTEXT) as raw:
        good = klaviyo_headers(klaviyo.api_key)
        assert raw.get("/api/lists", headers=good).status_code == 200
        missing = raw.get("/api/lists", headers={"revision": "2026-10-15"})
        assert missing.status_code == 401
        error = missing.json()["errors"][0]
        assert error["code"] == "not_authenticated" and error["status"] == 401
        assert missing.headers["content-type"] == "application/vnd.api+json"
        bearer = raw.get(
            "/api/lists", headers={**good, "Authorization": f"Bearer {klaviyo.api_key}"}
        )
        assert bearer.status_code == 401
        wrong = raw.get("/api/lists", headers={**good, "Authorization": "Klaviyo-API-Key pk_nope"})
        assert wrong.json()["errors"][0]["code"] == "authentication_failed"
        no_revision = {k: v for k, v in good.items() if k != "revision"}
        refused = raw.get("/api/lists", headers=no_revision)
        assert refused.status_code == 400
        assert refused.json()["errors"][0]["source"] == {"parameter": "revision"}
        assert (
            raw.get("/api/lists", headers={**good, "revision": "2026-07-15.pre"}).status_code == 200
        )
        assert raw.put("/api/lists", headers=good).status_code == 405
        assert raw.get("/api/campaigns", headers=good).status_code == 404


def add(kl: httpx.Client, list_id: str, profile_id: str) -> httpx.Response:
    return kl.post(
        MEMBERS.format(id=list_id), json={"data": [{"type": "profile", "id": profile_id}]}
    )


def test_burst_and_steady_limits_answer_429_with_retry_after(
    kl: httpx.Client, klaviyo: Emulator[KlaviyoState], clock: FakeClock
) -> None:
    state = klaviyo.state
    target = state.add_list("l")
    profile = state.add_profile("a@x.com")
    clock.now = 600.0
    assert [add(kl, target.id, profile.id).status_code for _ in range(10)] == [204] * 10
    throttled = add(kl, target.id, profile.id)
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "1"
    error = throttled.json()["errors"][0]
    assert error["code"] == "throttled" and error["title"] == "Request was throttled."
    assert kl.get("/api/lists").status_code == 200  # other endpoints have their own windows
    for second in range(1, 14):  # 10 + 13 * 10 = 140 requests ... then the minute runs out
        clock.now = 600.0 + second
        assert [add(kl, target.id, profile.id).status_code for _ in range(10)] == [204] * 10
    clock.now = 614.0
    statuses = [add(kl, target.id, profile.id).status_code for _ in range(11)]
    assert statuses == [204] * 10 + [429]
    clock.now = 615.5
    steady = add(kl, target.id, profile.id)
    assert steady.status_code == 429 and steady.headers["retry-after"] == "45"
    clock.now = 660.0
    assert add(kl, target.id, profile.id).status_code == 204
    assert klaviyo.calls[("POST", MEMBERS, 429)] == 3


def test_list_creation_daily_cap_and_scaled_limits(clock: FakeClock) -> None:
    options = EmulatorOptions(seed=1, clock=clock, rate_limit_scale=0.1)  # 1/s, 15/min, 15/day
    with (
        run_emulator("klaviyo", options) as emu,
        httpx.Client(
            base_url=emu.base_url, headers=klaviyo_headers(emu.api_key), verify=SSL_CONTEXT
        ) as kl,
    ):

        def create() -> httpx.Response:
            return kl.post(
                "/api/lists", json={"data": {"type": "list", "attributes": {"name": "x"}}}
            )

        clock.now = 0.0
        assert create().status_code == 201
        assert create().status_code == 429
        for minute in range(15):
            clock.now = 60.0 * minute + 1
            if minute:
                assert create().status_code == 201
        clock.now = 3600.0
        capped = create()
        assert capped.status_code == 429
        assert int(capped.headers["retry-after"]) == 86400 - 3600
        emu.reset_limits()
        assert create().status_code == 201
        emu.options.rate_limits = False
        assert all(create().status_code == 201 for _ in range(20))


def test_faults_and_seeded_sequences(klaviyo: Emulator[KlaviyoState], kl: httpx.Client) -> None:
    klaviyo.faults.inject("5xx", status=503)
    failed = kl.get("/api/lists")
    assert failed.status_code == 503
    assert failed.json()["errors"][0]["code"] == "service_unavailable"
    klaviyo.faults.inject("429")
    throttled = kl.get("/api/lists")
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "1"
    klaviyo.faults.inject("reset", route="/api/lists", method="POST", phase="after")
    with pytest.raises(httpx.TransportError):
        kl.post("/api/lists", json={"data": {"type": "list", "attributes": {"name": "lost"}}})
    assert klaviyo.state.find_list("lost") is not None  # created, but the answer was lost


def statuses(seed: int) -> list[int]:
    options = EmulatorOptions(seed=seed, fault_rate_5xx=0.25, rate_limits=False)
    with (
        run_emulator("klaviyo", options) as emu,
        httpx.Client(
            base_url=emu.base_url, headers=klaviyo_headers(emu.api_key), verify=SSL_CONTEXT
        ) as kl,
    ):
        return [kl.get("/api/accounts").status_code for _ in range(25)]


def test_fault_sequence_is_reproducible_by_seed() -> None:
    first: list[Any] = statuses(3)
    assert first == statuses(3) and first != statuses(4)
