"""An account's simultaneous-connection cap, shared by processes as leased slots.

Table ``segsync_budget_leases`` holds one row per (account, holder process): the slots it
holds, the slots it wants, and when the row expires. A process takes slots in the store only
when its threads need more than it holds; its keeper (``SharedBudget``) renews the row once a
``check_seconds`` while it holds slots (seeing then whether another holder waits), and gives
back slots its threads have not needed for ``linger_seconds`` — so a request costs no
database round trip while a process keeps working, and a busy process costs about one
transaction a second. Rows past ``expires_at`` count for nothing: a holder killed by
SIGKILL blocks the others for at most one lease period.

When another holder wants more than it holds, everyone is held to a fair share (the cap over
the holders, rounded up) and gives back the rest as its requests finish, so a long run does
not starve a second process. Slots in flight always stay recorded until they end: the store
never shows fewer than the process uses.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from connector.esp.budget.store import BudgetStore

__all__ = ["LEASES_DDL", "LeasedSlots"]

LEASES_DDL = (
    "CREATE TABLE IF NOT EXISTS segsync_budget_leases ("
    " account TEXT NOT NULL, holder TEXT NOT NULL, slots INTEGER NOT NULL,"
    " wanted INTEGER NOT NULL, expires_at DOUBLE PRECISION NOT NULL,"
    " PRIMARY KEY (account, holder))"
)

#: renew this long before the local lease deadline (a slow store round trip)
_SAFETY = 0.5


class LeasedSlots:
    """At most ``size`` requests in flight for one account, across every holder of the
    store; a context manager per request like ``ConcurrencyGate``."""

    def __init__(
        self,
        store: BudgetStore,
        account: str,
        holder: str,
        size: int,
        *,
        lease_seconds: float,
        poll_seconds: float = 0.05,
        check_seconds: float = 1.0,
        linger_seconds: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.account = account
        self.holder = holder
        self.size = size
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.check_seconds = check_seconds
        self.linger_seconds = linger_seconds
        self._monotonic = monotonic
        self._cond = threading.Condition()
        self._leased = 0  # slots the store records for this process
        self._allowed = 0  # slots threads may hold now (≤ leased; lower while sharing)
        self._in_use = 0
        self._waiting = 0
        self._busy = False  # a thread is talking to the store
        self._fresh_until = 0.0  # local time by which the lease must have been renewed
        self._recorded = False  # the store has a row for this process
        self._renewed = 0.0  # local time of the last renewal
        self._last_take = 0.0  # local time a thread last took a slot
        self._sharing = False  # another holder wanted more than it held (last renewal)

    @contextmanager
    def slot(self) -> Iterator[None]:
        self._take()
        try:
            yield
        finally:
            with self._cond:
                self._in_use -= 1
                self._cond.notify()

    def _free(self) -> bool:
        return self._in_use < self._allowed and self._monotonic() < self._fresh_until

    def _take(self) -> None:
        with self._cond:
            self._waiting += 1
            try:
                while not self._free():
                    if self._busy:
                        self._cond.wait(self.poll_seconds)
                        continue
                    self._busy = True
                    self._cond.release()
                    try:
                        self.renew()
                    finally:
                        self._cond.acquire()
                        self._busy = False
                        self._cond.notify_all()
                    if not self._free():  # nothing to spare anywhere: ask again soon
                        self._cond.wait(self.poll_seconds * (0.5 + random.random()))
                self._in_use += 1
                self._last_take = self._monotonic()
            finally:
                self._waiting -= 1

    def _due(self, now: float) -> bool:
        """Whether the keeper should talk to the store now."""
        if not self._recorded:
            return False
        if now - self._renewed >= self.check_seconds:
            return True  # renew; see whether another holder waits
        idle = self._leased > self._in_use + self._waiting
        return idle and (self._sharing or now - self._last_take >= self.linger_seconds)

    def tick(self) -> None:
        """The keeper's call: renew the lease and give back what is not needed."""
        with self._cond:
            if self._busy or not self._due(self._monotonic()):
                return
            self._busy = True
        try:
            self.renew()
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def renew(self) -> None:
        """Record what this process holds and wants; take free slots up to its share."""
        started = self._monotonic()
        with self.store.locked(self.account) as (tx, now):
            tx.execute(
                "DELETE FROM segsync_budget_leases WHERE account = ? AND expires_at < ?",
                (self.account, now),
            )
            others = tx.execute(
                "SELECT slots, wanted FROM segsync_budget_leases WHERE account = ? AND holder <> ?",
                (self.account, self.holder),
            )
            held = sum(int(slots) for slots, _ in others)
            contenders = 1 + sum(1 for slots, wanted in others if slots or wanted)
            starved = any(int(wanted) > int(slots) for slots, wanted in others)
            with self._cond:
                in_use, wanted = self._in_use, self._in_use + self._waiting
                if not starved and self._monotonic() - self._last_take < self.linger_seconds:
                    wanted = max(wanted, self._leased)  # in use a moment ago: keep it a while
                allowed = min(wanted, max(0, self.size - held))
                if starved:
                    allowed = min(allowed, -(-self.size // contenders))
                leased = max(in_use, allowed)  # requests in flight stay recorded
                self._allowed = min(self._allowed, allowed)  # shrink at once, grow on commit
                self._leased = min(self._leased, leased)
            if leased == 0 and wanted == 0:
                tx.execute(
                    "DELETE FROM segsync_budget_leases WHERE account = ? AND holder = ?",
                    (self.account, self.holder),
                )
            else:
                tx.execute(
                    "INSERT INTO segsync_budget_leases"
                    " (account, holder, slots, wanted, expires_at) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT (account, holder) DO UPDATE SET slots = excluded.slots,"
                    " wanted = excluded.wanted, expires_at = excluded.expires_at",
                    (self.account, self.holder, leased, wanted, now + self.lease_seconds),
                )
        with self._cond:
            self._allowed, self._leased = allowed, leased
            self._recorded = bool(leased or wanted)
            self._fresh_until = started + self.lease_seconds - _SAFETY
            self._renewed = started
            self._sharing = starved
            self._cond.notify_all()

    def release(self) -> None:
        """Give every slot back (the process is leaving; requests are over)."""
        with self.store.locked(self.account) as (tx, _):
            tx.execute(
                "DELETE FROM segsync_budget_leases WHERE account = ? AND holder = ?",
                (self.account, self.holder),
            )
        with self._cond:
            self._allowed = self._leased = 0
            self._recorded = False
