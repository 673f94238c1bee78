"""``segsync run`` as a real subprocess against the Mailchimp emulator.

Schedules, reloads (good and broken), probes, metrics, the trigger endpoint, ESP outages
and SIGTERM in the middle of a sync — each checked from outside: the emulator's state,
the state store, the HTTP answers and the JSON log lines.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from connector.emulator import EmulatorOptions
from tests.daemon.conftest import (
    BUYERS,
    CA,
    TOKEN,
    Daemon,
    World,
    assert_nothing_secret,
    email,
    region,
    segment_yaml,
    wait_for,
)

pytestmark = pytest.mark.slow  # daemon subprocesses, seconds each

Build = Callable[..., World]
N = 90
REJECTED = "config change rejected; keeping the last good definitions"
ENDS = ("sync finished", "sync quarantined", "sync guard", "sync stopped",
        "sync failed; backing off")  # fmt: skip


def expected(regions: set[str]) -> set[str]:
    return {email(i) for i in range(N) if region(i) in regions}


def test_syncs_on_schedule_reloads_and_serves(world_factory: Build) -> None:
    world = world_factory({"ca": CA, "buyers": BUYERS}, profiles_count=N)
    daemon = world.start()
    answers: list[str] = []
    syncs_on_schedule(world, daemon)
    answers += answers_probes_and_metrics(daemon)
    reloads_edits_and_rejects_broken_ones(world, daemon)
    answers += honours_the_trigger(daemon)
    page = daemon.http.get("/")
    assert page.status_code == 200 and "ca" in page.text and "<svg" in page.text
    assert "regoin" in page.text  # the rejected change is shown, located
    answers.append(page.text)

    assert daemon.stop() == 0
    assert daemon.find("stopped cleanly")
    assert all(line["event"] != "<not json>" for line in daemon.lines)
    assert_nothing_secret(daemon.text, *answers)


def syncs_on_schedule(world: World, daemon: Daemon) -> None:
    # first runs at start (nothing ran before), then again on the schedule (1m ÷ 60)
    wait_for("ca in Mailchimp", lambda: world.members("ca") == expected({"CA"}))
    wait_for("buyers", lambda: world.members("buyers") == {email(i) for i in range(0, N, 2)})
    wait_for("ca synced three times", lambda: len(daemon.finished_runs("ca")) >= 3)
    assert all(e["trigger"] == "schedule" for e in daemon.events("sync started"))
    assert_serialised(daemon)  # one ESP account: its jobs never overlap


def answers_probes_and_metrics(daemon: Daemon) -> list[str]:
    health = daemon.http.get("/healthz")
    ready = daemon.http.get("/readyz")
    assert health.status_code == 200 and health.json() == {"status": "alive"}
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"config": "ok", "state": "ok", "store": "ok"}
    metrics = daemon.http.get("/metrics").text
    for name in (
        "segsync_runs_total",
        "segsync_run_duration_seconds",
        "segsync_members_added_total",
        "segsync_members_removed_total",
        "segsync_api_calls_total",
        "segsync_api_retries_total",
        "segsync_quarantined_members",
        "segsync_guard_stops_total",
        "segsync_last_success_timestamp_seconds",
        "segsync_config_reload_errors_total",
    ):
        assert f"# TYPE {name.removesuffix('_total')}" in metrics, name
    assert daemon.metric("segsync_runs_total", trigger="schedule", status="ok")
    assert daemon.metric("segsync_members_added_total", segment="ca", destination="mc") == 30
    assert daemon.metric("segsync_api_calls_total", esp="mailchimp", status="200")
    last_success = daemon.metric("segsync_last_success_timestamp_seconds", segment="ca")
    assert last_success is not None and last_success > time.time() - 60
    assert daemon.metric("segsync_quarantined_members", destination="mc") == 0
    assert daemon.metric("segsync_config_reload_errors_total") == 0
    return [health.text, ready.text, metrics]


def reloads_edits_and_rejects_broken_ones(world: World, daemon: Daemon) -> None:
    segment_file = world.config / "segments" / "ca.yaml"
    # an edited segment is picked up (and synced at once)
    segment_file.write_text(segment_yaml("ca", "{attribute: region, op: in, value: [CA, NY]}"))
    wait_for("the edit to reach Mailchimp", lambda: world.members("ca") == expected({"CA", "NY"}))
    assert daemon.events("config reloaded")[-1]["changed"] == ["ca"]

    # a broken edit is rejected with its location; the last good definitions keep running
    segment_file.write_text(segment_yaml("ca", "{attribute: regoin, op: eq, value: TX}"))
    rejected = wait_for("the rejection", lambda: daemon.find(REJECTED))
    (error,) = rejected["errors"]
    assert "ca.yaml line 4" in error and "did you mean 'region'" in error
    assert daemon.metric("segsync_config_reload_errors_total") == 1
    ready = daemon.http.get("/readyz")
    assert ready.status_code == 200 and "rejected" in ready.json()["checks"]["config"]
    runs_before = len(daemon.finished_runs("ca"))
    wait_for("ca to run again", lambda: len(daemon.finished_runs("ca")) >= runs_before + 2)
    assert world.members("ca") == expected({"CA", "NY"})  # TX never came in
    assert daemon.metric("segsync_config_reload_errors_total") == 1  # reported once


def honours_the_trigger(daemon: Daemon) -> list[str]:
    unauthorised = daemon.http.post("/sync")
    wrong = daemon.http.post("/sync/ca", headers={"Authorization": "Bearer nope"})
    assert unauthorised.status_code == wrong.status_code == 401
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert daemon.http.post("/sync/nope", headers=auth).status_code == 404
    accepted = daemon.http.post("/sync/buyers", headers=auth)
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["job_id"]

    def finished_job() -> dict[str, object] | None:
        job: dict[str, object] = daemon.http.get(f"/jobs/{job_id}").json()
        return job if job["state"] == "done" else None

    done = wait_for("the requested job", finished_job)
    assert done["status"] == "ok" and done["trigger"] == "http" and done["run_id"]
    (finished,) = [e for e in daemon.finished_runs() if e["job_id"] == job_id]
    assert finished["run_id"] == done["run_id"]  # log lines carry job and run ids
    return [unauthorised.text, wrong.text, accepted.text, str(done)]


def assert_serialised(daemon: Daemon) -> None:
    """Jobs holding the mailchimp account never overlap in the log."""
    open_jobs: set[str] = set()
    for line in daemon.lines:
        if line.get("event") == "sync started":
            assert not open_jobs, f"{line['job_id']} started while {open_jobs} ran"
            open_jobs.add(line["job_id"])
        elif line.get("job_id") in open_jobs and line.get("event") in ENDS:
            open_jobs.discard(line["job_id"])


def test_sigterm_mid_sync_exits_0_and_the_next_start_resumes(world_factory: Build) -> None:
    n = 1200  # three add batches of at most 500; SIGTERM lands while the second is in flight
    everyone = segment_yaml("everyone", "{attribute: region, op: exists}", schedule="1h")
    world = world_factory(
        {"everyone": everyone}, profiles_count=n, options=EmulatorOptions(latency_ms=400)
    )
    env = {"SEGSYNC_MAILCHIMP__MAX_CONNECTIONS": "1"}  # one batch in flight at a time
    daemon = world.start("--grace-period", "20", **env)
    wait_for("the first confirmed batch", lambda: world.confirmed("everyone"), timeout=60)
    daemon.send(signal.SIGTERM)
    assert daemon.process.wait(timeout=30) == 0
    daemon.stop()
    assert daemon.find("stopped cleanly")
    confirmed = world.confirmed("everyone")
    # stopped part-way, and what the state store confirmed is exactly what Mailchimp has
    assert 0 < len(confirmed) < n
    assert world.members("everyone") == confirmed
    assert world.runs()[-1][1] == "stopped"
    assert daemon.find("sync stopped")

    again = world.start(name="restart", **env)
    wait_for("the resumed sync", lambda: again.finished_runs("everyone"), timeout=60)
    assert world.members("everyone") == {email(i) for i in range(n)}
    assert world.confirmed("everyone") == world.members("everyone")
    resumed = again.finished_runs("everyone")[0]
    assert resumed["added"] == n - len(confirmed)  # only what was not confirmed
    assert again.stop() == 0
    assert_nothing_secret(daemon.text, again.text)


def test_sigterm_before_the_first_batch_stops_between_two_calls(world_factory: Build) -> None:
    # 3000 new contacts: six upserts of 500 at 700 ms each come before the first batch
    everyone = segment_yaml("everyone", "{attribute: region, op: exists}", schedule="1h")
    world = world_factory(
        {"everyone": everyone}, profiles_count=3000, options=EmulatorOptions(latency_ms=700)
    )
    env = {"SEGSYNC_MAILCHIMP__MAX_CONNECTIONS": "1"}
    daemon = world.start("--grace-period", "30", **env)
    wait_for("the first ESP call", lambda: world.emu.calls.total() > 0, timeout=60)
    daemon.send(signal.SIGTERM)
    sent = time.monotonic()
    assert daemon.process.wait(timeout=30) == 0
    took = time.monotonic() - sent
    calls = world.emu.calls.total()
    daemon.stop()
    # not the 30 s grace (a loaded machine stretches the in-flight call, so no tighter bound);
    # "nothing after the call in flight" is the call count below
    assert took < 15, f"took {took:.1f}s to stop"
    assert calls <= 3  # the call in flight when SIGTERM came, nothing after it
    assert daemon.find("stopped cleanly") and "stopped before these jobs" not in daemon.text
    assert world.runs()[-1][1] == "stopped"  # recorded, not left running
    assert world.members("everyone") == set()


def test_keeps_going_through_an_esp_outage(world_factory: Build) -> None:
    world = world_factory({"ca": CA}, profiles_count=N, options=EmulatorOptions(seed=3))
    world.emu.options.fault_rate_5xx = 1.0
    daemon = world.start("--backoff", "0.3")
    failed = wait_for("a failed run", lambda: daemon.find("sync failed; backing off"))
    assert failed["status"] == "failed" and failed["retry_at"]
    wait_for("a second failure", lambda: len(daemon.events("sync failed; backing off")) >= 2)
    assert daemon.http.get("/healthz").status_code == 200
    retries = daemon.http.get("/metrics").text
    assert 'segsync_api_retries_total{esp="mailchimp",status="5' in retries
    assert daemon.metric("segsync_runs_total", trigger="schedule", status="failed")
    assert (daemon.metric("segsync_segment_consecutive_failures", segment="ca") or 0) >= 1

    world.emu.options.fault_rate_5xx = 0.0  # the ESP comes back
    wait_for("recovery", lambda: world.members("ca") == expected({"CA"}), timeout=30)
    wait_for("a finished run", lambda: daemon.finished_runs("ca"))
    assert daemon.metric("segsync_segment_consecutive_failures", segment="ca") == 0
    assert daemon.stop() == 0
    assert_nothing_secret(daemon.text)


def test_invalid_config_at_start_exits_1_with_located_errors(world_factory: Build) -> None:
    world = world_factory({"ca": CA.replace("region", "regoin")}, profiles_count=N)
    result = subprocess.run(
        [sys.executable, "-m", "connector", "run"],
        check=False,
        cwd=world.root,
        env=world.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "ca.yaml line 4" in result.stdout and "cannot start" in result.stdout
    assert_nothing_secret(result.stdout, result.stderr)
