"""A small world for daemon tests: a DuckDB store, a config directory, the Mailchimp
emulator, and ``segsync run`` as a real subprocess whose JSON log lines are collected.

Schedules run 60× faster (``--time-scale 60``: a ``1m`` schedule every second). The API key
and trigger token are odd-shaped on purpose: no redaction pattern knows them, so a test
that finds neither in the output shows they were never written, not merely masked.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector.emulator import EmulatorOptions, run_emulator
from tests.conftest import make_store, write_config

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
AUDIENCE = "demo-audience"
API_KEY = "Odd Mailchimp key 7f3a9c1e"
TOKEN = "trigger token 51d2e8b0"
DESTINATIONS = f"mc: {{esp: mailchimp, audience: {AUDIENCE}, fields: {{region: STATE}}}}\n"
REGIONS = ("CA", "NY", "TX")


def email(i: int) -> str:
    return f"user{i}@example.com"


def region(i: int) -> str:
    return REGIONS[i % 3]


def segment_yaml(name: str, rule: str, schedule: str = "1m") -> str:
    return (
        f"name: {name}\ndescription: {name} customers\nschedule: {schedule}\n"
        f"rule: {rule}\ndestinations: [{{to: mc, mode: tag}}]\n"
    )


CA = segment_yaml("ca", "{attribute: region, op: eq, value: CA}")
BUYERS = segment_yaml("buyers", "{event: order_completed, within: 30d}", schedule="2m")


def wait_for(what: str, check: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


@dataclass
class World:
    root: Path
    config: Path
    store: Path
    state: Path
    emu: Any
    env: dict[str, str]
    daemons: list[Daemon] = field(default_factory=list)

    def members(self, tag: str) -> set[str]:
        try:
            return set(self.emu.state.tag_members(AUDIENCE, f"segsync:{tag}"))
        except KeyError:
            return set()

    def confirmed(self, tag: str) -> set[str]:
        """What the state store holds as acknowledged by the ESP (read from outside)."""
        with sqlite3.connect(self.state) as db:
            rows = db.execute(
                "SELECT email FROM members WHERE destination = 'mc' AND part = ?",
                (f"segsync:{tag}",),
            ).fetchall()
        return {row[0] for row in rows}

    def runs(self) -> list[tuple[str, str]]:
        if not self.state.exists():
            return []
        with sqlite3.connect(self.state) as db:
            return db.execute("SELECT run_id, status FROM runs ORDER BY started_at").fetchall()

    def start(self, *args: str, name: str = "daemon", **env: str) -> Daemon:
        daemon = Daemon(self, list(args), {**self.env, **env}, name)
        self.daemons.append(daemon)
        return daemon


class Daemon:
    """``segsync run`` in a subprocess; stdout lines are parsed as they arrive."""

    def __init__(self, world: World, args: list[str], env: dict[str, str], name: str) -> None:
        self.world = world
        self.name = name
        command = [sys.executable, "-m", "connector", "run", "--time-scale", "60", "--tick",
                   "0.1", "--config-poll", "0.5", *args]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            cwd=world.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self.raw: list[str] = []
        self.lines: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        started = wait_for("the daemon to start", lambda: self.find("daemon started"), 60)
        self.port = int(started["http"].rsplit(":", 1)[1])
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)

    def _read(self) -> None:
        assert self.process.stdout is not None
        with self.process.stdout:
            for line in self.process.stdout:
                self.raw.append(line)
                try:
                    self.lines.append(json.loads(line))
                except ValueError:
                    self.lines.append({"event": "<not json>", "text": line})

    def events(self, event: str) -> list[dict[str, Any]]:
        return [line for line in list(self.lines) if line.get("event") == event]

    def find(self, event: str) -> dict[str, Any] | None:
        if self.process.poll() is not None and not self.events(event):
            self._reader.join(timeout=5)
            raise AssertionError(f"the daemon exited ({self.process.returncode}):\n{self.text}")
        found = self.events(event)
        return found[-1] if found else None

    @property
    def text(self) -> str:
        return "".join(self.raw)

    def finished_runs(self, segment: str | None = None) -> list[dict[str, Any]]:
        ends = [*self.events("sync finished"), *self.events("sync quarantined")]
        if segment is None:
            return ends
        starts = {e["job_id"] for e in self.events("sync started") if segment in e["segments"]}
        return [e for e in ends if e["job_id"] in starts]

    def metric(self, name: str, **labels: str) -> float | None:
        """One sample from /metrics (None when absent)."""
        wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        key = f"{name}{{{wanted}}}" if labels else name
        for line in self.http.get("/metrics").text.splitlines():
            sample, _, value = line.rpartition(" ")
            if sample == key:
                return float(value)
        return None

    def send(self, signum: int = signal.SIGTERM) -> None:
        self.process.send_signal(signum)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        self.http.close()
        return code

    def save(self, test_name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / f"{test_name}-{self.name}.log").write_text(self.text, encoding="utf-8")


def profiles(n: int, now: datetime) -> list[tuple[object, ...]]:
    return [(f"p{i:05d}", email(i), True, region(i), 30, 1.0, False, now, None, None)
            for i in range(n)]  # fmt: skip


def events(n: int, now: datetime) -> list[tuple[object, ...]]:
    return [(f"p{i:05d}", "order_completed", now - timedelta(hours=1), "tv", 10.0, None)
            for i in range(0, n, 2)]  # fmt: skip


@pytest.fixture
def world_factory(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., World]]:
    worlds: list[World] = []
    stack: list[Any] = []

    def build(
        segments: dict[str, str],
        *,
        profiles_count: int = 90,
        options: EmulatorOptions | None = None,
        token: str | None = TOKEN,
    ) -> World:
        now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        store = tmp_path / "customers.duckdb"
        make_store(profiles(profiles_count, now), events(profiles_count, now), path=store).close()
        config = write_config(tmp_path / "config", segments, destinations=DESTINATIONS)
        options = options or EmulatorOptions()
        options.api_key, options.merge_fields, options.audiences = API_KEY, ("STATE",), (AUDIENCE,)
        context = run_emulator("mailchimp", options)
        emu = context.__enter__()
        stack.append(context)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEGSYNC_")}
        env |= {
            "SEGSYNC_CONFIG_DIR": str(config),
            "SEGSYNC_SOURCE_URL": f"duckdb:///{store}",
            "SEGSYNC_STATE_PATH": str(tmp_path / "state" / "segsync.db"),
            "SEGSYNC_SECRETS_DIR": str(tmp_path / "no-secrets"),
            "SEGSYNC_MAILCHIMP__API_KEY": API_KEY,
            "SEGSYNC_MAILCHIMP__BASE_URL": emu.base_url,
            "SEGSYNC_HTTP__BIND": "127.0.0.1:0",
            "SEGSYNC_RETRY__MAX_ATTEMPTS": "2",
            "SEGSYNC_RETRY__INITIAL_BACKOFF_SECONDS": "0.01",
            "SEGSYNC_RETRY__MAX_BACKOFF_SECONDS": "0.05",
            "PYTHONPATH": str(ROOT),
        }
        if token is not None:
            env["SEGSYNC_HTTP__TOKEN"] = token
        world = World(tmp_path, config, store, tmp_path / "state" / "segsync.db", emu, env)
        worlds.append(world)
        return world

    yield build
    for world in worlds:
        for daemon in world.daemons:
            if daemon.process.poll() is None:
                daemon.process.kill()
                daemon.process.wait(timeout=10)
            daemon.http.close()
            daemon.save(request.node.name)
    for context in reversed(stack):
        context.__exit__(None, None, None)


def assert_nothing_secret(*texts: str) -> None:
    """No key, no token, no member email in any of ``texts``."""
    for text in texts:
        assert API_KEY not in text
        assert TOKEN not in text
        assert "@example.com" not in text
