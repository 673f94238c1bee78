"""How every command fails: one JSON object on stdout with ``--json`` (error, exit_code,
located problems), and exit codes that tell a broken config from an unreachable store."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connector.cli import main
from connector.emulator import EmulatorOptions, run_emulator
from tests.cli.conftest import CliRunner
from tests.conftest import make_store, point_at_emulator, write_config

AS_OF = "2026-11-23T12:00:00Z"
NOW = datetime(2026, 11, 23, 12)
BROKEN = "name: broken\nrule: {attribute: regoin, op: eq, value: CA}\n"


def _workspace(root: Path, monkeypatch: pytest.MonkeyPatch, *, rows: bool = True) -> None:
    people = [(f"p{i}", f"m{i}@example.com", True, "CA", 30, 1.0, False, NOW, None, None)
              for i in range(20)]  # fmt: skip
    orders = [(f"p{i}", "order_completed", NOW - timedelta(days=1), "tv", 1.0, None)
              for i in range(20)]  # fmt: skip
    make_store(people if rows else [], orders if rows else [], path=root / "c.duckdb").close()
    write_config(
        root / "config",
        {
            "buyers": "name: buyers\nrule: {event: order_completed, within: 7d}\n"
            "destinations: [{to: mc, mode: tag}]\n"
        },
        destinations="mc: {esp: mailchimp, audience: demo-audience}\n",
    )
    monkeypatch.chdir(root)
    monkeypatch.setenv("SEGSYNC_SOURCE_URL", f"duckdb:///{root / 'c.duckdb'}")
    monkeypatch.setenv("SEGSYNC_STATE_PATH", str(root / "state.db"))


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    _workspace(tmp_path, monkeypatch)
    with run_emulator("mailchimp", EmulatorOptions()) as emu:
        point_at_emulator(monkeypatch, emu, tmp_path)
        yield tmp_path


def _one_object(out: str) -> dict[str, Any]:
    payload = json.loads(out)  # the whole of stdout is one JSON document
    assert isinstance(payload, dict)
    assert set(payload) == {"error", "exit_code", "problems"}
    return payload


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "--json"],
        ["validate", "--offline", "--json"],
        ["sync", "--json", "--as-of", AS_OF],
        ["plan", "--json", "--as-of", AS_OF],
        ["audit", "--json", "--as-of", AS_OF],
        ["explain", "buyers", "p1", "--json", "--as-of", AS_OF],
    ],
)
def test_a_config_error_is_one_located_json_object(
    workspace: Path, run_cli: CliRunner, args: list[str]
) -> None:
    (workspace / "config/segments/broken.yaml").write_text(
        "name: broken\nrule: {attribute: region, op: bogus, value: CA}\n"
    )
    code, out, err = run_cli(args)
    assert code == 1
    payload = _one_object(out)
    assert payload["exit_code"] == 1
    (problem,) = payload["problems"]
    assert problem["file"].endswith("segments/broken.yaml") and problem["line"] == 2
    assert "bogus" in problem["message"] and "bogus" in payload["error"]
    assert "broken.yaml line 2" in err  # people still read stderr


def test_an_unknown_name_from_the_store_is_located_in_json(
    workspace: Path, run_cli: CliRunner
) -> None:
    (workspace / "config/segments/broken.yaml").write_text(BROKEN)
    code, out, _ = run_cli(["validate", "--json"])
    assert code == 1
    (problem,) = _one_object(out)["problems"]
    assert problem["line"] == 2 and "did you mean 'region'" in problem["message"]


def test_unknown_segment_and_bad_options_are_json_too(workspace: Path, run_cli: CliRunner) -> None:
    code, out, _ = run_cli(["sync", "buyrs", "--json"])
    assert code == 1 and "did you mean 'buyers'" in _one_object(out)["problems"][0]["message"]
    code, out, _ = run_cli(["plan", "--json", "--as-of", "yesterday-ish"])
    assert code == 1 and _one_object(out)["problems"][0]["file"] == "--as-of"
    code, out, _ = run_cli(["status", "--json", "--limit", "many"])
    assert code == 1 and "Invalid value for '--limit'" in _one_object(out)["error"]


def test_a_stale_plan_lists_what_moved(workspace: Path, run_cli: CliRunner) -> None:
    assert run_cli(["plan", "--as-of", AS_OF, "--out", "plan.json"])[0] == 0
    assert run_cli(["apply", "plan.json"])[0] == 0
    code, out, _ = run_cli(["apply", "plan.json", "--json"])  # the ESP moved since
    assert code == 3
    payload = _one_object(out)
    assert payload["exit_code"] == 3 and "no longer matches" in payload["error"]
    assert payload["problems"] == [
        {"message": "buyers -> mc segsync:buyers: the ESP's confirmed state moved"}
    ]
    code, out, _ = run_cli(["apply", "missing.json", "--json"])
    assert code == 1 and _one_object(out)["problems"][0]["file"] == "missing.json"


def test_success_prints_the_normal_json(workspace: Path, run_cli: CliRunner) -> None:
    code, out, _ = run_cli(["validate", "--json"])
    assert code == 0 and json.loads(out)["ok"] is True


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize("command", ["validate", "sync", "plan", "audit"])
def test_an_unreachable_store_is_a_dependency_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: CliRunner, command: str
) -> None:
    _workspace(tmp_path, monkeypatch)
    url = f"postgresql://segsync:s3cret@127.0.0.1:{_closed_port()}/shop"
    monkeypatch.setenv("SEGSYNC_SOURCE_URL", url)
    code, out, err = run_cli([command, "--json", "--as-of", AS_OF]
                             if command != "validate" else [command, "--json"])  # fmt: skip
    assert code == 2, err
    payload = _one_object(out)
    assert payload["exit_code"] == 2
    assert "cannot connect to the customer store postgresql://segsync@127.0.0.1" in err
    assert "s3cret" not in out + err


def test_an_empty_store_says_it_is_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: CliRunner
) -> None:
    _workspace(tmp_path, monkeypatch, rows=False)
    write_config(
        tmp_path / "config",
        {"carts": "name: carts\nrule: {event: added_to_cart, within: 1d}\n"},
    )
    code, _, err = run_cli(["validate"])
    assert code == 1
    assert "unknown event" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "the customer store is empty: 'events' has no rows" in lines[0]
    assert "segsync load events" in lines[0]


def test_a_bug_still_gives_json_and_its_traceback(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken() -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("connector.cli.cmd_validate.load_config", broken)
    capsys.readouterr()
    with pytest.raises(RuntimeError, match="boom"):  # the traceback is not swallowed
        main(["validate", "--json"])
    payload = _one_object(capsys.readouterr().out)
    assert payload["exit_code"] == 1
    assert payload["error"].startswith("internal error (RuntimeError)")
