"""Mailchimp batch processing times: learned from each batch's own stamps (and the poll
that found it finished), they time the first poll of the account's next batch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

from connector.errors import StopRequestedError
from connector.esp.base import Contact
from connector.esp.mailchimp.adapter import MailchimpAdapter
from connector.esp.mailchimp.batch_times import batch_time
from connector.esp.mailchimp.batches import BatchRunner
from connector.esp.processing_times import (
    ProcessingTime,
    ProcessingTimes,
    reset_processing_times,
)
from tests.esp.conftest import FakeClock
from tests.esp.mailchimp.conftest import FakeAudience
from tests.esp.mailchimp.test_batches import RESULTS, archive, result


def finished(submitted: str, completed: str, operations: int = 1000) -> dict[str, Any]:
    return {
        "id": "b1",
        "status": "finished",
        "total_operations": operations,
        "submitted_at": submitted,
        "completed_at": completed,
        "response_body_url": RESULTS,
    }


@pytest.mark.parametrize(
    ("batch", "waited", "seconds"),
    [
        # whole-second stamps: each truncated, so up to a second longer than they say
        (finished("2026-12-07T10:00:00+00:00", "2026-12-07T10:00:42+00:00"), 47.75, 43.0),
        # a batch of less than a second: the poll that found it done says more
        (finished("2026-12-07T10:00:00+00:00", "2026-12-07T10:00:01+00:00"), 0.25, 0.25),
        (finished("2026-12-07T10:00:00.250+00:00", "2026-12-07T10:00:01.750+00:00"), 3.0, 1.5),
        (finished("", "", 10), 0.75, 0.75),  # no stamps: the poll alone
        (finished("2026-12-07T10:00:05+00:00", "2026-12-07T10:00:01+00:00"), 1.0, 1.0),
    ],
)
def test_a_finished_batch_s_time_is_the_least_of_its_stamps_and_the_poll_that_found_it(
    batch: dict[str, Any], waited: float, seconds: float
) -> None:
    learned = batch_time(batch, waited)
    assert learned is not None
    assert (learned.id, learned.items, learned.seconds) == (
        "b1",
        batch["total_operations"],
        seconds,
    )


@pytest.mark.parametrize(
    "batch",
    [
        {**finished("2026-12-07T10:00:00+00:00", ""), "status": "started"},
        {**finished("2026-12-07T10:00:00+00:00", "2026-12-07T10:00:01+00:00"), "id": ""},
        finished("2026-12-07T10:00:00+00:00", "2026-12-07T10:00:01+00:00", operations=0),
    ],
)
def test_what_is_no_finished_batch_teaches_nothing(batch: dict[str, Any]) -> None:
    assert batch_time(batch, 1.0) is None


def runner(
    clock: FakeClock, answers: list[dict[str, Any]], times: ProcessingTimes, **options: Any
) -> BatchRunner:
    replies = iter(answers)
    return BatchRunner(
        start=lambda body: {"id": "b1", "status": "pending"},
        status=lambda batch_id, fields: next(replies),
        fetch=lambda url: archive([]),
        sleep=clock.sleep,
        now=clock.now,
        stopped=options.pop("stopped", lambda: False),
        times=times,
    )


def test_the_first_poll_comes_when_the_account_s_batches_say_it_is_done(clock: FakeClock) -> None:
    times = ProcessingTimes()
    done = finished("2026-12-07T10:00:00+00:00", "2026-12-07T10:00:02+00:00")
    # nothing known: the cautious fixed wait, then doubling
    runner(clock, [{"status": "started"}, {"status": "started"}, done], times).run([{}] * 1000)
    assert clock.sleeps == [0.25, 0.5, 1.0]
    (learned,) = times.records()
    assert learned.seconds == pytest.approx(1.75)  # the poll beat the stamps' 3 s
    # known: one poll, when it is expected done; twice the operations, at that rate
    clock.sleeps.clear()
    runner(clock, [{**done, "id": "b2"}], times).run([{}] * 1000)
    assert clock.sleeps == [pytest.approx(1.75)]
    clock.sleeps.clear()
    runner(clock, [{**done, "id": "b3"}], times).run([{}] * 2000)
    assert clock.sleeps == [pytest.approx(3.5)]


def test_a_batch_finished_when_accepted_teaches_nothing(clock: FakeClock) -> None:
    """It was never polled: its stamps alone would say "up to a second", and a wait of 0
    would make every later batch's first poll come at once."""
    times = ProcessingTimes()
    done = finished("2026-12-07T10:00:00+00:00", "2026-12-07T10:00:00+00:00", 10)
    BatchRunner(
        start=lambda body: done,
        status=lambda batch_id, fields: done,
        fetch=lambda url: archive([]),
        sleep=clock.sleep,
        now=clock.now,
        stopped=lambda: False,
        times=times,
    ).run([{}] * 10)
    assert clock.sleeps == [] and times.records() == []


def test_a_long_learned_wait_still_hears_a_stop_within_max_poll_seconds(clock: FakeClock) -> None:
    times = ProcessingTimes()
    times.add(ProcessingTime("old", 10, 60.0, 0.0))
    stopped = iter([False, True])
    with pytest.raises(StopRequestedError):
        runner(clock, [], times, stopped=lambda: next(stopped)).run([{}] * 10)
    assert clock.sleeps == [5.0, 5.0]  # not one sleep of 60 s


def test_a_learned_wait_beyond_the_timeout_still_polls_before_giving_up(clock: FakeClock) -> None:
    times = ProcessingTimes()
    times.add(ProcessingTime("old", 10, 7200.0, 0.0))
    done = finished("2026-12-07T10:00:00+00:00", "2026-12-07T10:20:00+00:00", 10)
    runner(clock, [done], times).run([{}] * 10)
    assert sum(clock.sleeps) == 900.0  # half the 1800 s timeout, then the one poll


def test_a_new_process_seeded_with_kept_times_polls_once(
    make_mailchimp: Callable[..., MailchimpAdapter],
    audience: FakeAudience,
    mc_router: respx.Router,
    clock: FakeClock,
) -> None:
    """What the state store carries between processes: the adapter's times, seeded into
    the next process's adapter, time its first poll (respx: the polls are counted)."""
    emails = [f"k{i}@x.com" for i in range(5)]
    for email in emails:
        audience.add(email, "unsubscribed")
    answers: list[str] = []

    def status(request: httpx.Request) -> httpx.Response:
        now = answers.pop(0)
        body = finished("2026-12-07T10:00:00+00:00", "2026-12-07T10:00:04+00:00", 5)
        return httpx.Response(200, json={**body, "status": now})

    mc_router.post("/batches").mock(
        return_value=httpx.Response(200, json={"id": "b1", "status": "pending"})
    )
    polls = mc_router.get("/batches/b1").mock(side_effect=status)
    member = {"status": "unsubscribed", "merge_fields": {"FNAME": "Ada"}}
    mc_router.get(RESULTS).mock(
        return_value=httpx.Response(200, content=archive([result(e, 200, member) for e in emails]))
    )
    contacts = [Contact(e, False, {"FNAME": "Ada"}) for e in emails]

    answers += ["started", "started", "started", "started", "finished"]
    first = make_mailchimp(sleep=clock.sleep, now=clock.now)
    assert len(first.ensure_contacts(contacts, create_new=True).present) == 5
    assert polls.call_count == 5 and clock.sleeps == [0.25, 0.5, 1.0, 2.0, 4.0]
    kept = first.processing_times()
    assert [(t.items, t.seconds) for t in kept] == [(5, 5.0)]  # the stamps: 4 s, a second more

    reset_processing_times()  # a new process: only what the state store kept
    answers += ["finished"]
    clock.sleeps.clear()
    second = make_mailchimp(sleep=clock.sleep, now=clock.now)
    second.remember_processing_times(kept)
    assert len(second.ensure_contacts(contacts, create_new=True).present) == 5
    assert polls.call_count == 6  # one poll
    assert clock.sleeps == [5.0]

    reset_processing_times()  # without them: the cautious default again
    answers += ["started", "finished"]
    clock.sleeps.clear()
    third = make_mailchimp(sleep=clock.sleep, now=clock.now)
    third.ensure_contacts(contacts, create_new=True)
    assert polls.call_count == 8 and clock.sleeps[0] == 0.25


def progress(done: int, total: int = 1000) -> dict[str, Any]:
    return {"status": "started", "total_operations": total, "finished_operations": done}


def test_the_polls_bracket_a_batch_and_a_wide_bracket_is_searched_once(
    clock: FakeClock,
) -> None:
    """The latest poll that found a batch unfinished is kept with the one that found it
    done; a later batch is polled first in the middle of a wide bracket. Found done there,
    that is its time; found unfinished, its next poll comes no later than the time known
    to find such a batch done, and the search ends (one poll more, once)."""
    times = ProcessingTimes()
    done = finished("2026-12-07T10:00:00+00:00", "2026-12-07T10:00:02+00:00")
    # nothing known: 0.25 s, then 100 of 1000 at that rate: 2.25 s more
    runner(clock, [progress(100), done], times).run([{}] * 1000)
    assert clock.sleeps == [0.25, 2.25]
    (first,) = times.records()
    assert (first.not_before, first.seconds) == (0.25, 2.5)
    # the bracket 0.25-2.5 s is wide (over SEARCH times): its middle, found done
    clock.sleeps.clear()
    runner(clock, [{**done, "id": "b2"}], times).run([{}] * 1000)
    assert clock.sleeps == [pytest.approx(1.375)]
    second = times.records()[-1]
    assert (second.not_before, second.seconds) == (0.0, pytest.approx(1.375))
    # found done at 1.375 s with no lower end of its own: polled there, no further search
    clock.sleeps.clear()
    runner(clock, [{**done, "id": "b3"}], times).run([{}] * 1000)
    assert clock.sleeps == [pytest.approx(1.375)]


def test_a_search_that_finds_the_batch_unfinished_polls_next_at_the_known_time(
    clock: FakeClock,
) -> None:
    times = ProcessingTimes()
    times.add(ProcessingTime("old", 1000, 2.5, 0.0, not_before=0.25))
    done = finished("2026-12-07T10:00:00+00:00", "2026-12-07T10:00:02+00:00")
    # the middle (1.375 s) is too soon; the rate (10 of 1000) says far later, but a poll
    # at 2.5 s found such a batch done: polled then
    runner(clock, [progress(10), done], times).run([{}] * 1000)
    assert clock.sleeps == [pytest.approx(1.375), pytest.approx(1.125)]
    learned = times.records()[-1]
    assert (learned.not_before, learned.seconds) == (pytest.approx(1.375), pytest.approx(2.5))
    # its lower end (x2.5 is over 2.5 s) ends the search: one poll, at the known time
    clock.sleeps.clear()
    runner(clock, [{**done, "id": "b3"}], times).run([{}] * 1000)
    assert clock.sleeps == [pytest.approx(2.5)]


def test_a_new_process_searches_a_kept_bracket_and_keeps_what_it_found(
    make_mailchimp: Callable[..., MailchimpAdapter],
    audience: FakeAudience,
    mc_router: respx.Router,
    clock: FakeClock,
) -> None:
    """Over respx: a bracket kept by an earlier run (seen unfinished at 0.25 s, found done
    at 2.5 s) reaches a new process through the state store's records; its one poll comes
    in the middle, and what it found is what it keeps for the next."""
    emails = [f"k{i}@x.com" for i in range(5)]
    for email in emails:
        audience.add(email, "unsubscribed")
    mc_router.post("/batches").mock(
        return_value=httpx.Response(200, json={"id": "b2", "status": "pending"})
    )
    body = finished("2026-12-07T10:00:00+00:00", "2026-12-07T10:00:04+00:00", 5)
    polls = mc_router.get("/batches/b2").mock(
        return_value=httpx.Response(200, json={**body, "id": "b2"})
    )
    member = {"status": "unsubscribed", "merge_fields": {"FNAME": "Ada"}}
    mc_router.get(RESULTS).mock(
        return_value=httpx.Response(200, content=archive([result(e, 200, member) for e in emails]))
    )
    reset_processing_times()
    adapter = make_mailchimp(sleep=clock.sleep, now=clock.now)
    adapter.remember_processing_times([ProcessingTime("b1", 5, 2.5, 0.0, not_before=0.25)])
    contacts = [Contact(e, False, {"FNAME": "Ada"}) for e in emails]
    assert len(adapter.ensure_contacts(contacts, create_new=True).present) == 5
    assert polls.call_count == 1 and clock.sleeps == [pytest.approx(1.375)]
    kept = {t.id: (t.seconds, t.not_before) for t in adapter.processing_times()}
    assert kept == {"b1": (2.5, 0.25), "b2": (pytest.approx(1.375), 0.0)}
