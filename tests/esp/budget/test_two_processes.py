"""Two OS processes, one ESP account, one state store: together under the account's limits.

Each process runs the real adapter (``tests/esp/budget/driver.py``) against one emulator:
Mailchimp refuses the 11th simultaneous connection (each process sends tag batches from 10
threads), Klaviyo the 11th list creation in a second (``POST /api/lists``: 10/s). With the
shared budget — the default, in the state store's database, SQLite or PostgreSQL — neither
emulator refuses a request; with it switched off, the same two processes are refused (so
these tests can fail).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from connector.emulator.options import EmulatorOptions
from connector.emulator.server import Emulator, run_emulator
from tests.esp.budget.conftest import ROOT

pytestmark = pytest.mark.slow

#: per process; each process works for seconds, so the two overlap on a loaded machine
GROUPS = {"mailchimp": 160, "klaviyo": 14}


def _environment(emu: Emulator[object], state_url: str, *, shared: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEGSYNC_")}
    section = emu.esp.upper()
    env.update(
        {
            f"SEGSYNC_{section}__API_KEY": emu.api_key,
            f"SEGSYNC_{section}__BASE_URL": emu.base_url,
            "SEGSYNC_STATE_URL": state_url,
            "SEGSYNC_BUDGET__ENABLED": "true" if shared else "false",
            "SEGSYNC_SECRETS_DIR": "/nonexistent",
            "SEGSYNC_RETRY__INITIAL_BACKOFF_SECONDS": "0.1",
            "SEGSYNC_RETRY__MAX_BACKOFF_SECONDS": "1",
            "SEGSYNC_RETRY__MAX_ATTEMPTS": "30",
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def _two_processes(emu: Emulator[object], state_url: str, *, shared: bool) -> list[dict[str, int]]:
    """Both drivers started together (each says when it has imported everything and set up,
    then both are told to go); each one's calls by status."""
    env = _environment(emu, state_url, shared=shared)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.esp.budget.driver",
                "work",
                emu.esp,
                f"p{n}",
                str(GROUPS[emu.esp]),
            ],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in (1, 2)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            ready = proc.stdout.readline()
            assert ready == "ready\n", (ready, proc.stderr.read() if proc.stderr else "")
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=180)
            assert proc.returncode == 0, err[-2000:]
            results.append({k: int(v) for k, v in json.loads(out.strip().splitlines()[-1]).items()})
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return results


def _emulator_options(esp: str) -> EmulatorOptions:
    # Mailchimp: requests last long enough to overlap; Klaviyo: real windows, real tiers
    return EmulatorOptions(latency_ms=150.0 if esp == "mailchimp" else 5.0, seed=1)


def _refused(emu: Emulator[object]) -> int:
    return sum(count for (_, _, status), count in emu.calls.items() if status == 429)


def _created(emu: Emulator[object]) -> int:
    """Tag batches (Mailchimp) or lists (Klaviyo) done."""
    return sum(
        count
        for (method, route, status), count in emu.calls.items()
        if method == "POST"
        and route.endswith(("/segments/{segment_id}", "/api/lists"))
        and status < 300
    )


@pytest.mark.parametrize("esp", ["mailchimp", "klaviyo"])
def test_sqlite_state_shares_the_budget_no_request_refused(esp: str, tmp_path: Path) -> None:
    with run_emulator(esp, _emulator_options(esp)) as emu:  # type: ignore[call-overload]
        results = _two_processes(emu, f"sqlite:///{tmp_path / 'state.db'}", shared=True)
        assert _refused(emu) == 0
        assert _created(emu) == 2 * GROUPS[esp]  # the work was done
    assert all("429" not in result for result in results)


@pytest.mark.postgres
@pytest.mark.parametrize("esp", ["mailchimp", "klaviyo"])
def test_postgres_state_shares_the_budget_no_request_refused(esp: str, pg_state: str) -> None:
    with run_emulator(esp, _emulator_options(esp)) as emu:  # type: ignore[call-overload]
        _two_processes(emu, pg_state, shared=True)
        assert _refused(emu) == 0
        assert _created(emu) == 2 * GROUPS[esp]


@pytest.mark.parametrize("esp", ["mailchimp", "klaviyo"])
def test_without_the_shared_budget_the_same_processes_are_refused(esp: str, tmp_path: Path) -> None:
    with run_emulator(esp, _emulator_options(esp)) as emu:  # type: ignore[call-overload]
        results = _two_processes(emu, f"sqlite:///{tmp_path / 'state.db'}", shared=False)
        assert _refused(emu) > 0
        assert _created(emu) == 2 * GROUPS[esp]  # retried until done, but refused on the way
    assert sum(result.get("429", 0) for result in results) == _refused(emu)
