"""``segsync run``: the daemon that wires scheduler, reloads, syncs, HTTP and shutdown.

Threads: the main thread runs the scheduling loop (a tick every second) and handles
SIGTERM/SIGINT; each sync job runs ``run_sync`` in its own thread (at most one per ESP
account, see ``scheduler.py``); uvicorn serves HTTP in one thread; watchfiles watches the
config directory in another.

Shutdown (SIGTERM or SIGINT): no new job starts, the runner's stop event is set so running
jobs make no further ESP call (not even a look-up or a retry), the calls in flight finish
and are confirmed, and the daemon exits 0 — within the grace period. If a call is still in
flight when it ends, the daemon exits 0 anyway: its run is marked ``interrupted``, and what
it sent was not confirmed, so the next start sends it again (ESP operations are
idempotent). A second signal skips the rest of the grace period.

Jobs hold the state store's run lock while they run (shared by the daemon's own jobs), so a
manual ``segsync sync`` on the same store waits for them or exits 5, and they wait for it.
"""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

import structlog

from connector import __version__
from connector.daemon.http import HttpServer, TriggerError, build_app
from connector.daemon.jobs import JobProgress, JobRecord, log_outcome
from connector.daemon.logging import get_logger
from connector.daemon.prometheus import Metrics
from connector.daemon.redact import Redactor, secrets_of
from connector.daemon.reload import ConfigWatcher, config_fingerprint, load_checked
from connector.daemon.scheduler import LastRun, Scheduler
from connector.daemon.status_page import StatusView, render_status
from connector.daemon.views import run_rows, segment_rows
from connector.definitions.loader import Definitions
from connector.errors import ConfigError, DependencyError
from connector.measure.latest import LatestLift, latest_lifts
from connector.reconcile.runner import AdapterFactory, SyncOptions, run_sync
from connector.reconcile.state import StateStore
from connector.reconcile.state_url import state_url_of
from connector.reconcile.summary import RunSummary
from connector.settings import Settings
from connector.source import open_store
from connector.suggest import suggest
from connector.timespec import parse_instant

__all__ = ["Daemon", "DaemonOptions"]

log = get_logger("service")
_KEEP_JOBS = 200


@dataclass
class DaemonOptions:
    grace_seconds: float = 30.0
    """How long a shutdown waits for the batches in flight."""
    tick_seconds: float = 1.0
    backoff_seconds: float = 60.0
    """First retry delay after a failed job (doubles per failure, capped by the schedule)."""
    time_scale: float = 1.0
    """Divides schedule delays (tests and demos: 60 runs a 1m schedule every second)."""
    config_poll_seconds: float = 10.0
    """Safety-net check of the config directory, besides change notifications."""
    watch_config: bool = True
    store_check_ttl: float = 5.0


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Daemon:
    """The long-running service; ``serve_forever()`` returns when it was told to stop."""

    def __init__(
        self,
        settings: Settings,
        defs: Definitions,
        options: DaemonOptions | None = None,
        *,
        adapter_factory: AdapterFactory | None = None,
    ) -> None:
        self.settings = settings
        self.options = options or DaemonOptions()
        self.adapter_factory = adapter_factory
        self.token = settings.http.token
        self.redactor = Redactor(secrets_of(*settings.esp_api_keys(), settings.http.token))
        self.metrics = Metrics()
        self.state = StateStore(state_url_of(settings))
        self.state.check()
        self.state.settle_interrupted()
        self.defs = defs
        self.config_fp = config_fingerprint(settings.config_dir)
        self.config_errors: list[str] = []
        self.config_loaded_at: datetime | None = _now()
        self.scheduler = Scheduler(
            settings.default_schedule,
            backoff=timedelta(seconds=self.options.backoff_seconds),
            time_scale=self.options.time_scale,
        )
        self.stopping = threading.Event()  # no new jobs
        self.run_stop = threading.Event()  # the runner's: no new batches
        self.force = threading.Event()  # a second signal: skip the grace period
        self.wake = threading.Event()
        self.jobs: OrderedDict[str, JobRecord] = OrderedDict()
        self.workers: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._reload_lock = threading.Lock()
        self._store_check: tuple[float, str] = (0.0, "")
        #: the status page's latest lifts, refreshed after every sync job (and at start)
        self.lifts: list[LatestLift] = []
        self.lifts_note: str | None = None
        self._last_tick = time.monotonic()
        self._next_poll = time.monotonic() + self.options.config_poll_seconds
        self._prime(defs)
        self.http = HttpServer(build_app(self), settings.http.bind)
        self.watcher = (
            ConfigWatcher(settings.config_dir, lambda: self.reload("watch"))
            if self.options.watch_config
            else None
        )

    def _prime(self, defs: Definitions) -> None:
        """Schedule from the last runs in the state store; seed the metrics from it."""
        last = self.state.segment_last_runs()
        self.scheduler.load(
            defs,
            _now(),
            {s: LastRun(parse_instant(r.last_started_at), r.last_status) for s, r in last.items()},
        )
        for segment, runs in last.items():
            if runs.last_success_at:
                stamp = parse_instant(runs.last_success_at).replace(tzinfo=UTC).timestamp()
                self.metrics.last_success.labels(segment).set(stamp)
        self._observe_quarantine()
        self.metrics.config_loaded.set(time.time())
        self._refresh_lifts(defs)

    def _refresh_lifts(self, defs: Definitions) -> None:
        """Measure each synced segment's latest recorded cohort against its holdout."""
        names = [n for n, s in defs.segments.items() if s.destinations]
        try:
            with open_store(self.settings.source_url, self.settings.store) as store:
                measured = latest_lifts(store, defs, self.state, names)
            lifts, note = measured.lifts, measured.note
        except Exception as exc:  # the page shows why; syncing goes on
            log.warning("could not measure the latest lifts", error=str(exc))
            lifts, note = [], f"could not measure: {exc}"
        with self._lock:
            self.lifts, self.lifts_note = lifts, note

    # -- lifecycle ----------------------------------------------------------------------
    def serve_forever(self) -> bool:
        """Run until SIGTERM/SIGINT (or ``request_stop``); True when every job finished."""
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            self.http.start()
            if self.watcher is not None:
                self.watcher.start()
            log.info(
                "daemon started",
                version=__version__,
                http=f"{self.http.host}:{self.http.port}",
                config_dir=str(self.settings.config_dir),
                segments=sorted(self.scheduler.segments),
                trigger_enabled=self.token is not None,
            )
            while not self.stopping.is_set():
                self.tick()
                self.wake.wait(self.options.tick_seconds)
                self.wake.clear()
            return self._shutdown()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self.stopping.is_set():
            self.force.set()
        self.request_stop(signal.Signals(signum).name)

    def request_stop(self, reason: str = "requested") -> None:
        if not self.stopping.is_set():
            log.info("stopping", reason=reason, grace_seconds=self.options.grace_seconds)
        self.stopping.set()
        self.run_stop.set()
        self.wake.set()

    def _shutdown(self) -> bool:
        deadline = time.monotonic() + self.options.grace_seconds
        while time.monotonic() < deadline and not self.force.is_set():
            alive = [t for t in self.workers.values() if t.is_alive()]
            if not alive:
                break
            alive[0].join(0.1)
        unfinished = sorted(j for j, t in self.workers.items() if t.is_alive())
        if self.watcher is not None:
            self.watcher.stop()
        self.http.stop()
        if unfinished:
            runs = [r for j in unfinished if (r := self.jobs[j].run_id) is not None]
            try:
                self.state.mark_runs_interrupted(runs)
            except Exception:
                log.exception("could not mark the unfinished runs interrupted")
            log.warning(
                "stopped before these jobs finished; calls they had in flight were not "
                "confirmed and the next start sends them again",
                jobs=unfinished,
                runs=runs,
            )
            return False
        self.state.close()
        log.info("stopped cleanly")
        return True

    # -- scheduling ---------------------------------------------------------------------
    def tick(self) -> None:
        """Start due jobs (and check the config files now and then); never raises."""
        self._last_tick = time.monotonic()
        try:
            self._tick()
        except Exception:  # the loop must keep turning; the next tick tries again
            log.exception("scheduling tick failed")

    def _tick(self) -> None:
        if self._last_tick >= self._next_poll:
            self._next_poll = self._last_tick + self.options.config_poll_seconds
            self.reload("poll")
        if self.stopping.is_set():
            return
        for job in self.scheduler.take(_now()):
            with self._lock:
                record = self.jobs.setdefault(job.job_id, JobRecord(job))
                record.job = job
                thread = threading.Thread(
                    target=self._run_job, args=(record,), name=f"segsync-{job.job_id}", daemon=True
                )
                self.workers[job.job_id] = thread
            thread.start()

    def _run_job(self, record: JobRecord) -> None:
        job = record.job
        record.state = "running"
        started = time.monotonic()
        summary: RunSummary | None = None
        status = "error"
        defs = self.defs
        esp_of: dict[str, str] = {name: dest.esp for name, dest in defs.destinations.items()}
        with structlog.contextvars.bound_contextvars(job_id=job.job_id, trigger=job.trigger):
            for account in job.accounts:
                self.metrics.in_progress.labels(account).set(1)
            try:
                # a reload may have removed them meanwhile (and names=[] would mean "all")
                names = [n for n in job.segments if n in defs.segments]
                log.info("sync started", segments=names, accounts=sorted(job.accounts))
                summary = self._sync(record, defs, names) if names else None
                status = summary.status if summary is not None else "ok"
                # inside the job, so a shutdown waits for it as for the sync
                measured = summary is not None and status not in ("dry_run", "guard")
                if measured and not self.stopping.is_set():
                    self._refresh_lifts(defs)
            except ConfigError as exc:
                log.error("sync could not run", errors=[str(i) for i in exc.issues])
            except DependencyError as exc:  # the store is down: retried with backoff
                log.error("sync could not run", errors=[str(exc)])
            except Exception:
                log.exception("sync crashed")
            finally:
                self._finish(record, summary, status, time.monotonic() - started, esp_of)
                for account in job.accounts:
                    self.metrics.in_progress.labels(account).set(0)
                self.wake.set()

    def _sync(self, record: JobRecord, defs: Definitions, names: list[str]) -> RunSummary:
        extra: dict[str, Any] = {}
        if self.adapter_factory is not None:
            extra["adapter_factory"] = self.adapter_factory
        record.run_id = uuid.uuid4().hex[:12]
        return run_sync(
            self.settings,
            defs,
            options=SyncOptions(
                names=names, trigger=record.job.trigger, run_id=record.run_id, wait=True
            ),
            progress=JobProgress(record),
            stop=self.run_stop,
            state=self.state,
            **extra,
        )

    def _finish(
        self,
        record: JobRecord,
        summary: RunSummary | None,
        status: str,
        duration: float,
        esp_of: dict[str, str],
    ) -> None:
        job = record.job
        now = _now()
        self.scheduler.finish(job, status, now)  # first: the accounts must always be freed
        with self._lock:
            record.state, record.status, record.finished_at = "done", status, now
            if summary is not None:
                record.run_id, record.exit_code = summary.run_id, summary.exit_code
            self.workers.pop(job.job_id, None)
            while len(self.jobs) > _KEEP_JOBS:
                oldest = next(iter(self.jobs))
                if self.jobs[oldest].state != "done":
                    break
                del self.jobs[oldest]
        segments = {s.name: s for s in self.scheduler.snapshot()[0]}
        try:
            self.metrics.observe_run(job.trigger, list(job.segments), summary, duration, esp_of)
            for name in job.segments:
                if name in segments:
                    self.metrics.failures.labels(name).set(segments[name].failures)
                    if status in ("ok", "quarantined"):
                        self.metrics.last_success.labels(name).set(time.time())
            self._observe_quarantine()
        except Exception:
            log.exception("could not update the metrics")
        retry_at = {n: segments[n].next_due for n in job.segments if n in segments}
        log_outcome(summary, status, duration, retry_at)

    def _observe_quarantine(self) -> None:
        counts = self.state.quarantine_counts()
        for destination in sorted({*counts, *self.defs.destinations}):
            self.metrics.quarantined.labels(destination).set(counts.get(destination, 0))

    # -- reloading ----------------------------------------------------------------------
    def reload(self, source: str) -> None:
        """Load the config directory if it changed; keep the last good one if invalid."""
        with self._reload_lock:
            fingerprint = config_fingerprint(self.settings.config_dir)
            if fingerprint == self.config_fp:
                return
            self.config_fp = fingerprint
            try:
                defs, checked = load_checked(self.settings)
            except ConfigError as exc:
                errors = [str(issue) for issue in exc.issues]
            except Exception as exc:  # unreadable files and the like
                errors = [f"{type(exc).__name__}: {exc}"]
            else:
                self.defs = defs
                report = self.scheduler.load(defs, _now())
                self.config_errors = []
                self.config_loaded_at = _now()
                self.metrics.reloads.inc()
                self.metrics.config_loaded.set(time.time())
                log.info("config reloaded", source=source, store_checked=checked, **report)
                self.wake.set()
                return
            self.config_errors = errors
            self.metrics.reload_errors.inc()
            log.error(
                "config change rejected; keeping the last good definitions",
                source=source,
                errors=errors,
            )

    # -- what HTTP asks -----------------------------------------------------------------
    def alive(self) -> bool:
        stall = max(60.0, 10 * self.options.tick_seconds)
        return self.stopping.is_set() or time.monotonic() - self._last_tick < stall

    def readiness(self) -> tuple[bool, dict[str, str]]:
        checks = {
            "config": "ok"
            if not self.config_errors
            else "ok (the last change was rejected; running the last good definitions)",
            "state": self._check_state(),
            "store": self._check_store(),
        }
        if self.stopping.is_set():
            checks["daemon"] = "shutting down"
        ready = all(v.startswith("ok") for v in checks.values())
        return ready, checks

    def _check_state(self) -> str:
        try:
            self.state.runs(1)
        except Exception as exc:
            return f"unreachable: {type(exc).__name__}"
        return "ok"

    def _check_store(self) -> str:
        checked_at, result = self._store_check
        if time.monotonic() - checked_at < self.options.store_check_ttl and result:
            return result
        try:
            with open_store(self.settings.source_url, self.settings.store) as store:
                store.discover()
            result = "ok"
        except Exception as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            result = f"unreachable: {first}"
        self._store_check = (time.monotonic(), result)
        return result

    def metrics_text(self) -> bytes:
        return self.metrics.render()

    def trigger(self, name: str | None) -> dict[str, Any]:
        if self.stopping.is_set():
            raise TriggerError(503, "shutting down: no new syncs")
        defs = self.defs
        if name is not None:
            if name not in defs.segments:
                raise TriggerError(404, f"unknown segment '{name}'{suggest(name, defs.segments)}")
            if not defs.segments[name].destinations:
                raise TriggerError(422, f"segment '{name}' has no destinations: nothing to sync")
        elif not self.scheduler.segments:
            raise TriggerError(422, "no segment has destinations: nothing to sync")
        try:
            job = self.scheduler.request([name] if name else None, _now(), trigger="http")
        except KeyError:  # a reload removed it a moment ago
            raise TriggerError(404, f"unknown segment '{name}'") from None
        with self._lock:
            record = self.jobs.setdefault(job.job_id, JobRecord(job))
        log.info("sync requested", job_id=job.job_id, segments=list(job.segments))
        self.wake.set()
        return record.to_json()

    def job(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            record = self.jobs.get(job_id)
            return record.to_json() if record else None

    def status_html(self) -> str:
        return render_status(self.status_view(), self.redactor)

    def status_view(self) -> StatusView:
        segments, pending, busy = self.scheduler.snapshot()
        with self._lock:
            started = [r.job.started_at for r in self.jobs.values() if r.state == "running"]
            lifts, lifts_note = list(self.lifts), self.lifts_note
        return StatusView(
            generated_at=_now(),
            version=__version__,
            ready=self.readiness()[0],
            config_loaded_at=self.config_loaded_at,
            config_errors=list(self.config_errors),
            segments=segment_rows(segments, self.defs, self.state),
            runs=run_rows(self.state.runs(15), min((t for t in started if t), default=None)),
            busy=busy,
            pending=[j.job_id for j in pending],
            quarantined=self.state.quarantine_counts(),
            lifts=lifts,
            lifts_note=lifts_note,
        )
