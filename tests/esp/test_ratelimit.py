"""Per-account gates: concurrency slots and Klaviyo-style burst/steady windows."""

from __future__ import annotations

import pytest

from connector.esp.ratelimit import (
    MARGIN,
    RateTier,
    WindowLimiter,
    account_fingerprint,
    shared_concurrency_gate,
    shared_window_limiter,
)
from tests.esp.conftest import KLAVIYO_KEY, FakeClock


def test_burst_window_spaces_requests_per_second(clock: FakeClock) -> None:
    limiter = WindowLimiter(RateTier(burst=3, steady=100), clock)
    waits = [limiter.acquire() for _ in range(7)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] == pytest.approx(1.0 + MARGIN)
    assert sum(waits) == pytest.approx(2 * (1.0 + MARGIN))  # 7 requests at 3/s: two waits


def test_steady_window_caps_requests_per_minute(clock: FakeClock) -> None:
    limiter = WindowLimiter(RateTier(burst=10, steady=15), clock)
    start = clock.now()
    for _ in range(16):
        limiter.acquire()
    assert clock.now() - start == pytest.approx(60.0 + MARGIN)  # the 16th waits a minute


def test_pause_holds_every_caller_off(clock: FakeClock) -> None:
    limiter = WindowLimiter(RateTier(burst=75, steady=700), clock)
    limiter.pause(5.0)
    assert limiter.acquire() == pytest.approx(5.0)
    assert limiter.acquire() == 0.0


def test_gates_are_shared_per_account_and_endpoint(clock: FakeClock) -> None:
    account = account_fingerprint("klaviyo", "https://a.klaviyo.com", KLAVIYO_KEY)
    assert KLAVIYO_KEY not in account
    other = account_fingerprint("klaviyo", "https://a.klaviyo.com", KLAVIYO_KEY + "x")
    assert account != other
    assert shared_concurrency_gate(account, 4) is shared_concurrency_gate(account, 9)
    assert shared_concurrency_gate(account, 4).size == 4
    tier = RateTier(1, 15)
    one = shared_window_limiter(account, "POST /api/segments", tier, clock)
    assert shared_window_limiter(account, "POST /api/segments", tier, clock) is one
    assert shared_window_limiter(account, "PATCH /api/segments/{id}", tier, clock) is not one
