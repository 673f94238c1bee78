"""Fault decisions: seeded, reproducible, scripted faults first, rates by kind."""

from __future__ import annotations

from connector.emulator.faults import Fault, FaultInjector
from connector.emulator.options import EmulatorOptions


def sequence(options: EmulatorOptions, n: int = 200) -> list[Fault | None]:
    injector = FaultInjector(options)
    return [injector.draw("GET", "/r") for _ in range(n)]


def test_same_seed_same_sequence_and_rates_pick_kinds() -> None:
    options = EmulatorOptions(
        seed=7, fault_rate_429=0.1, fault_rate_5xx=0.1, fault_rate_timeout=0.1, fault_rate_reset=0.1
    )
    first, second = sequence(options), sequence(options)
    assert first == second
    kinds = {f.kind for f in first if f is not None}
    assert kinds == {"429", "5xx", "timeout", "reset"}
    assert 40 < sum(f is not None for f in first) < 120
    assert {f.status for f in first if f is not None and f.kind == "5xx"} <= {500, 502, 503, 504}


def test_other_seed_other_sequence_and_no_rates_no_faults() -> None:
    assert sequence(EmulatorOptions(seed=1, fault_rate_5xx=0.3)) != sequence(
        EmulatorOptions(seed=2, fault_rate_5xx=0.3)
    )
    assert sequence(EmulatorOptions(seed=1)) == [None] * 200


def test_the_sequence_does_not_shift_when_rates_change() -> None:
    """Each request always draws, so request n fails or not independently of earlier rates."""
    options = EmulatorOptions(seed=3)
    injector = FaultInjector(options)
    for _ in range(5):
        assert injector.draw("GET", "/r") is None
    options.fault_rate_5xx = 1.0
    assert injector.draw("GET", "/r") == sequence(EmulatorOptions(seed=3, fault_rate_5xx=1.0))[5]


def test_reseeding_when_the_seed_option_changes() -> None:
    options = EmulatorOptions(seed=5, fault_rate_reset=0.5)
    injector = FaultInjector(options)
    first = [injector.draw("GET", "/r") for _ in range(20)]
    options.seed = 5
    options.seed = None
    options.seed = 5  # same value as in use: no reseed; a new value restarts the sequence
    options.seed = 6
    injector.draw("GET", "/r")
    options.seed = 5
    assert [injector.draw("GET", "/r") for _ in range(20)] == first


def test_phase_applies_to_timeouts_and_resets_only() -> None:
    options = EmulatorOptions(seed=1, fault_rate_reset=1.0, fault_phase="after")
    assert sequence(options, 3) == [Fault("reset", "after")] * 3
    options = EmulatorOptions(seed=1, fault_rate_429=1.0, fault_phase="after")
    assert sequence(options, 1) == [Fault("429", "before")]


def test_fault_routes_limit_random_faults() -> None:
    injector = FaultInjector(
        EmulatorOptions(seed=1, fault_rate_5xx=1.0, fault_routes=frozenset({"/a"}))
    )
    assert injector.draw("GET", "/b") is None
    fault = injector.draw("GET", "/a")
    assert fault is not None and fault.kind == "5xx"


def test_scripted_faults_hit_the_next_matching_requests() -> None:
    injector = FaultInjector(EmulatorOptions(seed=1))
    injector.inject("reset", method="POST", route="/r", phase="after", times=2)
    injector.inject("5xx", status=502)
    assert injector.draw("GET", "/r") == Fault("5xx", "before", 502)
    assert injector.draw("GET", "/r") is None
    assert injector.draw("POST", "/r") == Fault("reset", "after")
    assert injector.draw("POST", "/r") == Fault("reset", "after")
    assert injector.draw("POST", "/r") is None
    assert [e.index for e in injector.events] == [0, 2, 3]
    injector.inject("timeout")
    injector.clear()
    assert injector.draw("GET", "/r") is None and injector.events == []


def test_without_a_seed_one_is_drawn_and_reported() -> None:
    injector = FaultInjector(EmulatorOptions(fault_rate_5xx=0.5))
    replay = FaultInjector(EmulatorOptions(seed=injector.seed, fault_rate_5xx=0.5))
    assert [injector.draw("GET", "/r") for _ in range(50)] == [
        replay.draw("GET", "/r") for _ in range(50)
    ]
