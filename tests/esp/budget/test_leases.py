"""Leased connection slots: holders of one budget store together never exceed the cap, share
it when both want it, give idle slots back, and a killed holder's lease expires."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from connector.esp.budget import LeasedSlots, SharedBudget
from connector.reconcile.budget_db import BudgetDb
from connector.reconcile.state_url import StateUrl, parse_state_url
from tests.esp.budget.conftest import ROOT

ACCOUNT = "mailchimp:0123456789abcdef"


def _budget(url: StateUrl, lease: float = 15.0) -> SharedBudget:
    return SharedBudget(BudgetDb(url), lease_seconds=lease, tick_seconds=0.05)


class InFlight:
    """Counts requests inside ``slot()`` across holders; remembers the peak."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.peak = 0
        self.done: dict[str, int] = {}

    def run(self, gate: LeasedSlots, name: str, rounds: int, hold: float) -> None:
        for _ in range(rounds):
            with gate.slot():
                with self.lock:
                    self.now += 1
                    self.peak = max(self.peak, self.now)
                time.sleep(hold)
                with self.lock:
                    self.now -= 1
                    self.done[name] = self.done.get(name, 0) + 1


def _threads(
    flight: InFlight, gate: LeasedSlots, name: str, n: int, rounds: int
) -> list[threading.Thread]:
    threads = [
        threading.Thread(target=flight.run, args=(gate, name, rounds, 0.01)) for _ in range(n)
    ]
    for thread in threads:
        thread.start()
    return threads


def test_two_holders_together_never_exceed_the_cap(tmp_path: Path) -> None:
    url = StateUrl("sqlite", path=tmp_path / "budget.db")
    one, two = _budget(url), _budget(url)
    try:
        flight = InFlight()
        threads = _threads(flight, one.concurrency_gate(ACCOUNT, 10), "one", 12, 15)
        threads += _threads(flight, two.concurrency_gate(ACCOUNT, 10), "two", 12, 15)
        for thread in threads:
            thread.join(120)
        assert flight.done == {"one": 12 * 15, "two": 12 * 15}
        assert flight.peak <= 10
    finally:
        one.close()
        two.close()


def test_a_busy_holder_shares_with_a_newcomer_and_gives_idle_slots_back(tmp_path: Path) -> None:
    url = StateUrl("sqlite", path=tmp_path / "budget.db")
    busy, newcomer = _budget(url), _budget(url)
    try:
        flight = InFlight()
        long_run = _threads(flight, busy.concurrency_gate(ACCOUNT, 10), "busy", 10, 400)
        time.sleep(0.3)  # the busy holder has taken the whole cap
        late = _threads(flight, newcomer.concurrency_gate(ACCOUNT, 10), "late", 10, 5)
        for thread in late:
            thread.join(60)
        # the newcomer finished while the busy holder still works: it got a share
        assert flight.done["late"] == 50
        assert flight.done["busy"] < 4000
        for thread in long_run:
            thread.join(120)
        assert flight.peak <= 10
        time.sleep(2.5)  # past the 1 s linger and a few keeper ticks: every slot given back
        rows = BudgetDb(url)
        try:
            with rows.locked(ACCOUNT) as (tx, _):
                held = tx.execute("SELECT COALESCE(SUM(slots), 0) FROM segsync_budget_leases")
        finally:
            rows.close()
        assert held[0][0] == 0
    finally:
        busy.close()
        newcomer.close()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_killed_holders_slots_expire(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    state_url = (
        f"sqlite:///{tmp_path / 'state.db'}"
        if kind == "sqlite"
        else request.getfixturevalue("pg_state")
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEGSYNC_")}
    env |= {
        "SEGSYNC_STATE_URL": state_url,
        "SEGSYNC_BUDGET__LEASE_SECONDS": "2",
        "SEGSYNC_SECRETS_DIR": "/nonexistent",
        "PYTHONPATH": str(ROOT),
    }
    holder = subprocess.Popen(
        [sys.executable, "-m", "tests.esp.budget.driver", "hold", ACCOUNT, "10"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    budget_url = parse_state_url(state_url)
    if budget_url.kind == "sqlite":
        assert budget_url.path is not None
        budget_url = StateUrl("sqlite", path=budget_url.path.with_name("state.budget.db"))
    waiter = _budget(budget_url, lease=2.0)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        gate = waiter.concurrency_gate(ACCOUNT, 10)
        got = threading.Event()

        def take() -> None:
            with gate.slot():
                got.set()

        thread = threading.Thread(target=take, daemon=True)
        thread.start()
        # the live holder renews its lease: nothing for us, however long we wait
        assert not got.wait(3.0)
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        # no one renews the dead holder's lease: its slots expire, ours come
        assert got.wait(30.0)
        flight = InFlight()
        for thread in _threads(flight, gate, "after", 10, 3):
            thread.join(30)
        assert flight.done == {"after": 30}
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()
        waiter.close()
