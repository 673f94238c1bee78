"""sync / apply / status through the real CLI: exit codes are the CI contract."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from connector.emulator import EmulatorOptions, run_emulator
from tests.cli.conftest import CliRunner
from tests.conftest import make_store, point_at_emulator, write_config
from tests.reconcile.test_state_lock import hold_lock

AS_OF = "2026-11-23T12:00:00Z"
NOW = datetime(2026, 11, 23, 12)


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, object]]:
    people = [
        (f"p{i}", f"m{i}@example.com", True, "CA", 30, 1.0, False, NOW, None, None)
        for i in range(40)
    ]
    orders = [
        (f"p{i}", "order_completed", NOW - timedelta(days=1), "tv", 1.0, None) for i in range(40)
    ]
    make_store(people, orders, path=tmp_path / "c.duckdb").close()
    write_config(
        tmp_path / "config",
        {
            "buyers": "name: buyers\nrule: {event: order_completed, within: 7d}\n"
            "destinations: [{to: mc, mode: tag}]\n"
        },
        destinations="mc: {esp: mailchimp, audience: demo-audience}\n",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEGSYNC_SOURCE_URL", f"duckdb:///{tmp_path / 'c.duckdb'}")
    monkeypatch.setenv("SEGSYNC_STATE_PATH", str(tmp_path / "state.db"))
    with run_emulator("mailchimp", EmulatorOptions()) as emu:
        point_at_emulator(monkeypatch, emu, tmp_path)
        yield tmp_path, emu


def test_sync_json_then_guard_exit_3_then_force(
    workspace: tuple[Path, object], run_cli: CliRunner
) -> None:
    root, emu = workspace
    code, out, _ = run_cli(["sync", "--as-of", AS_OF, "--json"])
    assert code == 0
    summary = json.loads(out)
    assert summary["status"] == "ok" and summary["parts"][0]["adds"] == 40
    assert summary["api_calls"]["mc"]["total"] > 0
    assert emu.api_key not in out  # type: ignore[attr-defined]
    con = duckdb.connect(str(root / "c.duckdb"))
    con.execute("DELETE FROM events WHERE profile_id > 'p2'")  # most buyers leave
    con.close()
    code, out, err = run_cli(["sync", "--as-of", AS_OF])
    assert code == 3
    assert "max_removal_percent" in err and "STOPPED by a guard" in out
    code, _, _ = run_cli(["sync", "--as-of", AS_OF, "--dry-run", "--force"])
    assert code == 0
    code, out, _ = run_cli(["sync", "--as-of", AS_OF, "--force", "--json"])
    assert code == 0 and json.loads(out)["parts"][0]["removes"] > 0
    code, out, _ = run_cli(["status", "--json"])
    assert code == 0
    runs = json.loads(out)["runs"]
    assert [r["status"] for r in runs[:3]] == ["ok", "guard", "ok"]


def test_esp_failure_exits_2(workspace: tuple[Path, object], run_cli: CliRunner) -> None:
    root, _ = workspace
    (root / "config/destinations.yaml").write_text("mc: {esp: mailchimp, audience: nope}\n")
    code, out, err = run_cli(["sync", "--as-of", AS_OF])
    assert code == 2 and "404" in err
    last = out.splitlines()[-1]
    assert last.startswith("FAILED (exit 2): confirmed batches are kept, and the next run sends")
    assert " in 0." not in last and ". Run time " in last  # the duration is not a delay


def test_the_table_says_whether_changes_were_made(
    workspace: tuple[Path, object], run_cli: CliRunner
) -> None:
    code, out, _ = run_cli(["sync", "--as-of", AS_OF, "--dry-run"])
    assert code == 0
    (title,) = [line for line in out.splitlines() if line.startswith("# run ")]
    assert title.endswith(": changes it would make (nothing written)")
    code, out, _ = run_cli(["sync", "--as-of", AS_OF])
    assert code == 0
    (title,) = [line for line in out.splitlines() if line.startswith("# run ")]
    assert title.endswith(f"as of {AS_OF}") and "(did)" not in out
    assert out.splitlines()[-1].startswith("done. Run time ")


def test_plan_then_apply_and_stale_plan_refused(
    workspace: tuple[Path, object], run_cli: CliRunner
) -> None:
    root, emu = workspace
    code, _, _ = run_cli(["plan", "--as-of", AS_OF, "--out", "plan.json"])
    assert code == 0
    saved = json.loads((root / "plan.json").read_text())
    assert saved["segments"][0]["parts"][0]["adds"] == 40
    assert "m1@example.com" not in (root / "plan.json").read_text()  # no emails in the plan
    code, _, _ = run_cli(["apply", "plan.json"])
    assert code == 0
    assert len(emu.state.tag_members("demo-audience", "segsync:buyers")) == 40  # type: ignore[attr-defined]
    code, _, err = run_cli(["apply", "plan.json"])  # confirmed state moved since the plan
    assert code == 3 and "the ESP's confirmed state moved" in err
    code, _, err = run_cli(["apply", "missing.json"])
    assert code == 1 and "plan file not found" in err


def test_apply_after_the_state_store_was_lost_says_why_it_stops(
    workspace: tuple[Path, object], run_cli: CliRunner
) -> None:
    """The plan reads no ESP: with no state store it counts from empty, and apply (whose
    sync reads the ESP) stops saying so, instead of a general 'changes differ'."""
    root, emu = workspace
    code, _, _ = run_cli(["sync", "--as-of", AS_OF])
    assert code == 0
    (root / "state.db").unlink()  # the state store is lost; the ESP keeps its 40 members
    (root / "state.db-wal").unlink(missing_ok=True)
    (root / "state.db-shm").unlink(missing_ok=True)
    code, _, _ = run_cli(["plan", "--as-of", AS_OF, "--out", "plan.json"])
    assert code == 0
    code, _, err = run_cli(["apply", "plan.json"])
    assert code == 3
    assert "the state store holds no record of it" in err and "sync --dry-run" in err
    assert len(emu.state.tag_members("demo-audience", "segsync:buyers")) == 40  # type: ignore[attr-defined]


def test_plan_counts_trait_field_updates_like_a_dry_run(
    workspace: tuple[Path, object], run_cli: CliRunner
) -> None:
    root, _ = workspace
    (root / "config/destinations.yaml").write_text(
        "mc:\n  esp: mailchimp\n  audience: demo-audience\n"
        "  traits: {FNAME: {map: {attribute: region, values: {CA: premium}, default: standard}}}\n"
    )
    assert run_cli(["sync", "--as-of", AS_OF])[0] == 0
    con = duckdb.connect(str(root / "c.duckdb"))
    con.execute("UPDATE profiles SET region = 'TX' WHERE profile_id IN ('p1', 'p2', 'p3')")
    con.close()
    code, dry, _ = run_cli(["sync", "--as-of", AS_OF, "--dry-run"])
    assert code == 0 and "contacts with changed field values (traits, fields): mc: 3" in dry
    code, out, _ = run_cli(["plan", "--as-of", AS_OF])
    assert code == 0
    assert "traits -> mc: FNAME" in out
    assert "contacts with changed field values (traits, fields): mc: 3" in out
    code, out, _ = run_cli(["plan", "--as-of", AS_OF, "--json"])
    assert code == 0
    plan = json.loads(out)
    assert plan["field_updates"] == {"mc": 3} and plan["traits"] == {"mc": ["FNAME"]}


@pytest.mark.parametrize("damage", ["corrupt", "read-only"])
def test_an_unusable_state_file_exits_1_before_any_esp_call(
    workspace: tuple[Path, object], run_cli: CliRunner, damage: str
) -> None:
    root, emu = workspace
    state_file = root / "state.db"
    if damage == "corrupt":
        state_file.write_bytes(b"garbage" * 1000)
    else:
        assert run_cli(["sync", "--as-of", AS_OF])[0] == 0
        state_file.chmod(0o444)
    before = emu.calls.total()  # type: ignore[attr-defined]
    code, _, err = run_cli(["sync", "--as-of", AS_OF])
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and str(state_file) in err
    assert "Traceback" not in err
    assert emu.calls.total() == before  # type: ignore[attr-defined]
    state_file.chmod(0o644)


def test_a_held_lock_exits_5_status_shows_the_run_and_wait_waits(
    workspace: tuple[Path, object], run_cli: CliRunner
) -> None:
    root, emu = workspace
    url = f"sqlite:///{root / 'state.db'}"
    with hold_lock(url) as holder:
        code, _, err = run_cli(["sync", "--as-of", AS_OF])
        assert code == 5 and "another segsync run holds the lock" in err and "--wait" in err
        assert emu.calls.total() == 0  # type: ignore[attr-defined]
        code, out, _ = run_cli(["status", "--json"])
        assert json.loads(out)["runs"][0]["status"] == "running"
        holder.send_signal(signal.SIGKILL)  # the run dies without finishing
        holder.wait(10)
        code, out, _ = run_cli(["status", "--json"])
        assert json.loads(out)["runs"][0]["status"] == "interrupted"
    code, out, _ = run_cli(["sync", "--as-of", AS_OF, "--wait", "--json"])
    assert code == 0 and json.loads(out)["parts"][0]["adds"] == 40


def test_refused_addresses_and_bad_profile_ids_are_counted_and_never_pushed(
    workspace: tuple[Path, object], run_cli: CliRunner
) -> None:
    root, emu = workspace
    con = duckdb.connect(str(root / "c.duckdb"))
    bad = {
        "p1": "nul\x00@example.com",
        "p2": "bob\u200b@example.com",
        "p3": "<script>alert(1)</script>@x.com",
        "p4": "a,b@example.com",
    }
    for pid, address in bad.items():
        con.execute("UPDATE profiles SET email = ? WHERE profile_id = ?", [address, pid])
    con.execute("UPDATE profiles SET profile_id = 'p5' WHERE profile_id = 'p6'")  # duplicated
    con.execute("UPDATE profiles SET profile_id = NULL WHERE profile_id = 'p7'")
    con.execute("UPDATE events SET profile_id = 'p5' WHERE profile_id = 'p6'")
    con.close()
    code, out, err = run_cli(["preview", "buyers", "--as-of", AS_OF, "--output", "-"])
    assert code == 0
    assert "4 invalid email" in err and "2 duplicate profile_id" in err
    assert "profile p2: invalid email: The email address contains unsafe characters" in err
    assert "\x00" not in out and "script" not in out  # the CSV leaves those addresses out

    code, out, _ = run_cli(["audit", "--as-of", AS_OF, "--json"])
    assert json.loads(out)["rejected"]["counts"]["invalid email"] == 4

    code, out, _ = run_cli(["sync", "--as-of", AS_OF, "--json"])
    assert code == 0
    summary = json.loads(out)
    assert summary["rejected"]["counts"] == {"duplicate profile_id": 2, "invalid email": 4}
    assert summary["parts"][0]["adds"] == 40 - 4 - 2 - 1  # p7's events have no profile
    pushed = emu.state.emails("demo-audience")  # type: ignore[attr-defined]
    assert len(pushed) == 33 and not any("," in e or "<" in e for e in pushed)
    assert "m5@example.com" not in pushed and "m6@example.com" not in pushed
    code, out, _ = run_cli(["sync", "--as-of", AS_OF])
    assert "not pushed (an ESP would refuse them): 2 duplicate profile_id, 4 invalid email" in out


@pytest.mark.slow
def test_sigterm_stops_a_sync_between_calls_and_sigkill_shows_interrupted(
    workspace: tuple[Path, object], run_cli: CliRunner
) -> None:
    root, emu = workspace
    emu.options.latency_ms = 500  # type: ignore[attr-defined]
    command = [sys.executable, "-m", "connector", "sync", "--as-of", AS_OF]
    env = {**os.environ, "SEGSYNC_MAILCHIMP__MAX_CONNECTIONS": "1"}
    for signum, status in ((signal.SIGTERM, "stopped"), (signal.SIGKILL, "interrupted")):
        before = emu.calls.total()  # type: ignore[attr-defined]
        with subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.DEVNULL) as proc:
            deadline = time.monotonic() + 30
            while emu.calls.total() == before and time.monotonic() < deadline:  # type: ignore[attr-defined]
                time.sleep(0.02)
            proc.send_signal(signum)
            sent = time.monotonic()
            code = proc.wait(30)
        assert time.monotonic() - sent < 5
        assert code == (0 if signum == signal.SIGTERM else -signal.SIGKILL)
        assert emu.calls.total() - before <= 2  # type: ignore[attr-defined]
        code, out, _ = run_cli(["status", "--json"])
        assert json.loads(out)["runs"][0]["status"] == status


@pytest.mark.postgres
def test_a_postgresql_state_store_syncs_locks_and_reports(
    workspace: tuple[Path, object],
    run_cli: CliRunner,
    pg_state: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root, emu = workspace
    monkeypatch.setenv("SEGSYNC_STATE_URL", pg_state)  # wins over SEGSYNC_STATE_PATH
    code, out, _ = run_cli(["sync", "--as-of", AS_OF, "--json"])
    assert code == 0 and json.loads(out)["parts"][0]["adds"] == 40
    assert not (root / "state.db").exists()
    con = duckdb.connect(str(root / "c.duckdb"))
    con.execute("DELETE FROM events WHERE profile_id IN ('p1', 'p2')")
    con.close()
    code, out, _ = run_cli(["sync", "--as-of", AS_OF, "--json"])
    assert code == 0 and json.loads(out)["parts"][0]["removes"] == 2
    assert len(emu.state.tag_members("demo-audience", "segsync:buyers")) == 38  # type: ignore[attr-defined]
    with hold_lock(pg_state):
        code, _, err = run_cli(["sync", "--as-of", AS_OF])
        assert code == 5 and "postgresql://postgres@127.0.0.1" in err
    code, out, _ = run_cli(["status", "--json"])
    runs = json.loads(out)["runs"]
    assert [r["status"] for r in runs] == ["interrupted", "ok", "ok"]
