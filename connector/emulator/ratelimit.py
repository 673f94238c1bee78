"""Klaviyo-style fixed-window rate limits: burst (1 s), steady (1 min), daily.

Each (API key, endpoint) has one counter per window; a window starts at a multiple of its
length on the emulator's clock, like Klaviyo's fixed windows. A request over any window's
limit is refused with the seconds until that window ends (Retry-After); refused requests
do not count.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from connector.emulator.options import EmulatorOptions

__all__ = ["RateLimit", "RateLimiter", "parse_tier"]

SECOND = 1.0
MINUTE = 60.0
DAY = 86400.0


@dataclass(frozen=True)
class RateLimit:
    """The limits of one endpoint; None means unlimited for that window."""

    burst: int | None = None
    steady: int | None = None
    daily: int | None = None

    def windows(self) -> list[tuple[float, int]]:
        """(window seconds, limit) pairs that apply."""
        pairs = [(SECOND, self.burst), (MINUTE, self.steady), (DAY, self.daily)]
        return [(length, limit) for length, limit in pairs if limit is not None]


def parse_tier(burst: str, steady: str, daily: str | None = None) -> RateLimit:
    """``parse_tier("10/s", "150/m", "150/d")`` → RateLimit(10, 150, 150)."""

    def count(text: str | None) -> int | None:
        return None if text is None else int(text.split("/")[0])

    return RateLimit(count(burst), count(steady), count(daily))


class RateLimiter:
    """Counts requests per (key, endpoint, window); thread-safe."""

    def __init__(self, options: EmulatorOptions) -> None:
        self._options = options
        self._lock = threading.Lock()
        # (key, endpoint, window length) -> (window index, count)
        self._counters: dict[tuple[str, str, float], tuple[int, int]] = {}

    def hit(self, key: str, endpoint: str, limit: RateLimit) -> int | None:
        """Count one request; None if allowed, else the Retry-After seconds (≥ 1)."""
        options = self._options
        if not options.rate_limits:
            return None
        now = options.clock()
        scale = max(options.rate_window_scale, 1e-6)
        with self._lock:
            planned: list[tuple[tuple[str, str, float], int, int]] = []
            for length, allowed in limit.windows():
                window = length * scale
                index = math.floor(now / window)
                slot = (key, endpoint, length)
                current, used = self._counters.get(slot, (index, 0))
                if current != index:
                    used = 0
                scaled = max(1, math.floor(allowed * options.rate_limit_scale))
                if used >= scaled:
                    remaining = (index + 1) * window - now
                    return max(1, math.ceil(remaining))
                planned.append((slot, index, used + 1))
            for slot, index, used in planned:
                self._counters[slot] = (index, used)
        return None

    def reset(self) -> None:
        """Forget every window (a fresh account)."""
        with self._lock:
            self._counters.clear()
