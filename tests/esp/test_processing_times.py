"""An account's processing times: what is kept, and when new work is expected done."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from connector.esp.processing_times import (
    SEARCH,
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


def test_a_wide_bracket_is_searched_in_its_middle_a_narrow_one_is_not() -> None:
    narrow = ProcessingTimes()
    narrow.add(ProcessingTime("n", 1000, 2.0, 0.0, not_before=1.0))
    assert narrow.first_poll(1000) == narrow.expected(1000) == 2.0
    # seen unfinished at 0.25 s, found done at 1.5 s (more than SEARCH times that): the
    # middle, scaled to more operations like the upper end
    times = ProcessingTimes()
    assert times.first_poll(1000) is None
    times.add(ProcessingTime("wide", 1000, 1.5, 1.0, not_before=0.25))
    assert times.first_poll(1000) == 0.875
    assert times.first_poll(2000) == 1.75
    assert times.expected(1000) == 1.5  # what a poll is known to find done: unchanged
    # never under (1 + SEARCH) / 2 times the most any work was seen unfinished (scaled
    # down to fewer operations, not up)
    times.add(ProcessingTime("slow", 1000, 9.0, 2.0, not_before=0.5))
    assert times.first_poll(1000) == 1.25
    assert times.first_poll(500) == 0.875  # the slow one's 0.5 s is 0.25 s for 500: x2.5 under
    # a lower end above the upper one says nothing (clocks disagreed): not kept as such
    times.add(ProcessingTime("odd", 10, 1.0, 3.0, not_before=2.0))
    assert next(t for t in times.records() if t.id == "odd").not_before == 0.0


@given(
    first_poll=st.floats(0.01, 10),
    true=st.floats(0.01, 600),
    found=st.floats(1.0, 8.0),
    runs=st.integers(1, 30),
)
def test_a_search_costs_at_most_one_poll_and_never_waits_past_the_known_time(
    first_poll: float, true: float, found: float, runs: int
) -> None:
    """Work that always takes ``true`` seconds: the first batch was seen unfinished at
    ``first_poll`` (before ``true``) and found done ``found`` times later (after it). Each
    later run polls first at ``first_poll()``: found done, that time is kept; found
    unfinished (a poll more), its next poll comes at the known time (``expected``), found
    done there. Over any number of runs: at most one poll more than one per run, no first
    poll later than the first batch's, none under 2.5 times the first not-yet."""
    lower = min(first_poll, true * 0.999)
    upper = max(lower * found, true)
    times = ProcessingTimes()
    times.add(ProcessingTime("b0", 100, upper, 0.0, not_before=lower))
    misses = 0
    for run in range(1, runs + 1):
        wait = times.first_poll(100)
        assert wait is not None
        assert wait <= upper * (1 + 1e-9)
        assert wait >= min(upper, lower * (1 + SEARCH) / 2) * (1 - 1e-9)
        if wait >= true:
            times.add(ProcessingTime(f"b{run}", 100, wait, float(run)))
        else:
            misses += 1
            done_by = times.expected(100)
            assert done_by is not None and done_by >= true
            times.add(ProcessingTime(f"b{run}", 100, done_by, float(run), not_before=wait))
    assert misses <= 1
