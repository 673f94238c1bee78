"""Mailchimp's gateway over loopback HTTP: credentials, the 10-connection limit, latency
and injected faults (before and after the state change, reproducible by seed)."""

from __future__ import annotations

import base64
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from connector.emulator import Emulator, EmulatorOptions, run_emulator
from connector.emulator.mailchimp.account import MailchimpState
from tests.emulator.conftest import SSL_CONTEXT

LIST = "/lists/demo-audience"
BATCH_ROUTE = "/3.0/lists/{list_id}"


def client(emu: Emulator[MailchimpState], timeout: float = 10) -> httpx.Client:
    return httpx.Client(
        base_url=emu.base_url, auth=("u", emu.api_key), timeout=timeout, verify=SSL_CONTEXT
    )


def test_credentials(mailchimp: Emulator[MailchimpState]) -> None:
    url = f"{mailchimp.base_url}/ping"
    key = mailchimp.api_key
    basic = base64.b64encode(f"anything:{key}".encode()).decode()
    anonymous = httpx.Client(verify=SSL_CONTEXT)
    for header in (f"Basic {basic}", f"Bearer {key}", f"apikey {key}"):
        assert anonymous.get(url, headers={"Authorization": header}).status_code == 200
    missing = anonymous.get(url)
    assert missing.status_code == 401 and missing.json()["title"] == "API Key Missing"
    wrong = anonymous.get(url, auth=("u", "0" * 32 + "-us1"))
    assert wrong.status_code == 401 and wrong.json()["title"] == "API Key Invalid"
    assert wrong.headers["content-type"].startswith("application/problem+json")
    assert mailchimp.calls[("GET", "/3.0/ping", 401)] == 2
    anonymous.close()
    with client(mailchimp) as mc:
        not_allowed = mc.delete("/ping")
        assert (
            not_allowed.status_code == 405 and not_allowed.json()["title"] == "Method Not Allowed"
        )
        unknown = mc.get("/campaigns")
        assert unknown.status_code == 404
    assert mailchimp.calls[("GET", "/3.0/campaigns", 404)] == 1


def test_eleventh_simultaneous_request_gets_429() -> None:
    options = EmulatorOptions(seed=1, latency_ms=600)
    with run_emulator("mailchimp", options) as emu:

        def ping(_: int) -> httpx.Response:
            with client(emu) as mc:
                return mc.get("/ping")

        with ThreadPoolExecutor(12) as pool:
            responses = list(pool.map(ping, range(12)))
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] * 10 + [429] * 2
        refused = next(r for r in responses if r.status_code == 429)
        assert refused.json()["detail"] == (
            "You have exceeded the limit of 10 simultaneous connections."
        )
        assert "retry-after" not in refused.headers
        assert emu.gateway.in_flight.peak == 10
        assert emu.calls[("GET", "/3.0/ping", 429)] == 2
        # the limit is per key and a setting
        emu.options.max_connections = 2
        with ThreadPoolExecutor(3) as pool:
            again = sorted(r.status_code for r in pool.map(ping, range(3)))
        assert again == [200, 200, 429]


def test_latency_is_added(mailchimp: Emulator[MailchimpState], mc: httpx.Client) -> None:
    mailchimp.options.latency_ms = 150
    started = time.perf_counter()
    assert mc.get("/ping").status_code == 200
    assert time.perf_counter() - started >= 0.15


def test_5xx_and_429_faults_strike_before_any_change(
    mailchimp: Emulator[MailchimpState], mc: httpx.Client
) -> None:
    mailchimp.options.fault_rate_5xx = 1.0
    body = {"members": [{"email_address": "a@x.com", "status": "subscribed"}]}
    failed = mc.post(LIST, json=body)
    assert failed.status_code in (500, 502, 503, 504)
    assert failed.json()["status"] == failed.status_code
    assert mailchimp.state.emails("demo-audience") == set()
    mailchimp.options.fault_rate_5xx = 0.0
    mailchimp.options.fault_rate_429 = 1.0
    throttled = mc.post(LIST, json=body)
    assert throttled.status_code == 429 and throttled.json()["title"] == "Too Many Requests"
    assert mailchimp.state.emails("demo-audience") == set()
    mailchimp.options.fault_rate_429 = 0.0
    assert mc.post(LIST, json=body).json()["total_created"] == 1
    assert [e.fault.kind for e in mailchimp.faults.events] == ["5xx", "429"]


@pytest.mark.parametrize(("phase", "applied"), [("before", False), ("after", True)])
def test_reset_loses_the_response_before_or_after_the_change(
    mailchimp: Emulator[MailchimpState], mc: httpx.Client, phase: str, applied: bool
) -> None:
    mailchimp.faults.inject("reset", method="POST", route=BATCH_ROUTE, phase=phase)  # type: ignore[arg-type]
    body = {"members": [{"email_address": "a@x.com", "status": "subscribed"}]}
    with pytest.raises(httpx.TransportError):
        mc.post(LIST, json=body)
    assert (mailchimp.state.emails("demo-audience") == {"a@x.com"}) is applied
    assert mailchimp.calls[("POST", BATCH_ROUTE, 0)] == 1
    retried = mc.post(LIST, json=body).json()  # the retry is answered normally
    assert retried["total_created"] + retried["error_count"] == 1


def test_timeout_holds_until_the_client_gives_up(mailchimp: Emulator[MailchimpState]) -> None:
    mailchimp.faults.inject("timeout", phase="after")
    with client(mailchimp, timeout=0.3) as mc:
        started = time.perf_counter()
        with pytest.raises(httpx.ReadTimeout):
            mc.post(LIST, json={"members": [{"email_address": "a@x.com", "status": "subscribed"}]})
        assert time.perf_counter() - started < 2
    assert mailchimp.state.emails("demo-audience") == {"a@x.com"}
    assert mailchimp.calls[("POST", BATCH_ROUTE, 0)] == 1
    deadline = time.monotonic() + 2
    while mailchimp.gateway.in_flight.in_flight(mailchimp.api_key) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert mailchimp.gateway.in_flight.in_flight(mailchimp.api_key) == 0


def test_a_held_request_is_dropped_after_the_hold_limit(
    mailchimp: Emulator[MailchimpState],
) -> None:
    mailchimp.options.timeout_hold_s = 0.1
    mailchimp.faults.inject("timeout")
    with client(mailchimp, timeout=5) as mc:
        started = time.perf_counter()
        with pytest.raises(httpx.TransportError):
            mc.get("/ping")
        assert time.perf_counter() - started < 2


def statuses(seed: int, n: int = 20) -> list[int]:
    options = EmulatorOptions(seed=seed, fault_rate_5xx=0.3, fault_rate_429=0.2)
    with run_emulator("mailchimp", options) as emu, client(emu) as mc:
        return [mc.get("/ping").status_code for _ in range(n)]


def test_fault_sequence_is_reproducible_by_seed() -> None:
    first = statuses(11)
    assert first == statuses(11)
    assert first != statuses(12)
    assert 200 in first and 429 in first and any(s >= 500 for s in first)
