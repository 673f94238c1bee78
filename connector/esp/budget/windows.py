"""Klaviyo's per-endpoint burst and steady limits, shared by processes as token grants.

Table ``segsync_budget_grants`` holds grants: (account, endpoint, granted_at, valid_until,
tokens). A process asks for a few tokens at a time — as many as its threads wait for, or as
it used over the last validity period — and gets at most what the limits leave over the
sliding windows ending now (1 s and 60 s, plus ``MARGIN``). Each token must be *sent* by
``valid_until`` (a short ``validity``), and a grant counts in a window while its validity
overlaps it, so any two requests that could fall in one window were counted against each
other whatever the delays: the windows stay under the limits for every host together.
A token not sent in time is dropped (it still counts; the price of batching).

A 429 records a pause for the endpoint (``segsync_budget_pauses``) that every process honours.
"""

from __future__ import annotations

import threading
from collections import deque

from connector.esp.budget.store import BudgetStore
from connector.esp.ratelimit import MARGIN, Clock, RateTier

__all__ = ["GRANTS_DDL", "SharedWindow"]

GRANTS_DDL = (
    "CREATE TABLE IF NOT EXISTS segsync_budget_grants ("
    " account TEXT NOT NULL, endpoint TEXT NOT NULL, granted_at DOUBLE PRECISION NOT NULL,"
    " valid_until DOUBLE PRECISION NOT NULL, tokens INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS segsync_budget_grants_window"
    " ON segsync_budget_grants (account, endpoint, valid_until)",
    "CREATE TABLE IF NOT EXISTS segsync_budget_pauses ("
    " account TEXT NOT NULL, endpoint TEXT NOT NULL, until DOUBLE PRECISION NOT NULL,"
    " PRIMARY KEY (account, endpoint))",
)

SECOND = 1.0 + MARGIN
MINUTE = 60.0 + MARGIN


class SharedWindow:
    """The burst/steady limits of one endpoint of one account, across every process of the
    store; ``acquire``/``pause`` like ``WindowLimiter``, plus ``take`` (a token's deadline)."""

    def __init__(
        self,
        store: BudgetStore,
        account: str,
        endpoint: str,
        tier: RateTier,
        clock: Clock,
        *,
        validity: float = 0.25,
        poll_seconds: float = 0.05,
    ) -> None:
        self.store = store
        self.account = account
        self.endpoint = endpoint
        self.tier = tier
        self.clock = clock
        self.validity = validity
        self.poll_seconds = poll_seconds
        self._cond = threading.Condition()
        self._tokens: deque[float] = deque()  # local deadlines of granted, unsent tokens
        self._sent: deque[float] = deque()  # when tokens were taken, over one validity period
        self._waiting = 0
        self._busy = False
        self._paused_until = 0.0

    def acquire(self) -> float:
        """Block until one more request may be sent; return the seconds waited."""
        started = self.clock.now()
        self.take()
        return self.clock.now() - started

    def take(self) -> float:
        """Block until one more request may be sent; return by when (local clock) it must be."""
        with self._cond:
            self._waiting += 1
            try:
                return self._take()
            finally:
                self._waiting -= 1

    def _take(self) -> float:
        while True:
            now = self.clock.now()
            while self._tokens and self._tokens[0] <= now:
                self._tokens.popleft()  # granted but not sent in time
            if now < self._paused_until:
                pause = self._paused_until - now
                self._cond.release()
                try:
                    self.clock.sleep(pause)
                finally:
                    self._cond.acquire()
                continue
            if self._tokens:
                self._sent.append(now)
                return self._tokens.popleft()
            if self._busy:
                self._cond.wait(self.poll_seconds)
                continue
            while self._sent and self._sent[0] <= now - self.validity:
                self._sent.popleft()
            want = min(max(self._waiting, len(self._sent)), self.tier.burst)
            self._busy = True
            self._cond.release()
            try:
                delay = self._grant(want)
            finally:
                self._cond.acquire()
                self._busy = False
                self._cond.notify_all()
            if delay > 0:
                self._cond.release()
                try:
                    self.clock.sleep(delay)
                finally:
                    self._cond.acquire()

    def expired(self, deadline: float) -> bool:
        """Whether a token taken with ``deadline`` may no longer be sent."""
        return self.clock.now() >= deadline

    def _grant(self, want: int) -> float:
        """Ask the store for ``want`` tokens; 0 when some came, else seconds to wait."""
        started = self.clock.now()
        key = (self.account, self.endpoint)
        with self.store.locked(self.account) as (tx, now):
            paused = tx.execute(
                "SELECT until FROM segsync_budget_pauses WHERE account = ? AND endpoint = ?", key
            )
            if paused and float(paused[0][0]) > now:
                return float(paused[0][0]) - now
            tx.execute(
                "DELETE FROM segsync_budget_grants"
                " WHERE account = ? AND endpoint = ? AND valid_until < ?",
                (*key, now - MINUTE - 1.0),
            )
            rows = [
                (float(until), int(tokens))
                for until, tokens in tx.execute(
                    "SELECT valid_until, tokens FROM segsync_budget_grants"
                    " WHERE account = ? AND endpoint = ? AND valid_until > ?"
                    " ORDER BY valid_until",
                    (*key, now - MINUTE),
                )
            ]
            last_second = [(u, t) for u, t in rows if u > now - SECOND]
            free_burst = self.tier.burst - sum(t for _, t in last_second)
            free_steady = self.tier.steady - sum(t for _, t in rows)
            free = min(free_burst, free_steady)
            if free <= 0:
                delay = 0.0
                if free_burst <= 0:
                    delay = max(delay, last_second[0][0] + SECOND - now)
                if free_steady <= 0:
                    delay = max(delay, rows[0][0] + MINUTE - now)
                return max(delay, 0.01)
            granted = min(want, free)
            tx.execute(
                "INSERT INTO segsync_budget_grants"
                " (account, endpoint, granted_at, valid_until, tokens) VALUES (?, ?, ?, ?, ?)",
                (*key, now, now + self.validity, granted),
            )
        with self._cond:
            self._tokens.extend([started + self.validity] * granted)
        return 0.0

    def pause(self, seconds: float) -> None:
        """Hold every thread of every process off this endpoint for ``seconds`` (a 429)."""
        with self._cond:
            self._paused_until = max(self._paused_until, self.clock.now() + seconds)
            self._tokens.clear()
        with self.store.locked(self.account) as (tx, now):
            tx.execute(
                "INSERT INTO segsync_budget_pauses (account, endpoint, until) VALUES (?, ?, ?)"
                " ON CONFLICT (account, endpoint) DO UPDATE SET"
                " until = CASE WHEN excluded.until > segsync_budget_pauses.until"
                " THEN excluded.until ELSE segsync_budget_pauses.until END",
                (self.account, self.endpoint, now + seconds),
            )
