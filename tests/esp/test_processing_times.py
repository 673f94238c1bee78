"""An account's processing times: what is kept, and when new work is expected done."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from connector.esp.processing_times import (
    ProcessingTime,
    ProcessingTimes,
    shared_processing_times,
)


def test_the_newest_are_kept_one_per_job_and_nonsense_is_not_learned() -> None:
    times = ProcessingTimes(keep=3)
    assert times.expected(10) is None
    for i in range(5):
        times.add(ProcessingTime(f"j{i}", 10, 1.0 + i, float(i)))
    times.add(ProcessingTime("j4", 10, 0.1, 9.0))  # known: keeps its first time
    times.add(ProcessingTime("", 10, 0.1, 9.0))  # no id
    times.add(ProcessingTime("j9", 0, 0.1, 9.0))  # no items
    times.add(ProcessingTime("j8", 10, -1.0, 9.0))  # negative
    assert [(t.id, t.seconds) for t in times.records()] == [("j2", 3.0), ("j3", 4.0), ("j4", 5.0)]
    # seeding from the store: older ones than those kept fall out, known ones are not doubled
    times.seed([ProcessingTime("old", 10, 0.5, -1.0), ProcessingTime("j3", 10, 4.0, 3.0)])
    assert [t.id for t in times.records()] == ["j2", "j3", "j4"]
    times.seed([ProcessingTime("new", 10, 0.5, 7.0)])
    assert [t.id for t in times.records()] == ["j3", "j4", "new"]
    assert times.expected(10) == 0.5


def test_one_account_s_times_are_shared_by_the_process() -> None:
    shared_processing_times("acct").add(ProcessingTime("j", 10, 2.0, 0.0))
    assert shared_processing_times("acct").expected(20) == 4.0
    assert shared_processing_times("other").expected(20) is None


@given(
    fixed=st.floats(0, 600),
    per_item=st.floats(0, 1),
    sizes=st.lists(st.integers(1, 20_000), min_size=1, max_size=20),
    new=st.integers(1, 50_000),
)
def test_work_taking_a_fixed_time_plus_one_per_item_is_never_expected_early(
    fixed: float, per_item: float, sizes: list[int], new: int
) -> None:
    """The first poll may come late (one poll), never early (a poll for nothing)."""
    times = ProcessingTimes()
    for index, items in enumerate(sizes):
        times.add(ProcessingTime(f"j{index}", items, fixed + per_item * items, float(index)))
    expected = times.expected(new)
    assert expected is not None
    assert expected >= (fixed + per_item * new) * (1 - 1e-9)
