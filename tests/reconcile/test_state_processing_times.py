"""The state store keeps each destination's newest job/batch processing times (SQLite and
PostgreSQL), so a new process times its first poll from earlier runs."""

from __future__ import annotations

from connector.esp.processing_times import KEEP, ProcessingTime, ProcessingTimes
from connector.reconcile.state import StateStore


def times(start: int, count: int, seconds: float = 1.5) -> list[ProcessingTime]:
    return [
        ProcessingTime(f"b{i}", 100 + i, seconds, 1_800_000_000.0 + i)
        for i in range(start, start + count)
    ]


def test_processing_times_survive_a_new_process_newest_kept_per_destination(
    state_url: str,
) -> None:
    store = StateStore(state_url)
    assert store.processing_times("mc") == []
    store.record_processing_times("mc", times(0, 5))
    store.record_processing_times("mc", times(3, KEEP + 5))  # overlapping: b3, b4 again
    store.record_processing_times("kl", times(0, 1, seconds=0.2))
    store.record_processing_times("kl", [])
    store.close()

    reopened = StateStore(state_url)  # a new process: nothing but the store
    kept = reopened.processing_times("mc")
    assert [t.id for t in kept] == [f"b{i}" for i in range(8, KEEP + 8)]  # the newest, oldest first
    assert kept[0] == ProcessingTime("b8", 108, 1.5, 1_800_000_008.0)  # every value as written
    assert reopened.processing_times("kl") == [ProcessingTime("b0", 100, 0.2, 1_800_000_000.0)]
    # a job kept already keeps its first time
    reopened.record_processing_times("kl", [ProcessingTime("b0", 100, 9.0, 1_800_000_000.0)])
    assert reopened.processing_times("kl")[0].seconds == 0.2
    seeded = ProcessingTimes()
    seeded.seed(reopened.processing_times("mc"))
    assert seeded.expected(108) == 1.5
    # the latest poll that found a batch unfinished is kept too: a bracket later runs search
    bracketed = ProcessingTime("b99", 1000, 2.5, 1_900_000_000.0, not_before=0.25)
    reopened.record_processing_times("br", [bracketed])
    reopened.close()
    again = StateStore(state_url)
    assert again.processing_times("br") == [bracketed]
    assert again.processing_times("mc")[0].not_before == 0.0
    seeded = ProcessingTimes()
    seeded.seed(again.processing_times("br"))
    assert seeded.first_poll(1000) == 1.375
    again.close()
