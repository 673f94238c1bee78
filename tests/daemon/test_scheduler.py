"""The scheduler's bookkeeping: due times, one job per ESP account, backoff, reloads."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from connector.daemon.scheduler import LastRun, Scheduler, accounts_of
from connector.definitions.loader import Definitions, load_definitions
from connector.esp.registry import destination_models
from connector.timespec import parse_schedule
from tests.conftest import write_config

T0 = datetime(2026, 5, 1, 12, 0, 0)
DESTINATIONS = """\
    mc: {esp: mailchimp, audience: a1}
    kl: {esp: klaviyo}
    """


def segment(name: str, schedule: str | None, *dests: str, value: str = "CA") -> str:
    lines = [f"name: {name}", f"rule: {{attribute: region, op: eq, value: {value}}}"]
    if schedule:
        lines.append(f"schedule: '{schedule}'")
    if dests:
        lines.append("destinations: [" + ", ".join(f"{{to: {d}}}" for d in dests) + "]")
    return "\n".join(lines) + "\n"


Build = Callable[..., Definitions]


@pytest.fixture
def defs(tmp_path: Path) -> Build:
    def build(**segments: str) -> Definitions:
        shutil.rmtree(tmp_path / "config", ignore_errors=True)  # only these segments
        return load_definitions(
            write_config(tmp_path / "config", segments, destinations=DESTINATIONS),
            destination_models(),
        )

    return build


def scheduler(**kw: object) -> Scheduler:
    return Scheduler(parse_schedule("1h"), **kw)  # type: ignore[arg-type]


def test_never_run_segments_are_due_at_once_and_without_destinations_never(defs: Build) -> None:
    d = defs(a=segment("a", "15m", "mc"), b=segment("b", None, "kl"), c=segment("c", "5m"))
    s = scheduler()
    report = s.load(d, T0)
    assert report == {"added": ["a", "b"], "changed": [], "removed": []}
    assert str(s.segments["b"].schedule) == "1h"  # the default schedule
    assert accounts_of(d, "a") == {"mailchimp"}
    jobs = s.take(T0)
    assert sorted(j.segments for j in jobs) == [("a",), ("b",)]  # different ESPs: in parallel


def test_start_follows_the_last_recorded_run(defs: Build) -> None:
    d = defs(
        ok=segment("ok", "15m", "mc"),
        old=segment("old", "15m", "kl"),
        failed=segment("failed", "15m", "kl"),
        stopped=segment("stopped", "15m", "kl"),
        cron=segment("cron", "0 6 * * *", "mc"),
    )
    last = {
        "ok": LastRun(T0 - timedelta(minutes=5), "ok"),
        "old": LastRun(T0 - timedelta(hours=2), "quarantined"),
        "failed": LastRun(T0 - timedelta(minutes=1), "failed"),
        "stopped": LastRun(T0 - timedelta(minutes=1), "stopped"),
        "cron": LastRun(datetime(2026, 5, 1, 6, 0, 3), "ok"),
    }
    s = scheduler()
    s.load(d, T0, last)
    due = {name: st.next_due for name, st in s.segments.items()}
    assert due["ok"] == T0 + timedelta(minutes=10)
    assert due["old"] == due["failed"] == due["stopped"] == T0
    assert due["cron"] == datetime(2026, 5, 2, 6, 0)


def test_one_job_per_esp_account_at_a_time(defs: Build) -> None:
    d = defs(
        a=segment("a", "15m", "mc"),
        b=segment("b", "15m", "mc"),
        both=segment("both", "15m", "mc", "kl"),
        k=segment("k", "15m", "kl"),
    )
    s = scheduler()
    s.load(d, T0)
    first = s.take(T0)
    # "a" takes mailchimp; "both" needs it too and waits; "k" runs beside on klaviyo
    assert [j.segments for j in first] == [("a",), ("k",)]
    assert s.busy == {"mailchimp": first[0].job_id, "klaviyo": first[1].job_id}
    assert s.take(T0 + timedelta(seconds=1)) == []
    s.finish(first[0], "ok", T0 + timedelta(seconds=2))
    assert [j.segments for j in s.take(T0 + timedelta(seconds=2))] == [("b",)]
    s.finish(first[1], "ok", T0 + timedelta(seconds=3))
    assert s.take(T0 + timedelta(seconds=3)) == []  # "both" still waits for mailchimp


def test_success_keeps_the_cadence_from_the_start_of_the_run(defs: Build) -> None:
    s = scheduler()
    s.load(defs(a=segment("a", "15m", "mc")), T0)
    (job,) = s.take(T0)
    s.finish(job, "ok", T0 + timedelta(minutes=2))
    assert s.segments["a"].next_due == T0 + timedelta(minutes=15)
    assert s.segments["a"].failures == 0


def test_failures_back_off_exponentially_up_to_the_interval(defs: Build) -> None:
    s = scheduler(backoff=timedelta(minutes=1))
    s.load(defs(a=segment("a", "10m", "mc")), T0)
    now, waits = T0, []
    for _ in range(6):
        (job,) = s.take(now)
        s.finish(job, "failed", now)
        waits.append(s.segments["a"].next_due - now)
        now = s.segments["a"].next_due
    assert waits == [timedelta(minutes=m) for m in (1, 2, 4, 8, 10, 10)]
    assert s.segments["a"].failures == 6
    (job,) = s.take(now)
    s.finish(job, "ok", now)
    assert s.segments["a"].failures == 0
    assert s.segments["a"].next_due == now + timedelta(minutes=10)


def test_time_scale_divides_schedule_delays(defs: Build) -> None:
    s = scheduler(time_scale=60.0)
    s.load(defs(a=segment("a", "1m", "mc")), T0)
    (job,) = s.take(T0)
    s.finish(job, "ok", T0)
    assert s.segments["a"].next_due == T0 + timedelta(seconds=1)


def test_reload_makes_changed_and_new_segments_due_and_drops_removed(defs: Build) -> None:
    s = scheduler()
    s.load(defs(a=segment("a", "1h", "mc"), b=segment("b", "1h", "kl")), T0)
    for job in s.take(T0):
        s.finish(job, "ok", T0)
    later = T0 + timedelta(minutes=5)
    report = s.load(defs(a=segment("a", "1h", "mc", value="NY"), c=segment("c", "1h", "kl")), later)
    assert report == {"added": ["c"], "changed": ["a"], "removed": ["b"]}
    assert s.segments["a"].next_due == later
    assert sorted(j.segments for j in s.take(later)) == [("a",), ("c",)]


def test_unchanged_reload_keeps_the_schedule(defs: Build) -> None:
    s = scheduler()
    d = defs(a=segment("a", "1h", "mc"))
    s.load(d, T0)
    (job,) = s.take(T0)
    s.finish(job, "ok", T0)
    assert s.load(d, T0 + timedelta(minutes=1))["changed"] == []
    assert s.segments["a"].next_due == T0 + timedelta(hours=1)


def test_a_redefinition_during_a_run_is_synced_right_after_it(defs: Build) -> None:
    s = scheduler()
    s.load(defs(a=segment("a", "1h", "mc")), T0)
    (job,) = s.take(T0)
    s.load(defs(a=segment("a", "1h", "mc", value="NY")), T0 + timedelta(seconds=5))
    assert s.take(T0 + timedelta(seconds=6)) == []  # still running
    s.finish(job, "ok", T0 + timedelta(seconds=10))
    assert [j.segments for j in s.take(T0 + timedelta(seconds=10))] == [("a",)]


def test_requests_queue_first_and_coalesce(defs: Build) -> None:
    s = scheduler()
    s.load(defs(a=segment("a", "1h", "mc"), b=segment("b", "1h", "mc")), T0)
    (running,) = s.take(T0)[:1]
    first = s.request(["b"], T0)
    assert s.request(["b"], T0) is first  # an identical waiting job is reused
    everything = s.request(None, T0)
    assert everything.segments == ("a", "b")
    s.finish(running, "ok", T0 + timedelta(seconds=1))
    (started,) = s.take(T0 + timedelta(seconds=1))
    assert started is first and started.trigger == "http"
    with pytest.raises(KeyError):
        s.request(["nope"], T0)
