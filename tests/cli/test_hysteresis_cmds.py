"""Percentile hysteresis across real sync runs (state in SQLite or PostgreSQL), and
``preview --previous-run``: members stay within P + N %, others enter at P %."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from connector.emulator import EmulatorOptions, run_emulator
from tests.cli.conftest import CliRunner
from tests.conftest import make_store, point_at_emulator, write_config

AS_OF = "2026-11-23T12:00:00Z"
NOW = datetime(2026, 11, 23, 12)
N = 20  # p00..p19 with clv 0, 10, ..., 190: top 10 % = p18, p19; top 20 % adds p16, p17
TAG = "segsync:top"
SEGMENT = """\
name: top
rule: {metric: clv, top_percent: 10, hysteresis: 10}
destinations: [{to: mc, mode: tag}]
"""


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def workspace(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, object]]:
    people = [
        (f"p{i:02d}", f"m{i}@example.com", True, "CA", 30, 10.0 * i, False, NOW, None, None)
        for i in range(N)
    ]
    fresh = [("p00", "page_view", NOW, None, None, None)]  # the data is not stale
    make_store(people, fresh, path=tmp_path / "c.duckdb").close()
    write_config(
        tmp_path / "config",
        {"top": SEGMENT},
        metrics="clv: {attribute: clv}\n",
        destinations="mc: {esp: mailchimp, audience: demo-audience}\n",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEGSYNC_SOURCE_URL", f"duckdb:///{tmp_path / 'c.duckdb'}")
    if request.param == "sqlite":
        monkeypatch.setenv("SEGSYNC_STATE_PATH", str(tmp_path / "state.db"))
    else:
        monkeypatch.setenv("SEGSYNC_STATE_URL", request.getfixturevalue("pg_state"))
    with run_emulator("mailchimp", EmulatorOptions()) as emu:
        point_at_emulator(monkeypatch, emu, tmp_path)
        yield tmp_path, emu


def set_clv(root: Path, profile: str, clv: float) -> None:
    con = duckdb.connect(str(root / "c.duckdb"))
    con.execute("UPDATE profiles SET clv = ? WHERE profile_id = ?", [clv, profile])
    con.close()


def tagged(emu: object) -> set[str]:
    members: set[str] = emu.state.tag_members("demo-audience", TAG)  # type: ignore[attr-defined]
    return members


def sync(run_cli: CliRunner, *args: str) -> dict[str, object]:
    code, out, err = run_cli(["sync", "--as-of", AS_OF, "--json", *args])
    assert code == 0, err
    summary: dict[str, object] = json.loads(out)
    return summary


def preview(run_cli: CliRunner, *args: str) -> set[str]:
    code, out, err = run_cli(["preview", "top", "--as-of", AS_OF, "--output", "-", *args])
    assert code == 0, err
    return {line.split(",")[0] for line in out.splitlines()[1:]}


def test_members_stay_within_p_plus_n_and_leave_beyond(
    workspace: tuple[Path, object], run_cli: CliRunner
) -> None:
    root, emu = workspace
    first = sync(run_cli)
    assert tagged(emu) == {"m18@example.com", "m19@example.com"}  # first run: plain 10 %
    # p18 falls to 3rd (share 15 %): it stays; p17 rises to 2nd (10 %) and enters
    set_clv(root, "p18", 165)
    set_clv(root, "p17", 175)
    assert preview(run_cli) == {"p17", "p19"}  # without a previous run: plain 10 %
    assert preview(run_cli, "--previous-run", str(first["run_id"])) == {"p17", "p18", "p19"}
    assert sync(run_cli, "--dry-run")["status"] == "dry_run"  # records nothing
    second = sync(run_cli)
    assert tagged(emu) == {"m17@example.com", "m18@example.com", "m19@example.com"}
    # p18 falls to 5th (share 25 %, beyond 20 %): it leaves; nobody new enters
    set_clv(root, "p18", 145)
    sync(run_cli, "--force")
    assert tagged(emu) == {"m17@example.com", "m19@example.com"}
    # the earlier run's qualified set is still readable by id
    assert preview(run_cli, "--previous-run", str(second["run_id"])) == {"p17", "p19"}


def test_preview_previous_run_unknown_id(
    workspace: tuple[Path, object], run_cli: CliRunner
) -> None:
    sync(run_cli)
    code, _, err = run_cli(["preview", "top", "--previous-run", "nope"])
    assert code == 1
    assert "--previous-run" in err and "no sync run 'nope'" in err
