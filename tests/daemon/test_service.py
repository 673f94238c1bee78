"""The daemon in-process (no signals, no subprocess): jobs, triggers, readiness, the page."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connector.daemon.http import TriggerError
from connector.daemon.jobs import JobRecord
from connector.daemon.reload import load_checked
from connector.daemon.service import Daemon, DaemonOptions
from connector.emulator import EmulatorOptions, run_emulator
from connector.settings import load_settings
from tests.conftest import make_store, write_config
from tests.daemon.conftest import AUDIENCE, CA, DESTINATIONS, email, profiles, wait_for

NO_DESTINATIONS = "name: lonely\nrule: {attribute: region, op: eq, value: TX}\n"


@pytest.fixture
def daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Daemon]:
    monkeypatch.setenv("SEGSYNC_SECRETS_DIR", str(tmp_path / "none"))
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    store = tmp_path / "customers.duckdb"
    events = [("p00000", "order_completed", now - timedelta(hours=1), "tv", 1.0, None)]
    make_store(profiles(30, now), events, path=store).close()
    write_config(tmp_path / "config", {"ca": CA, "lonely": NO_DESTINATIONS},
                 destinations=DESTINATIONS)  # fmt: skip
    with run_emulator("mailchimp", EmulatorOptions(merge_fields=("STATE",))) as emu:
        settings = load_settings(
            config_dir=tmp_path / "config",
            source_url=f"duckdb:///{store}",
            state_path=tmp_path / "state" / "segsync.db",
            mailchimp={"api_key": emu.api_key, "base_url": emu.base_url},
            http={"bind": "127.0.0.1:0", "token": "t0ken-for-tests"},
        )
        defs, _ = load_checked(settings)
        service = Daemon(settings, defs, DaemonOptions(watch_config=False, time_scale=60))
        service.emu = emu  # type: ignore[attr-defined]
        yield service
        service.request_stop("test over")
        service._shutdown()


def run_due_jobs(daemon: Daemon) -> None:
    daemon.tick()
    wait_for("the jobs to finish", lambda: not any(t.is_alive() for t in daemon.workers.values()))


def test_a_tick_syncs_due_segments_and_records_the_job(daemon: Daemon) -> None:
    assert sorted(daemon.scheduler.segments) == ["ca"]  # "lonely" has nowhere to go
    run_due_jobs(daemon)
    emu = daemon.emu  # type: ignore[attr-defined]
    assert emu.state.tag_members(AUDIENCE, "segsync:ca") == {email(i) for i in range(0, 30, 3)}
    (record,) = daemon.jobs.values()
    assert record.state == "done" and record.status == "ok" and record.run_id
    assert record.to_json()["batches"] == {"mc": {"done": 1, "total": 1}}
    assert daemon.metrics.last_success.labels("ca")._value.get() > 0


def test_trigger_refusals(daemon: Daemon) -> None:
    with pytest.raises(TriggerError) as unknown:
        daemon.trigger("cx")
    assert unknown.value.status == 404 and "unknown segment 'cx'" in unknown.value.message
    with pytest.raises(TriggerError) as lonely:
        daemon.trigger("lonely")
    assert lonely.value.status == 422
    queued = daemon.trigger("ca")
    assert queued["state"] == "queued" and daemon.trigger("ca")["job_id"] == queued["job_id"]
    daemon.request_stop("test")
    with pytest.raises(TriggerError) as stopping:
        daemon.trigger(None)
    assert stopping.value.status == 503
    ready, checks = daemon.readiness()
    assert not ready and checks["daemon"] == "shutting down"


def test_a_job_whose_segments_were_removed_syncs_nothing(daemon: Daemon) -> None:
    job = daemon.scheduler.take(datetime.now(UTC).replace(tzinfo=None))[0]
    (daemon.settings.config_dir / "segments" / "ca.yaml").unlink()
    daemon.reload("test")
    assert daemon.scheduler.segments == {}
    daemon._run_job(daemon.jobs.setdefault(job.job_id, JobRecord(job)))
    assert daemon.jobs[job.job_id].status == "ok" and daemon.jobs[job.job_id].run_id is None
    assert daemon.state.runs(5) == []  # names=[] never turned into "every segment"


def test_readiness_follows_the_store(daemon: Daemon, tmp_path: Path) -> None:
    assert daemon.readiness() == (True, {"config": "ok", "state": "ok", "store": "ok"})
    (tmp_path / "customers.duckdb").rename(tmp_path / "elsewhere.duckdb")
    daemon._store_check = (0.0, "")  # forget the cached answer
    ready, checks = daemon.readiness()
    assert not ready and checks["store"].startswith("unreachable:")
    assert "not found" in checks["store"] and checks["config"] == checks["state"] == "ok"


def test_status_page_marks_runs_a_crash_left_open(daemon: Daemon) -> None:
    run_due_jobs(daemon)
    with sqlite3.connect(daemon.settings.state_path) as db:
        db.execute("INSERT INTO runs (run_id, started_at, trigger, as_of, status) VALUES "
                   "('crashed1', '2026-01-01T00:00:00.000Z', 'schedule', '2026-01-01T00:00:00Z', "
                   "'running')")  # fmt: skip
    view = daemon.status_view()
    statuses = {run.run_id: run.status for run in view.runs}
    assert statuses["crashed1"] == "interrupted"
    assert [s.name for s in view.segments] == ["ca"] and view.segments[0].history
    assert "t0ken-for-tests" not in daemon.status_html()
