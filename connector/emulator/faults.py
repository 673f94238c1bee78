"""Which requests fail, and how: seeded random faults plus scripted one-shot faults.

Random faults: every request draws from ``random.Random(seed)`` in arrival order (two
numbers, always, so the sequence does not depend on the rates), and the rates in
``EmulatorOptions`` pick 429, 5xx, timeout or reset. Scripted faults (``inject``) hit the
next matching requests whatever the rates say, which is what crash-safety tests need:
"lose the response of the next segment update after it was applied".
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Literal

from connector.emulator.options import EmulatorOptions, FaultPhase

__all__ = ["Fault", "FaultEvent", "FaultInjector", "FaultKind"]

FaultKind = Literal["429", "5xx", "timeout", "reset"]

_SERVER_ERRORS = (500, 502, 503, 504)


@dataclass(frozen=True)
class Fault:
    """What to do to one request. ``status`` is the 5xx code for ``kind == "5xx"``."""

    kind: FaultKind
    phase: FaultPhase = "before"
    status: int = 0


@dataclass(frozen=True)
class FaultEvent:
    """A fault that struck: the request's arrival index, its method and route."""

    index: int
    method: str
    route: str
    fault: Fault


@dataclass
class _Scripted:
    fault: Fault
    method: str | None
    route: str | None
    remaining: int

    def matches(self, method: str, route: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.route is None or self.route == route
        )


class FaultInjector:
    """Decides the fault (if any) of each request; thread-safe."""

    def __init__(self, options: EmulatorOptions) -> None:
        self._options = options
        self._lock = threading.Lock()
        self._scripted: list[_Scripted] = []
        self._events: list[FaultEvent] = []
        self._index = 0
        self._seed_in_use: int | None = None
        self.seed = 0
        self._rng = random.Random()
        self._reseed()

    def _reseed(self) -> None:
        self._seed_in_use = self._options.seed
        if self._options.seed is None:
            self.seed = random.SystemRandom().randrange(2**32)
        else:
            self.seed = self._options.seed
        self._rng = random.Random(self.seed)

    def inject(
        self,
        kind: FaultKind,
        *,
        method: str | None = None,
        route: str | None = None,
        phase: FaultPhase = "before",
        times: int = 1,
        status: int = 503,
    ) -> None:
        """Make the next ``times`` requests matching method/route (None: any) fail.

        ``phase`` applies to timeouts and resets; 429 and 5xx always strike before the
        request is handled.
        """
        effective_phase: FaultPhase = phase if kind in ("timeout", "reset") else "before"
        fault = Fault(kind, effective_phase, status if kind == "5xx" else 0)
        with self._lock:
            self._scripted.append(_Scripted(fault, method, route, times))

    def clear(self) -> None:
        """Drop scripted faults not yet used and forget the fault log."""
        with self._lock:
            self._scripted.clear()
            self._events.clear()

    @property
    def events(self) -> list[FaultEvent]:
        """Every fault that struck so far, in order."""
        with self._lock:
            return list(self._events)

    def draw(self, method: str, route: str) -> Fault | None:
        """The fault of the next request (None: handle it normally)."""
        options = self._options
        with self._lock:
            if options.seed != self._seed_in_use:
                self._reseed()
            index = self._index
            self._index += 1
            u, v = self._rng.random(), self._rng.random()
            fault = self._take_scripted(method, route)
            if fault is None and (options.fault_routes is None or route in options.fault_routes):
                fault = self._random_fault(options, u, v)
            if fault is not None:
                self._events.append(FaultEvent(index, method, route, fault))
            return fault

    def _take_scripted(self, method: str, route: str) -> Fault | None:
        for item in self._scripted:
            if item.remaining > 0 and item.matches(method, route):
                item.remaining -= 1
                if item.remaining == 0:
                    self._scripted.remove(item)
                return item.fault
        return None

    @staticmethod
    def _random_fault(options: EmulatorOptions, u: float, v: float) -> Fault | None:
        edge = options.fault_rate_429
        if u < edge:
            return Fault("429")
        edge += options.fault_rate_5xx
        if u < edge:
            return Fault("5xx", status=_SERVER_ERRORS[int(v * len(_SERVER_ERRORS))])
        edge += options.fault_rate_timeout
        if u < edge:
            return Fault("timeout", options.fault_phase)
        edge += options.fault_rate_reset
        if u < edge:
            return Fault("reset", options.fault_phase)
        return None
