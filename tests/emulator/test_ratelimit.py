"""Fixed windows: burst, steady and daily limits, Retry-After, scaling."""

from __future__ import annotations

import pytest

from connector.emulator.concurrency import InFlightLimiter
from connector.emulator.options import EmulatorOptions
from connector.emulator.ratelimit import RateLimit, RateLimiter, parse_tier
from tests.emulator.conftest import FakeClock


def limiter(clock: FakeClock, **options: object) -> RateLimiter:
    return RateLimiter(EmulatorOptions(clock=clock, **options))  # type: ignore[arg-type]


def test_burst_window_refuses_then_reopens_next_second(clock: FakeClock) -> None:
    rl = limiter(clock)
    tier = RateLimit(burst=3, steady=100)
    clock.now = 10.25
    assert [rl.hit("k", "e", tier) for _ in range(3)] == [None, None, None]
    assert rl.hit("k", "e", tier) == 1
    assert rl.hit("other-key", "e", tier) is None  # per key
    assert rl.hit("k", "other-endpoint", tier) is None  # per endpoint
    clock.now = 11.0
    assert rl.hit("k", "e", tier) is None


def test_steady_window_and_retry_after_until_the_minute_ends(clock: FakeClock) -> None:
    rl = limiter(clock)
    tier = RateLimit(burst=100, steady=5)
    clock.now = 120.0
    for step in range(5):
        clock.now = 120.0 + step * 2
        assert rl.hit("k", "e", tier) is None
    clock.now = 140.5
    assert rl.hit("k", "e", tier) == 40  # ceil(180 - 140.5)
    clock.now = 180.0
    assert rl.hit("k", "e", tier) is None


def test_refused_requests_do_not_count_and_daily_caps_hold(clock: FakeClock) -> None:
    rl = limiter(clock)
    tier = RateLimit(burst=10, steady=150, daily=2)
    clock.now = 0.0
    assert rl.hit("k", "e", tier) is None
    clock.now = 5.0
    assert rl.hit("k", "e", tier) is None
    clock.now = 10.0
    assert rl.hit("k", "e", tier) == 86390
    clock.now = 86400.0
    assert rl.hit("k", "e", tier) is None


def test_scaling_limits_and_windows_and_switching_off(clock: FakeClock) -> None:
    tier = RateLimit(burst=10, steady=150)
    rl = limiter(clock, rate_limit_scale=0.2)  # 2 per second
    assert [rl.hit("k", "e", tier) for _ in range(3)] == [None, None, 1]
    rl = limiter(clock, rate_limit_scale=0.001)  # never below one request
    assert rl.hit("k", "e", tier) is None
    rl = limiter(clock, rate_window_scale=0.01, rate_limit_scale=0.1)  # 1/s, 15/min
    clock.now = 0.0
    assert [rl.hit("k", "e", tier) for _ in range(2)] == [None, 1]
    clock.now = 0.011  # a "second" is 10 ms now
    assert rl.hit("k", "e", tier) is None
    rl = limiter(clock, rate_limits=False)
    assert all(rl.hit("k", "e", RateLimit(burst=1)) is None for _ in range(5))
    rl = limiter(clock)
    rl.hit("k", "e", RateLimit(burst=1))
    rl.reset()
    assert rl.hit("k", "e", RateLimit(burst=1)) is None


def test_parse_tier() -> None:
    assert parse_tier("10/s", "150/m", "150/d") == RateLimit(10, 150, 150)
    assert parse_tier("1/s", "15/m") == RateLimit(1, 15, None)


@pytest.mark.parametrize("limit", [1, 3])
def test_in_flight_limiter(limit: int) -> None:
    slots = InFlightLimiter()
    assert all(slots.acquire("k", limit) for _ in range(limit))
    assert not slots.acquire("k", limit)
    assert slots.acquire("other", limit)
    slots.release("k")
    assert slots.in_flight("k") == limit - 1
    assert slots.acquire("k", limit)
    assert slots.peak == limit
