"""How long an account's background work takes: when to poll a job or batch the first time.

Both ESPs run bulk work in the background and are polled for it (Klaviyo's bulk import
jobs, Mailchimp's ``POST /batches``). A poll sent before the work is done is a call spent
for nothing; one sent long after it delays the run. Each ESP's package turns what it saw of
a finished job into a ``ProcessingTime``: ``seconds`` after the ESP's answer accepting it,
a first poll would have found it done (from the ESP's own stamps, bounded above by the
client's own polls where those say more), for ``items`` operations or profiles.

The expectation for new work of ``m`` items is the least, over the times kept, of their
seconds scaled up to ``m`` when ``m`` is larger (at that job's rate) and not scaled down
when it is smaller: smaller work is assumed no slower than larger work, but not faster in
proportion (its time is not only its items: queueing too). For work whose time is a fixed
part plus a part per item, scaling up at the rate of a whole job overestimates, never
underestimates: the first poll errs late (one poll), not early (two).

Kept per account (API key and host), shared by the adapters of one process, the newest
``KEEP``; the state store keeps them per destination (``EspAdapter.processing_times``), so
a new process (the daemon's next run, a CI job) times its first poll from the earlier runs.
With none, the caller's cautious fixed first wait applies.

A time learned from the client's own polls (Mailchimp's whole-second stamps say less) is
only an upper bound: the work was done by the poll that found it so, and is known not done
at the latest poll that found it unfinished (``not_before``). The two bracket the real
time; ``first_poll`` narrows a wide bracket across runs by polling inside it (``SEARCH``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

__all__ = [
    "KEEP",
    "SEARCH",
    "ProcessingTime",
    "ProcessingTimes",
    "elapsed",
    "reset_processing_times",
    "shared_processing_times",
]

KEEP = 20  # the newest processing times kept per account (and per destination in the store)
#: a bracket of the account's work is searched (its middle polled first) while its upper end
#: is more than this many times its lower end, so the poll comes at least (1 + SEARCH) / 2
#: times the latest wait that found such work unfinished: work may take 2.5 times as long
#: as earlier work was seen unfinished without a poll for nothing (one batch of 1,000
#: operations on a loaded machine took 2-3 times as long in one run as in the next)
SEARCH = 4.0


def _stamp(value: Any) -> tuple[datetime, bool] | None:
    """The instant of an ISO 8601 stamp with a time zone, and whether it has fractional
    seconds (None: not such a stamp)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment, "." in value


def elapsed(start: Any, end: Any) -> float | None:
    """Seconds from the ESP's stamp ``start`` to its stamp ``end`` (ISO 8601 with a time
    zone; None: either is not such a stamp, or ``end`` comes first). A stamp without
    fractional seconds is truncated to the second, so then the time may be up to a second
    longer than the stamps say: it is counted so."""
    first, last = _stamp(start), _stamp(end)
    if first is None or last is None:
        return None
    seconds = (last[0] - first[0]).total_seconds()
    if seconds < 0:
        return None
    if not (first[1] and last[1]):
        seconds += 1.0
    return seconds


@dataclass(frozen=True)
class ProcessingTime:
    """One finished job or batch: the ESP's id for it, how many items it carried, the
    seconds after it was accepted that a poll finds it done, when this was learned (Unix
    seconds: the newest are kept), and the seconds after acceptance of the latest poll that
    found it unfinished (0: none did; a lower bound of its real time, ``seconds`` the upper)."""

    id: str
    items: int
    seconds: float
    seen_at: float
    not_before: float = 0.0


class ProcessingTimes:
    """The newest processing times of an account's finished jobs (one per job id)."""

    def __init__(self, keep: int = KEEP) -> None:
        self._lock = threading.Lock()
        self._keep = keep
        self._seen: OrderedDict[str, ProcessingTime] = OrderedDict()

    def add(self, time: ProcessingTime) -> None:
        """Learn one job's time (a job already known keeps its first time)."""
        with self._lock:
            self._insert(time)

    def seed(self, times: Iterable[ProcessingTime]) -> None:
        """Learn times kept by earlier runs (the state store's), oldest first."""
        with self._lock:
            for time in sorted(times, key=lambda t: t.seen_at):
                self._insert(time)

    def _insert(self, time: ProcessingTime) -> None:
        """Keep ``time`` unless it says nothing (no id, no items, negative) or its job is
        known already; only the newest ``keep`` stay."""
        if time.items <= 0 or time.seconds < 0 or not time.id or time.id in self._seen:
            return
        if not 0 <= time.not_before <= time.seconds:  # no lower bound above the upper one
            time = replace(time, not_before=0.0)
        self._seen[time.id] = time
        ordered = sorted(self._seen.values(), key=lambda t: t.seen_at)[-self._keep :]
        if len(ordered) < len(self._seen):
            self._seen = OrderedDict((t.id, t) for t in ordered)

    def records(self) -> list[ProcessingTime]:
        """The times kept, oldest first (what the state store keeps)."""
        with self._lock:
            return sorted(self._seen.values(), key=lambda t: t.seen_at)

    def expected(self, items: int) -> float | None:
        """Seconds work of ``items`` is expected to take (None: none seen yet)."""
        with self._lock:
            seen = list(self._seen.values())
        if not seen:
            return None
        return min(t.seconds * max(1.0, items / t.items) for t in seen)

    def first_poll(self, items: int) -> float | None:
        """Seconds after acceptance to poll work of ``items`` first (None: none seen yet).

        ``expected`` (a poll then finds it done, as far as the account's work tells),
        unless the work that time comes from bracketed its own time widely: it was seen
        unfinished (``not_before``) at under ``1 / SEARCH`` of the time it was found done.
        Then the middle of that bracket (scaled like ``expected``), though never under
        ``(1 + SEARCH) / 2`` times the most any kept work was seen unfinished (scaled down
        to fewer items at its rate, not up: larger work takes no less). Found done, the
        poll lowers the upper end for the next run; found unfinished (one poll more), it
        raises the lower end, which ends the search. A search across runs for a time the
        ESP's whole-second stamps cannot give."""
        with self._lock:
            seen = list(self._seen.values())
        if not seen:
            return None
        scale = {t.id: max(1.0, items / t.items) for t in seen}
        best = min(seen, key=lambda t: t.seconds * scale[t.id])
        upper = best.seconds * scale[best.id]
        if not 0 < best.not_before * SEARCH < best.seconds:
            return upper
        lower = max(t.not_before * min(1.0, items / t.items) for t in seen)
        middle = max(
            (best.not_before + best.seconds) / 2 * scale[best.id], lower * (1 + SEARCH) / 2
        )
        return min(middle, upper)


_registry: dict[str, ProcessingTimes] = {}
_registry_lock = threading.Lock()


def shared_processing_times(account: str) -> ProcessingTimes:
    """The processing times of one account's jobs, shared by the process's adapters."""
    with _registry_lock:
        times = _registry.get(account)
        if times is None:
            times = _registry[account] = ProcessingTimes()
        return times


def reset_processing_times() -> None:
    """Forget every account's processing times (a new process; for tests and benchmarks)."""
    with _registry_lock:
        _registry.clear()
