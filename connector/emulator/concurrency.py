"""Mailchimp's "at most N simultaneous connections" per API key.

A request holds a slot from arrival to its last byte (latency included), like on the real
service; the request that would be the N+1th in flight is refused at once.
"""

from __future__ import annotations

import threading
from collections import Counter

__all__ = ["InFlightLimiter"]


class InFlightLimiter:
    """Counts requests in flight per key; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight: Counter[str] = Counter()
        self.peak = 0
        """Highest number of simultaneous requests seen for any key."""

    def acquire(self, key: str, limit: int) -> bool:
        """Take a slot; False (and nothing taken) when ``limit`` are already in flight."""
        with self._lock:
            if self._in_flight[key] >= limit:
                return False
            self._in_flight[key] += 1
            self.peak = max(self.peak, self._in_flight[key])
            return True

    def release(self, key: str) -> None:
        """Give back a slot taken by ``acquire``."""
        with self._lock:
            self._in_flight[key] -= 1
            if self._in_flight[key] <= 0:
                del self._in_flight[key]

    def in_flight(self, key: str) -> int:
        """Requests of ``key`` being handled now."""
        with self._lock:
            return self._in_flight[key]
