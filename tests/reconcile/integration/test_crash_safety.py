"""Crash safety: SIGKILL a real `segsync sync` process at random points of a large sync,
many times. After every kill the confirmed state never claims a member the ESP does not
have; after a restart and one more sync the ESP holds exactly the desired members."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import httpx
import pytest

from connector.emulator.options import DEFAULT_MAILCHIMP_KEY
from connector.esp.base import EspObject
from connector.esp.mailchimp.adapter import MailchimpAdapter
from connector.reconcile.state import StateStore
from connector.settings import RetrySettings
from tests.conftest import insert_rows, make_store, write_config

AS_OF = datetime(2026, 11, 23, 12)
N = 12000
SEGMENTS = {
    "buyers": """\
        name: buyers
        rule: {event: order_completed, within: 30d}
        destinations: [{to: mc, mode: tag}]
        """,
    "viewers": """\
        name: viewers
        rule: {event: page_view, within: 30d}
        destinations: [{to: mc, mode: tag}]
        """,
}


def email(i: int) -> str:
    return f"c{i}@example.com"


def events(buyer: int) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for i in range(N):
        if i % buyer == 0:
            rows.append(
                (f"p{i:05d}", "order_completed", AS_OF - timedelta(days=2), None, 1.0, None)
            )
        if i % 3 == 0:
            rows.append((f"p{i:05d}", "page_view", AS_OF - timedelta(days=1), None, None, None))
    return rows


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def emulator() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "connector", "emulator", "mailchimp", "--port", str(port),
         "--latency", "120", "--fault-rate-reset", "0.05", "--fault-phase", "after",
         "--seed", "11"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/3.0"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/ping", auth=("x", DEFAULT_MAILCHIMP_KEY), timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


def actual(base: str, state: StateStore) -> dict[str, set[str]]:
    adapter = MailchimpAdapter(
        api_key=DEFAULT_MAILCHIMP_KEY,
        audience_id="demo-audience",
        base_url=base,
        retry=RetrySettings(initial_backoff_seconds=0.01, max_backoff_seconds=0.05),
    )
    try:
        return {
            o.name: set(adapter.iter_members(EspObject(o.esp_id, o.name, "tag")))
            for o in state.objects("mc")
        }
    finally:
        adapter.close()


@pytest.mark.slow
def test_sigkill_at_random_points(tmp_path: Path, emulator: str) -> None:
    store_path = tmp_path / "customers.duckdb"
    profiles = [
        (f"p{i:05d}", email(i), True, "CA", 1, 1.0, False, AS_OF, None, None) for i in range(N)
    ]
    make_store(profiles, events(buyer=2), path=store_path).close()
    write_config(
        tmp_path / "config",
        SEGMENTS,
        destinations="mc: {esp: mailchimp, audience: demo-audience}\n",
    )
    state_path = tmp_path / "state.db"
    env = {
        **os.environ,
        "SEGSYNC_CONFIG_DIR": str(tmp_path / "config"),
        "SEGSYNC_SOURCE_URL": f"duckdb:///{store_path}",
        "SEGSYNC_STATE_PATH": str(state_path),
        "SEGSYNC_MAILCHIMP__API_KEY": DEFAULT_MAILCHIMP_KEY,
        "SEGSYNC_MAILCHIMP__BASE_URL": emulator,
        "SEGSYNC_MAILCHIMP__MAX_CONNECTIONS": "2",
        "SEGSYNC_RETRY__INITIAL_BACKOFF_SECONDS": "0.01",
        "SEGSYNC_RETRY__MAX_BACKOFF_SECONDS": "0.05",
        "SEGSYNC_SECRETS_DIR": str(tmp_path / "none"),
    }
    command = [
        sys.executable,
        "-m",
        "connector",
        "sync",
        "--force",
        "--as-of",
        "2026-11-23T12:00:00Z",
    ]
    rng = random.Random(5)
    kills = 0
    patterns = [3, 2, 5, 2, 3, 2, 3, 5]  # the data changes every round: adds and removes
    for round_, buyer in enumerate(patterns):
        con = duckdb.connect(str(store_path))
        con.execute("DELETE FROM events")
        insert_rows(con, "events", events(buyer=buyer))
        con.close()
        proc = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(1.2, 3.5))  # start-up (imports, evaluation) takes about a second
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(30)
        if state_path.exists():
            state = StateStore(state_path)
            try:
                truth = actual(emulator, state)
                for name, members in truth.items():
                    claimed = state.confirmed("mc", name)
                    assert claimed <= members, (
                        f"round {round_}: {name} claims {len(claimed - members)} missing"
                    )
            finally:
                state.close()
    assert kills >= 4  # the test really interrupted syncs
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    state = StateStore(state_path)
    try:
        truth = actual(emulator, state)
        assert truth["segsync:buyers"] == {email(i) for i in range(N) if i % 5 == 0}
        assert truth["segsync:viewers"] == {email(i) for i in range(N) if i % 3 == 0}
        for name, members in truth.items():
            assert state.confirmed("mc", name) == members
    finally:
        state.close()
