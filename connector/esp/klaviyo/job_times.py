"""How long an account's bulk import jobs take, from Klaviyo's own timestamps.

A finished job's resource says when Klaviyo created it and when it completed
(``created_at``, ``completed_at``: ``YYYY-MM-DDTHH:MM:SS.mmmmmm`` in the API reference) and
how many profiles it carried (``total_count``). Those processing times, seen by this
process's earlier polls, time the first poll of a new job: the moment it is expected done,
rather than a fixed guess. A poll sent before a job is done is a call spent for nothing;
one sent long after it delays the run.

The expectation for a job of ``m`` profiles is the least, over the jobs seen, of their
processing time scaled up to ``m`` when ``m`` is larger (at that job's rate) and not
scaled down when it is smaller: a smaller job is assumed no slower than a larger one, but
not faster in proportion (a job's time is not only its profiles: queueing too). Stamps
without fractional seconds are truncated to the second, so such a time is counted as up
to a second longer than they say.

Kept per account (API key and host), shared by the adapters of one process, so the
daemon's runs and a run's later parts learn from the earlier ones; a new process starts
with none (the first poll then waits the adapter's ``job_poll_seconds``).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from datetime import datetime
from typing import Any

__all__ = ["JobTimes", "reset_job_times", "shared_job_times"]

KEEP = 20  # the newest processing times kept per account


def _stamp(value: Any) -> tuple[datetime, bool] | None:
    """The instant of an ISO 8601 stamp, and whether it has fractional seconds."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment, "." in value


class JobTimes:
    """The newest processing times (profiles, seconds) of an account's finished jobs."""

    def __init__(self, keep: int = KEEP) -> None:
        self._lock = threading.Lock()
        self._seen: deque[tuple[int, float]] = deque(maxlen=keep)

    def observe(self, attributes: Mapping[str, Any]) -> None:
        """Learn from a job resource's attributes, once it is complete."""
        if attributes.get("status") != "complete":
            return
        created = _stamp(attributes.get("created_at"))
        completed = _stamp(attributes.get("completed_at"))
        profiles = attributes.get("total_count")
        if created is None or completed is None or not isinstance(profiles, int):
            return
        if profiles <= 0:
            return
        seconds = (completed[0] - created[0]).total_seconds()
        if not (created[1] and completed[1]):
            seconds += 1.0  # truncated to the second: up to a second longer
        if seconds < 0:
            return
        with self._lock:
            self._seen.append((profiles, seconds))

    def expected(self, profiles: int) -> float | None:
        """Seconds a job of ``profiles`` is expected to take (None: no job seen yet)."""
        with self._lock:
            seen = list(self._seen)
        if not seen:
            return None
        return min(seconds * max(1.0, profiles / count) for count, seconds in seen)


_registry: dict[str, JobTimes] = {}
_registry_lock = threading.Lock()


def shared_job_times(account: str) -> JobTimes:
    """The processing times of one account's jobs, shared by the process's adapters."""
    with _registry_lock:
        times = _registry.get(account)
        if times is None:
            times = _registry[account] = JobTimes()
        return times


def reset_job_times() -> None:
    """Forget every account's processing times (for tests)."""
    with _registry_lock:
        _registry.clear()
