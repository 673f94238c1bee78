"""Every request an emulator answered, counted by method, route template and status.

Tests assert on it (``emu.calls[("POST", "/api/profile-subscription-bulk-create-jobs",
202)] == 0``). A request that got no response (a timeout or reset fault) is counted with
status 0. Requests to unknown paths are counted under their raw path.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

__all__ = ["NO_RESPONSE", "CallLog", "CallRecord"]

NO_RESPONSE = 0

CallKey = tuple[str, str, int]


@dataclass(frozen=True)
class CallRecord:
    """One request, in arrival order."""

    method: str
    route: str
    path: str
    status: int


class CallLog(Mapping[CallKey, int]):
    """Thread-safe counts keyed by ``(method, route, status)`` plus the ordered records."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[CallKey] = Counter()
        self._records: list[CallRecord] = []

    def record(self, method: str, route: str, path: str, status: int) -> None:
        """Count one answered (or dropped) request."""
        with self._lock:
            self._counts[(method, route, status)] += 1
            self._records.append(CallRecord(method, route, path, status))

    def __getitem__(self, key: CallKey) -> int:
        with self._lock:
            return self._counts.get(key, 0)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._counts

    def __iter__(self) -> Iterator[CallKey]:
        with self._lock:
            return iter(list(self._counts))

    def __len__(self) -> int:
        with self._lock:
            return len(self._counts)

    def total(
        self, method: str | None = None, route: str | None = None, status: int | None = None
    ) -> int:
        """Requests matching every given part (None matches anything)."""
        with self._lock:
            return sum(
                n
                for (m, r, s), n in self._counts.items()
                if (method is None or m == method)
                and (route is None or r == route)
                and (status is None or s == status)
            )

    @property
    def records(self) -> list[CallRecord]:
        """A copy of every request in arrival order."""
        with self._lock:
            return list(self._records)

    def reset(self) -> None:
        """Forget every request so far."""
        with self._lock:
            self._counts.clear()
            self._records.clear()

    def __repr__(self) -> str:
        with self._lock:
            return f"CallLog({dict(self._counts)!r})"
