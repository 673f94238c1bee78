"""Processing times of bulk import jobs, from Klaviyo's own stamps."""

from __future__ import annotations

import pytest

from connector.esp.klaviyo.job_times import job_time
from connector.esp.processing_times import ProcessingTimes


def job(created: str, completed: str | None, total: int, status: str = "complete") -> dict:
    return {
        "status": status,
        "created_at": created,
        "completed_at": completed,
        "total_count": total,
    }


def learned(*jobs: dict) -> ProcessingTimes:
    times = ProcessingTimes()
    for index, attributes in enumerate(jobs):
        time = job_time(f"job{index}", attributes)
        if time is not None:
            times.add(time)
    return times


def test_a_job_of_known_size_is_expected_to_take_what_the_account_s_jobs_took() -> None:
    assert learned().expected(1000) is None  # nothing seen: the caller's fixed wait
    times = learned(
        job("2026-11-23T12:00:00.100000+00:00", "2026-11-23T12:00:00.300000+00:00", 1000),
        job("2026-11-23T12:00:00.100000+00:00", "2026-11-23T12:00:01.100000+00:00", 1000),
    )
    assert times.expected(1000) == pytest.approx(0.2)  # the fastest seen
    assert times.expected(10) == pytest.approx(0.2)  # a smaller job: not faster in proportion
    assert times.expected(5000) == pytest.approx(1.0)  # a larger one: at the rate seen


def test_stamps_truncated_to_the_second_count_a_second_longer() -> None:
    times = learned(job("2026-11-23T12:00:00+00:00", "2026-11-23T12:00:00+00:00", 100))
    assert times.expected(100) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "attributes",
    [
        job("2026-11-23T12:00:00.1+00:00", None, 100),  # not completed
        job("2026-11-23T12:00:00.1+00:00", "2026-11-23T12:00:00.2+00:00", 100, "processing"),
        job("2026-11-23T12:00:00.1+00:00", "2026-11-23T12:00:00.2+00:00", 0),  # no profiles
        job("2026-11-23T12:00:00.1", "2026-11-23T12:00:00.2", 100),  # no time zone
        job("yesterday", "2026-11-23T12:00:00.2+00:00", 100),
        job("2026-11-23T12:00:01.1+00:00", "2026-11-23T12:00:00.2+00:00", 100),  # backwards
    ],
)
def test_what_cannot_be_a_processing_time_is_not_learned(attributes: dict) -> None:
    assert job_time("job", attributes) is None
