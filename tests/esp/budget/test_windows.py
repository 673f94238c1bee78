"""Shared rate windows: holders of one budget store together stay under an endpoint's burst
limit, and a 429's pause holds every holder off."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from connector.esp.budget import SharedBudget
from connector.esp.ratelimit import RateTier
from connector.reconcile.budget_db import BudgetDb
from connector.reconcile.state_url import StateUrl

ACCOUNT = "klaviyo:0123456789abcdef"
ENDPOINT = "POST /api/lists"


def _budgets(tmp_path: Path, n: int) -> list[SharedBudget]:
    url = StateUrl("sqlite", path=tmp_path / "budget.db")
    return [SharedBudget(BudgetDb(url)) for _ in range(n)]


def _most_in_any(times: list[float], window: float) -> int:
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t < start + window) for i, start in enumerate(times))


def test_two_holders_together_keep_the_burst_limit(tmp_path: Path) -> None:
    budgets = _budgets(tmp_path, 2)
    tier = RateTier(burst=3, steady=100)  # the steady window is counted alike, per minute
    sent: list[float] = []
    lock = threading.Lock()

    def send(budget: SharedBudget) -> None:
        window = budget.window_limiter(ACCOUNT, ENDPOINT, tier)
        for _ in range(3):
            window.take()
            with lock:
                sent.append(time.monotonic())

    try:
        threads = [threading.Thread(target=send, args=(b,)) for b in budgets for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(180)
        assert len(sent) == 12
        assert _most_in_any(sent, 1.0) <= 3  # burst, across both holders
    finally:
        for budget in budgets:
            budget.close()


def test_a_pause_after_a_429_holds_the_other_holder_off(tmp_path: Path) -> None:
    first, second = _budgets(tmp_path, 2)
    tier = RateTier(burst=75, steady=700)
    try:
        second.window_limiter(ACCOUNT, ENDPOINT, tier).take()  # it has been sending
        paused_at = time.monotonic()
        first.window_limiter(ACCOUNT, ENDPOINT, tier).pause(1.5)
        second.window_limiter(ACCOUNT, ENDPOINT, tier).take()
        assert time.monotonic() - paused_at >= 1.4  # not before the Retry-After
        other = second.window_limiter(ACCOUNT, "GET /api/lists", tier)
        started = time.monotonic()
        other.take()
        assert time.monotonic() - started < 1.0  # another endpoint is not paused
    finally:
        first.close()
        second.close()
