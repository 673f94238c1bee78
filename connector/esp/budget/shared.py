"""``SharedBudget``: the gates of one budget store, and the keeper thread that renews them.

One ``SharedBudget`` per budget store and process (``connector/reconcile/budget_db.py``
keeps them); adapters of one account in that process share its gates, like the in-process
registry of ``connector/esp/ratelimit.py``. The keeper wakes every ``tick_seconds``; a gate
talks to the store only when its lease is due (once a second while it holds slots) or it has
slots to give back (``LeasedSlots._due``): an idle gate costs no database call.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid

from connector.errors import ConnectorError
from connector.esp.budget.leases import LeasedSlots
from connector.esp.budget.store import BudgetStore
from connector.esp.budget.windows import SharedWindow
from connector.esp.ratelimit import Clock, RateTier, SystemClock

__all__ = ["SharedBudget"]

log = logging.getLogger("segsync.esp.budget")


class SharedBudget:
    """Per-account gates backed by one budget store, for every process that uses it."""

    def __init__(
        self,
        store: BudgetStore,
        *,
        lease_seconds: float = 15.0,
        tick_seconds: float = 0.2,
        clock: Clock | None = None,
        description: str = "the budget store",
    ) -> None:
        self.store = store
        self.lease_seconds = lease_seconds
        self.tick_seconds = tick_seconds
        self.clock: Clock = clock or SystemClock()
        self.description = description
        #: this process in the store (a random id: no host name or pid is recorded)
        self.holder = uuid.uuid4().hex
        self._lock = threading.Lock()
        self._slots: dict[str, LeasedSlots] = {}
        self._windows: dict[tuple[str, str], SharedWindow] = {}
        self._keeper: threading.Thread | None = None
        self._closed = threading.Event()

    def concurrency_gate(self, account: str, size: int) -> LeasedSlots:
        """The account's leased slots (the first adapter's size wins, like the in-process
        gate); starts the keeper."""
        with self._lock:
            gate = self._slots.get(account)
            if gate is None:
                gate = self._slots[account] = LeasedSlots(
                    self.store, account, self.holder, size, lease_seconds=self.lease_seconds
                )
            if self._keeper is None or not self._keeper.is_alive():
                self._keeper = threading.Thread(
                    target=self._keep, name="segsync-budget-keeper", daemon=True
                )
                self._keeper.start()
            return gate

    def window_limiter(self, account: str, endpoint: str, tier: RateTier) -> SharedWindow:
        """The account's shared window for one endpoint (method + route template)."""
        with self._lock:
            window = self._windows.get((account, endpoint))
            if window is None:
                window = self._windows[(account, endpoint)] = SharedWindow(
                    self.store, account, endpoint, tier, self.clock
                )
            return window

    def _keep(self) -> None:
        while not self._closed.wait(self.tick_seconds):
            with self._lock:
                gates = list(self._slots.values())
            for gate in gates:
                try:
                    gate.tick()
                except ConnectorError as exc:  # the store is away: the next tick retries
                    log.warning("rate budget: %s", exc)

    def close(self) -> None:
        """Stop the keeper, give every slot back, close the store."""
        self._closed.set()
        keeper = self._keeper
        if keeper is not None and keeper is not threading.current_thread():
            keeper.join(5.0)
        with self._lock:
            gates = list(self._slots.values())
        for gate in gates:
            with contextlib.suppress(ConnectorError):  # its lease expires anyway
                gate.release()
        self.store.close()
