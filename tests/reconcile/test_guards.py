"""Guards stop a sync before writing: empty store, stale store, mass removal."""

from __future__ import annotations

from datetime import datetime

import pytest

from connector.reconcile.guards import RemovalCheck, check_guards
from connector.settings import GuardSettings, StoreLayout
from connector.source.schema import StoreSchema
from connector.timespec import parse_duration

AS_OF = datetime(2026, 11, 23, 12)


def schema(profiles: int = 10, latest: datetime | None = AS_OF) -> StoreSchema:
    return StoreSchema(StoreLayout(), {}, {}, profile_count=profiles, latest_event=latest)


def test_nothing_trips_on_a_healthy_run() -> None:
    checks = [RemovalCheck("mc", "segsync:a", 100, 20), RemovalCheck("mc", "segsync:b", 0, 0)]
    assert check_guards(schema(), AS_OF, GuardSettings(), checks) == []


def test_empty_store() -> None:
    (problem,) = check_guards(schema(profiles=0), AS_OF, GuardSettings(), [])
    assert "no profiles" in problem


@pytest.mark.parametrize(
    ("latest", "trips"),
    [(datetime(2026, 11, 16, 12), False), (datetime(2026, 11, 16, 11, 59, 59), True), (None, True)],
)
def test_stale_store_at_the_boundary(latest: datetime | None, trips: bool) -> None:
    problems = check_guards(schema(latest=latest), AS_OF, GuardSettings(), [])
    assert bool(problems) == trips
    if trips:
        assert "SEGSYNC_GUARDS__MAX_STALENESS" in problems[0]


def test_staleness_guard_can_be_switched_off() -> None:
    settings = GuardSettings(max_staleness=None)
    assert check_guards(schema(latest=datetime(2020, 1, 1)), AS_OF, settings, []) == []


@pytest.mark.parametrize(("removes", "trips"), [(20, False), (21, True), (100, True)])
def test_mass_removal_above_the_percentage(removes: int, trips: bool) -> None:
    problems = check_guards(
        schema(), AS_OF, GuardSettings(), [RemovalCheck("mc", "segsync:a", 100, removes)]
    )
    assert bool(problems) == trips
    if trips:
        assert f"would remove {removes} of 100" in problems[0]


def test_custom_threshold() -> None:
    settings = GuardSettings(max_removal_percent=50, max_staleness=parse_duration("1d"))
    check = RemovalCheck("kl", "segsync:a", 10, 5)
    assert check_guards(schema(), AS_OF, settings, [check]) == []
