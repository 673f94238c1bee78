"""Per-account request gates shared by every thread (and every adapter) of the process.

- ``ConcurrencyGate``: at most N requests in flight for one account. Mailchimp answers 429
  past 10 simultaneous connections per user, for all apps together.
- ``WindowLimiter``: at most ``burst`` requests in any 1 s and ``steady`` in any 60 s for
  one account and endpoint (Klaviyo's tiers). Klaviyo counts fixed windows; counting the
  last second / minute ending *now* is stricter, so we stay under its count whatever its
  window boundaries are. The windows are a little longer than Klaviyo's (``MARGIN``)
  because Klaviyo counts a request when it arrives, a moment after we send it. A 429
  pauses the endpoint for every thread (``pause``), so one rate-limited thread does not
  leave the others to provoke a storm.

Gates live in a process-wide registry keyed by an account fingerprint (a hash of the ESP,
base URL and key; the key itself is never kept there). ``reset_shared_gates`` empties it
(tests).
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "Clock",
    "ConcurrencyGate",
    "RateTier",
    "RateWindow",
    "SlotGate",
    "SystemClock",
    "WindowLimiter",
    "account_fingerprint",
    "reset_shared_gates",
    "shared_concurrency_gate",
    "shared_window_limiter",
]


class Clock(Protocol):
    """Monotonic time and sleeping, injectable so tests neither wait nor spin."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class SlotGate(Protocol):
    """At most N requests in flight: ``with gate.slot(): send()``."""

    def slot(self) -> AbstractContextManager[None]: ...


class RateWindow(Protocol):
    """Requests per window of one endpoint: ``take`` blocks until one more may be sent and
    returns the (monotonic) time by which it must be sent; ``pause`` after a 429."""

    def take(self) -> float: ...

    def expired(self, deadline: float) -> bool: ...

    def pause(self, seconds: float) -> None: ...


#: extra seconds on each window, for the time between sending and Klaviyo counting
MARGIN = 0.05


@dataclass(frozen=True)
class RateTier:
    """Requests allowed per 1 s (burst) and per 60 s (steady)."""

    burst: int
    steady: int


class ConcurrencyGate:
    """A bounded semaphore used as a context manager."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._semaphore = threading.BoundedSemaphore(size)

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._semaphore:
            yield


class WindowLimiter:
    """Sliding 1 s / 60 s request counts for one endpoint of one account."""

    def __init__(self, tier: RateTier, clock: Clock) -> None:
        self.tier = tier
        self.clock = clock
        self._lock = threading.Lock()
        self._sent: deque[float] = deque()  # start times of requests in the last 60 s
        self._paused_until = 0.0

    def _delay(self, now: float) -> float:
        second, minute = 1.0 + MARGIN, 60.0 + MARGIN
        while self._sent and self._sent[0] <= now - minute:
            self._sent.popleft()
        delay = max(0.0, self._paused_until - now)
        if len(self._sent) >= self.tier.steady:
            delay = max(delay, self._sent[-self.tier.steady] + minute - now)
        if len(self._sent) >= self.tier.burst:
            delay = max(delay, self._sent[-self.tier.burst] + second - now)
        return delay

    def acquire(self) -> float:
        """Block until one more request fits; return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self.clock.now()
                delay = self._delay(now)
                if delay <= 0:
                    self._sent.append(now)
                    return waited
            self.clock.sleep(delay)
            waited += delay

    def take(self) -> float:
        """``acquire``; a request counted here may be sent any time later."""
        self.acquire()
        return math.inf

    def expired(self, deadline: float) -> bool:
        """Whether a request taken with ``deadline`` may no longer be sent (never here)."""
        return self.clock.now() >= deadline

    def pause(self, seconds: float) -> None:
        """Hold every thread off this endpoint for ``seconds`` (after a 429)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self.clock.now() + seconds)


def account_fingerprint(esp: str, base_url: str, api_key: str) -> str:
    """A stable id for one ESP account that does not reveal the key."""
    digest = hashlib.sha256(f"{esp}\0{base_url}\0{api_key}".encode()).hexdigest()
    return f"{esp}:{digest[:16]}"


_registry_lock = threading.Lock()
_concurrency: dict[str, ConcurrencyGate] = {}
_windows: dict[tuple[str, str], WindowLimiter] = {}


def shared_concurrency_gate(account: str, size: int) -> ConcurrencyGate:
    """The account's concurrency gate (the first adapter's size wins)."""
    with _registry_lock:
        gate = _concurrency.get(account)
        if gate is None:
            gate = _concurrency[account] = ConcurrencyGate(size)
        return gate


def shared_window_limiter(
    account: str, endpoint: str, tier: RateTier, clock: Clock
) -> WindowLimiter:
    """The account's limiter for one endpoint (method + route template)."""
    with _registry_lock:
        limiter = _windows.get((account, endpoint))
        if limiter is None:
            limiter = _windows[(account, endpoint)] = WindowLimiter(tier, clock)
        return limiter


def reset_shared_gates() -> None:
    """Forget every shared gate (for tests)."""
    with _registry_lock:
        _concurrency.clear()
        _windows.clear()
