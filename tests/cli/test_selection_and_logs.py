"""Segment selection by glob (sync, plan, preview, explain), shell completion, and the log
level of the one-shot commands (-v, -vv, -q, SEGSYNC_LOG_LEVEL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import shellingham

from connector.cli.context import state
from connector.emulator import EmulatorOptions, run_emulator
from tests.cli.conftest import CliRunner
from tests.conftest import make_store, point_at_emulator, write_config

AS_OF = "2026-11-23T12:00:00Z"
NOW = datetime(2026, 11, 23, 12)


def _segment(name: str, days: int) -> str:
    return (
        f"name: {name}\nrule: {{event: order_completed, within: {days}d}}\n"
        "destinations: [{to: mc, mode: tag}]\n"
    )


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    people = [(f"p{i}", f"m{i}@example.com", True, "CA", 30, 1.0, False, NOW, None, None)
              for i in range(12)]  # fmt: skip
    orders = [(f"p{i}", "order_completed", NOW - timedelta(days=i), "tv", 1.0, None)
              for i in range(12)]  # fmt: skip
    make_store(people, orders, path=tmp_path / "c.duckdb").close()
    write_config(
        tmp_path / "config",
        {
            "vip-a": _segment("vip-a", 3),
            "vip-b": _segment("vip-b", 6),
            "other": _segment("other", 9),
        },
        destinations="mc: {esp: mailchimp, audience: demo-audience}\n",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEGSYNC_SOURCE_URL", f"duckdb:///{tmp_path / 'c.duckdb'}")
    monkeypatch.setenv("SEGSYNC_STATE_PATH", str(tmp_path / "state.db"))
    monkeypatch.setenv("SEGSYNC_RETRY__INITIAL_BACKOFF_SECONDS", "0.01")
    monkeypatch.setenv("SEGSYNC_RETRY__MAX_BACKOFF_SECONDS", "0.02")
    monkeypatch.delenv("SEGSYNC_LOG_LEVEL", raising=False)
    # every 429 is retried with a warning: something for the log level to show or hide
    with run_emulator("mailchimp", EmulatorOptions(fault_rate_429=0.3, seed=3)) as emu:
        point_at_emulator(monkeypatch, emu, tmp_path)
        yield tmp_path


def _synced(out: str) -> set[str]:
    return {part["segment"] for part in json.loads(out)["parts"]}


def test_globs_select_segments(workspace: Path, run_cli: CliRunner) -> None:
    code, out, _ = run_cli(["sync", "vip-*", "--dry-run", "--json", "--as-of", AS_OF])
    assert code == 0 and _synced(out) == {"vip-a", "vip-b"}
    code, out, _ = run_cli(
        ["sync", "*-b", "oth?r", "vip-b", "--dry-run", "--json", "--as-of", AS_OF]
    )
    assert code == 0 and _synced(out) == {"vip-b", "other"}
    code, out, _ = run_cli(["plan", "vip-[a]", "--json", "--as-of", AS_OF])
    assert code == 0 and [s["segment"] for s in json.loads(out)["segments"]] == ["vip-a"]
    code, out, _ = run_cli(["preview", "oth*", "--as-of", AS_OF])
    assert code == 0 and out.count("@example.com") == 10  # 0..9 days ago
    code, out, err = run_cli(["preview", "vip-*"])
    assert code == 1 and "'vip-*' matches 2 segments (vip-a, vip-b)" in err
    code, out, err = run_cli(["sync", "gold-*", "--json"])
    assert code == 1
    assert "no segment matches 'gold-*' (segments: other, vip-a, vip-b)" in err
    assert json.loads(out)["exit_code"] == 1


def _retry_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("WARNING segsync.esp.retry")]


def test_log_level_flags_and_environment(
    workspace: Path, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run_cli(["sync", "vip-a", "--as-of", AS_OF])
    assert code == 0 and _retry_lines(err)  # warnings show by default
    assert "DEBUG" not in err and "@example.com" not in err
    code, _, err = run_cli(["-q", "sync", "--full-resync", "--as-of", AS_OF])
    assert code == 0 and not _retry_lines(err)
    code, _, err = run_cli(["-vv", "sync", "--full-resync", "--as-of", AS_OF])
    assert code == 0 and "DEBUG segsync.esp.http: mailchimp GET /lists/{list_id}" in err
    monkeypatch.setenv("SEGSYNC_LOG_LEVEL", "debug")
    code, _, err = run_cli(["sync", "--full-resync", "--as-of", AS_OF])
    assert code == 0 and "DEBUG segsync.esp.http" in err
    code, _, err = run_cli(["-q", "sync", "--full-resync", "--as-of", AS_OF])
    assert code == 0 and "DEBUG" not in err and not _retry_lines(err)  # the flag wins
    monkeypatch.setenv("SEGSYNC_LOG_LEVEL", "loud")
    code, _, err = run_cli(["sync", "--as-of", AS_OF])
    assert code == 1 and "SEGSYNC_LOG_LEVEL: must be one of debug, info, warning, error" in err
    code, _, err = run_cli(["-v", "-q", "validate"])
    assert code == 1 and "-v and -q exclude each other" in err


def test_shell_completion_knows_commands_and_segments(
    workspace: Path, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    def complete(words: str) -> list[str]:
        monkeypatch.setenv("_SEGSYNC_COMPLETE", "complete_bash")  # what the shell hook sets
        monkeypatch.setenv("COMP_WORDS", words)
        monkeypatch.setenv("COMP_CWORD", str(len(words.split()) - 1))
        code, out, err = run_cli([])
        monkeypatch.delenv("_SEGSYNC_COMPLETE")
        assert code == 0, err
        return out.split()

    assert complete("segsync sy") == ["sync"]
    assert complete("segsync sync vip") == ["vip-a", "vip-b"]
    assert complete("segsync preview o") == ["other"]
    code, out, _ = run_cli(["--help"])
    assert code == 0 and "--install-completion" in out and "--show-completion" in out


def test_completion_ignores_an_earlier_invocations_settings(
    workspace: Path, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Completion runs without the app's callback, which resets the CLI's state: segment
    names come from the settings the environment gives now, not from settings an earlier
    invocation in the same process left behind (another config's segments)."""
    other = workspace / "other-config"
    write_config(other, {"stale": _segment("stale", 3)})
    state.reset()
    state.config_dir = other
    state.settings()  # what an earlier `--config other-config` invocation keeps
    monkeypatch.setenv("_SEGSYNC_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", "segsync sync ")
    monkeypatch.setenv("COMP_CWORD", "2")
    try:
        code, out, err = run_cli([])
    finally:
        state.reset()
    assert code == 0, err
    assert out.split() == ["other", "vip-a", "vip-b"]


def test_install_completion_writes_the_shell_hook(
    tmp_path: Path, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    # typer asks shellingham, which walks the process tree (whatever runs the tests: make's
    # sh, an IDE, a CI runner): the user's shell is bash here, whoever started pytest
    monkeypatch.setattr(shellingham, "detect_shell", lambda: ("bash", "/bin/bash"))
    code, out, _ = run_cli(["--install-completion"])
    assert code == 0 and "bash completion installed" in out
    script = (tmp_path / ".bash_completions" / "segsync.sh").read_text()
    assert "_SEGSYNC_COMPLETE=complete_bash" in script
    assert str(tmp_path / ".bash_completions" / "segsync.sh") in (tmp_path / ".bashrc").read_text()
