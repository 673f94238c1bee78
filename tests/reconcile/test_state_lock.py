"""The run lock and atomic migrations, between real processes, on both state backends."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from connector.errors import StateBusyError
from connector.reconcile.state import MIGRATIONS, StateStore

HOLDER = textwrap.dedent(
    """
    import sys, time
    from connector.reconcile.state import StateStore
    store = StateStore(sys.argv[1])
    store.acquire_run_lock(wait=False)
    store.start_run("held-run", "cli", "2026-11-23T00:00:00Z")
    print("held", flush=True)
    time.sleep(120)
    """
)


@contextmanager
def hold_lock(url: str) -> Iterator[subprocess.Popen[str]]:
    """Another process that takes the store's run lock, starts a run and sleeps."""
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, url], stdout=subprocess.PIPE, text=True, env=os.environ
    ) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "held"
            yield proc
        finally:
            proc.kill()


def test_a_second_process_is_refused_or_waits_and_a_killed_run_shows_interrupted(
    state_url: str,
) -> None:
    with hold_lock(state_url) as holder, closing(StateStore(state_url)) as store:
        with pytest.raises(StateBusyError, match="another segsync run holds the lock") as caught:
            store.acquire_run_lock(wait=False)
        assert caught.value.exit_code == 5
        store.settle_interrupted()  # the holder is alive: its run is running
        assert store.runs()[0].status == "running"

        got: list[bool] = []
        waiter = threading.Thread(target=lambda: got.append(store.acquire_run_lock(wait=True)))
        waiter.start()
        time.sleep(0.6)
        assert got == []  # still waiting
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        waiter.join(10)
        assert got == [True]
        # the first run to take the lock knows the killed one is not running any more
        (run,) = store.runs()
        assert (run.run_id, run.status) == ("held-run", "interrupted")
        assert run.finished_at is not None


def test_threads_of_one_process_share_the_lock_and_a_stop_ends_the_wait(state_url: str) -> None:
    store = StateStore(state_url)
    other = StateStore(state_url)  # as another process would: its own connection/file handle
    try:
        assert store.acquire_run_lock(wait=False)
        assert store.acquire_run_lock(wait=False)  # the daemon's parallel jobs
        stop = threading.Event()
        threading.Timer(0.3, stop.set).start()
        assert other.acquire_run_lock(wait=True, stop=stop) is False
        store.release_run_lock()
        with pytest.raises(StateBusyError):
            other.acquire_run_lock(wait=False)  # one holder left
        store.release_run_lock()
        assert other.acquire_run_lock(wait=False)
        other.release_run_lock()
    finally:
        store.close()
        other.close()


def test_a_status_check_marks_leftover_runs_interrupted(state_url: str) -> None:
    with hold_lock(state_url) as holder:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    store = StateStore(state_url)
    try:
        assert store.runs()[0].status == "running"
        store.settle_interrupted()
        assert store.runs()[0].status == "interrupted"
    finally:
        store.close()


OPENER = textwrap.dedent(
    """
    import sys, time
    from connector.reconcile.state import StateStore
    start = float(sys.argv[2])
    time.sleep(max(0.0, start - time.time()))
    StateStore(sys.argv[1]).close()
    """
)


def test_processes_creating_a_new_store_together_migrate_it_once(state_url: str) -> None:
    start = time.time() + 1.5  # after every interpreter has started
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPENER, state_url, str(start)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    store = StateStore(state_url)
    try:
        store.record_object("mc", "segsync:a", "tag", "1", "a")
        assert [o.name for o in store.objects()] == ["segsync:a"]
    finally:
        store.close()


def test_sqlite_schema_version_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    StateStore(path).close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
