"""Chaos: real `segsync sync` processes against both emulators, round after round, with
everything that went wrong in the field at once — and after each round one clean sync must
leave every tag and list exactly right.

Each round changes the data, then at random: SIGKILLs the sync at a random point after its
first ESP call, deletes the state store first, starts two syncs at once (one with
``--wait``), injects 429/5xx. Then a clean sync runs and the round is *exact* when every
tag/list holds exactly the segment's members, no object exists twice, the confirmed state
equals the ESP, and no request was refused as malformed (400/422).

On demand only (``make chaos``, or ``pytest -m chaos``); ``CHAOS_ROUNDS`` (default 12) and
``CHAOS_SEED`` (default 1) set its size. It prints ``chaos: N rounds, M exact``.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from connector.emulator import EmulatorOptions, run_emulator
from connector.reconcile.state import StateStore
from tests.conftest import insert_rows, make_store, write_config

pytestmark = pytest.mark.chaos

AS_OF = datetime(2026, 11, 23, 12)
N = 1500
AUDIENCE = "demo-audience"
SEGMENTS = {
    "buyers": "name: buyers\nrule: {event: order_completed, within: 30d}\n"
    "destinations: [{to: mc, mode: tag}, {to: kl, mode: list}]\n",
    "viewers": "name: viewers\nrule: {event: page_view, within: 30d}\n"
    "destinations: [{to: mc, mode: tag}, {to: kl, mode: list}]\n",
}
DESTINATIONS = f"mc: {{esp: mailchimp, audience: {AUDIENCE}}}\nkl: {{esp: klaviyo}}\n"
MALFORMED = {400, 422}


def email(i: int) -> str:
    return f"c{i}@example.com"


@dataclass
class Data:
    buyers: set[int] = field(default_factory=set)
    viewers: set[int] = field(default_factory=set)

    def events(self) -> list[tuple[object, ...]]:
        rows: list[tuple[object, ...]] = [
            (f"p{i:05d}", "order_completed", AS_OF - timedelta(days=2), None, 1.0, None)
            for i in sorted(self.buyers)
        ]
        rows += [
            (f"p{i:05d}", "page_view", AS_OF - timedelta(days=1), None, None, None)
            for i in sorted(self.viewers)
        ]
        return rows

    def change(self, rng: random.Random) -> None:
        """Flip 2–20 % of the profiles in or out of each segment."""
        for members in (self.buyers, self.viewers):
            for i in rng.sample(range(N), int(N * rng.uniform(0.02, 0.2))):
                members.symmetric_difference_update({i})


@dataclass
class Round:
    number: int
    actions: list[str]
    exact: bool = False
    problems: list[str] = field(default_factory=list)


class Chaos:
    def __init__(self, root: Path, mc: Any, kl: Any) -> None:
        self.root, self.mc, self.kl = root, mc, kl
        self.store = root / "customers.duckdb"
        self.state = root / "state" / "segsync.db"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SEGSYNC_")} | {
            "SEGSYNC_CONFIG_DIR": str(root / "config"),
            "SEGSYNC_SOURCE_URL": f"duckdb:///{self.store}",
            "SEGSYNC_STATE_PATH": str(self.state),
            "SEGSYNC_SECRETS_DIR": str(root / "no-secrets"),
            "SEGSYNC_MAILCHIMP__API_KEY": mc.api_key,
            "SEGSYNC_MAILCHIMP__BASE_URL": mc.base_url,
            "SEGSYNC_KLAVIYO__API_KEY": kl.api_key,
            "SEGSYNC_KLAVIYO__BASE_URL": kl.base_url,
            "SEGSYNC_RETRY__INITIAL_BACKOFF_SECONDS": "0.01",
            "SEGSYNC_RETRY__MAX_BACKOFF_SECONDS": "0.1",
        }

    def calls(self) -> int:
        return int(self.mc.calls.total() + self.kl.calls.total())

    def start(self, *extra: str) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "connector", "sync", "--force",
                   "--as-of", "2026-11-23T12:00:00Z", *extra]  # fmt: skip
        return subprocess.Popen(
            command, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def write(self, data: Data) -> None:
        con = duckdb.connect(str(self.store))
        con.execute("DELETE FROM events")
        insert_rows(con, "events", data.events())
        con.close()

    def lose_state(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            self.state.with_name(self.state.name + suffix).unlink(missing_ok=True)

    def faults(self, on: bool) -> None:
        for emu in (self.mc, self.kl):
            emu.options.fault_rate_429 = 0.1 if on else 0.0
            emu.options.fault_rate_5xx = 0.05 if on else 0.0

    def kill_after_first_call(self, proc: subprocess.Popen[bytes], rng: random.Random) -> bool:
        before = self.calls()
        deadline = time.monotonic() + 60
        while self.calls() == before and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 2.5))
        if proc.poll() is not None:
            return False
        proc.send_signal(signal.SIGKILL)
        return True

    # -- what the ESPs hold -------------------------------------------------------------
    def esp_members(self) -> dict[tuple[str, str], set[str]]:
        held: dict[tuple[str, str], set[str]] = {}
        for name in SEGMENTS:
            tag = f"segsync:{name}"
            found = self.mc.state.find_segment(AUDIENCE, tag)
            held[("mc", tag)] = self.mc.state.tag_members(AUDIENCE, tag) if found else set()
            listed = self.kl.state.find_list(tag)
            held[("kl", tag)] = self.kl.state.list_emails(listed.id) if listed else set()
        return held

    def duplicates(self) -> list[str]:
        mc = Counter(
            s.name.strip().lower()
            for s in self.mc.state.audience(AUDIENCE).segments.values()
            if s.name.lower().startswith("segsync:")
        )
        kl = Counter(li.name for li in self.kl.state.lists.values())
        return [f"mc {n} x{c}" for n, c in mc.items() if c > 1] + [
            f"kl {n} x{c}" for n, c in kl.items() if c > 1
        ]

    def malformed(self, since: dict[str, int]) -> list[str]:
        found = []
        for flavour, emu in (("mc", self.mc), ("kl", self.kl)):
            for record in emu.calls.records[since[flavour] :]:
                if record.status in MALFORMED:
                    found.append(f"{flavour} {record.method} {record.route} -> {record.status}")
        return found

    def check(self, data: Data, report: Round) -> None:
        expected = {"segsync:buyers": data.buyers, "segsync:viewers": data.viewers}
        held = self.esp_members()
        for (dest, tag), members in sorted(held.items()):
            want = {email(i) for i in expected[tag]}
            if members != want:
                report.problems.append(
                    f"{dest} {tag}: {len(members - want)} extra, {len(want - members)} missing"
                )
        report.problems += [f"duplicate {d}" for d in self.duplicates()]
        state = StateStore(self.state)
        try:
            for (dest, tag), members in held.items():
                if state.confirmed(dest, tag) != members:
                    report.problems.append(f"{dest} {tag}: confirmed state differs from the ESP")
        finally:
            state.close()


@pytest.fixture
def chaos(tmp_path: Path) -> Iterator[Chaos]:
    people = [
        (f"p{i:05d}", email(i), True, "CA", 30, 1.0, False, AS_OF, None, None) for i in range(N)
    ]
    make_store(people, path=tmp_path / "customers.duckdb").close()
    write_config(tmp_path / "config", SEGMENTS, destinations=DESTINATIONS)
    mc_options = EmulatorOptions(seed=21)
    kl_options = EmulatorOptions(seed=22, rate_limit_scale=10.0)
    with run_emulator("mailchimp", mc_options) as mc, run_emulator("klaviyo", kl_options) as kl:
        yield Chaos(tmp_path, mc, kl)


def test_every_round_ends_exact(chaos: Chaos) -> None:
    rounds = int(os.environ.get("CHAOS_ROUNDS", "12"))
    rng = random.Random(int(os.environ.get("CHAOS_SEED", "1")))
    data = Data({i for i in range(N) if i % 2 == 0}, {i for i in range(N) if i % 3 == 0})
    reports: list[Round] = []
    kills = 0
    for number in range(rounds):
        data.change(rng)
        chaos.write(data)
        report = Round(number, [])
        since = {"mc": len(chaos.mc.calls.records), "kl": len(chaos.kl.calls.records)}
        if number and rng.random() < 0.3:
            chaos.lose_state()
            report.actions.append("state deleted")
        faults = rng.random() < 0.5
        chaos.faults(faults)
        if faults:
            report.actions.append("429/5xx")
        if rng.random() < 0.35:
            report.actions.append("two syncs at once")
            procs = [chaos.start(), chaos.start(*(["--wait"] if rng.random() < 0.5 else []))]
        else:
            procs = [chaos.start()]
        if rng.random() < 0.6 and chaos.kill_after_first_call(rng.choice(procs), rng):
            kills += 1
            report.actions.append("SIGKILL")
        codes = [p.wait(180) for p in procs]
        for proc in procs:
            assert proc.stderr is not None
            text = proc.stderr.read().decode(errors="replace")
            proc.stderr.close()
            if "Traceback" in text:
                report.problems.append(f"traceback: {text.strip().splitlines()[-1]}")
        if any(c not in (0, 2, 5, -signal.SIGKILL) for c in codes):
            report.problems.append(f"exit codes {codes}")
        chaos.faults(False)
        clean = chaos.start()
        code = clean.wait(180)
        assert clean.stderr is not None
        err = clean.stderr.read().decode(errors="replace")
        clean.stderr.close()
        if code != 0:
            report.problems.append(f"clean sync exited {code}: {err.strip()[-300:]}")
        chaos.check(data, report)
        report.problems += chaos.malformed(since)
        report.exact = not report.problems
        reports.append(report)
        print(
            f"round {number}: {', '.join(report.actions) or 'plain'} -> "
            f"{'exact' if report.exact else '; '.join(report.problems)}",
            flush=True,
        )
    exact = sum(r.exact for r in reports)
    print(f"chaos: {len(reports)} rounds, {exact} exact, {kills} SIGKILLs", flush=True)
    assert exact == len(reports), [(r.number, r.actions, r.problems) for r in reports]
