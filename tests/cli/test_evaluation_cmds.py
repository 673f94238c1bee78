"""validate, preview, explain and audit through the real CLI on a DuckDB file store."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from connector.evaluate.identity import is_held_out
from tests.cli.conftest import CliRunner
from tests.conftest import make_store, write_config

AS_OF = "2026-11-23T00:00:00Z"
PROFILES = [
    ("p2", " B@X.com", False, "ca", 41, 5.0, False, datetime(2026, 11, 1), 37.7, -122.4),
    ("p1", "a@x.com", True, "CA", 30, 10.0, True, datetime(2025, 1, 1), 40.0, -70.0),
    ("p3", "not-an-email", True, "NY", None, None, None, None, None, None),
    ("p4", "d@x.com", True, "TX", 52, 1.0, False, datetime(2024, 1, 1), None, None),
]
EVENTS = [
    ("p1", "order_completed", datetime(2026, 11, 20), "electronics", 100.0, None),
    ("p1", "order_completed", datetime(2026, 11, 21), "Electronics", 50.0, None),
    ("p2", "order_completed", datetime(2026, 11, 22), "books", 10.0, None),
    ("p2", "added_to_cart", datetime(2026, 11, 22, 12), "books", 10.0, None),
]
SEGMENTS = {
    "buyers": """\
        name: buyers
        description: anyone who bought in the last 30 days
        rule: {event: order_completed, within: 30d}
        """,
    "big-ca": """\
        name: big-ca
        holdout: 50
        rule:
          all:
            - {attribute: region, op: eq, value: ca}
            - {metric: spend, gte: 100}
        """,
    "everyone": """\
        name: everyone
        exclusive_group: promo
        priority: 1
        rule: {attribute: profile_id, op: exists}
        """,
    "vip-first": """\
        name: vip-first
        exclusive_group: promo
        priority: 5
        min_size: 10
        rule: {in_segment: buyers}
        """,
}
METRICS = "spend: {event: order_completed, aggregate: sum, property: amount}\n"


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    store = make_store(PROFILES, EVENTS, path=tmp_path / "customers.duckdb")
    store.close()
    write_config(tmp_path / "config", SEGMENTS, metrics=METRICS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEGSYNC_SOURCE_URL", f"duckdb:///{tmp_path / 'customers.duckdb'}")
    monkeypatch.setenv("SEGSYNC_SECRETS_DIR", str(tmp_path / "secrets"))
    return tmp_path


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_validate_ok(workspace: Path, run_cli: CliRunner) -> None:
    code, out, _ = run_cli(["validate"])
    assert code == 0
    assert "ok: 4 segments, 1 metrics, 0 destinations valid (against the customer store)" in out


def test_validate_says_which_segments_keep_runs_from_the_verdict_snapshot(
    workspace: Path, run_cli: CliRunner
) -> None:
    code, out, _ = run_cli(["validate"])
    assert code == 0
    head = "verdict snapshot (later runs evaluate only the profiles that can change):"
    assert f"{head} every local segment" in out
    metrics = workspace / "config/metrics.yaml"
    metrics.write_text(
        metrics.read_text() + "recency: {event: order_completed, aggregate: days_since_last}\n"
    )
    (workspace / "config/segments/recent.yaml").write_text(
        "name: recent\nrule: {metric: recency, bottom_percent: 10}\n"
    )
    code, out, _ = run_cli(["validate"])
    assert code == 0
    assert f"{head} runs with these segments evaluate every profile" in out
    assert "  recent: a percent rank of days_since_last (recency)" in out
    code, out, _ = run_cli(["validate", "--json"])
    by_name = {s["name"]: s for s in json.loads(out)["segments"]}
    assert by_name["buyers"]["snapshot"] is True and by_name["buyers"]["full_reason"] is None
    assert by_name["recent"]["snapshot"] is False
    assert "days_since_last" in by_name["recent"]["full_reason"]


def test_validate_reports_located_errors_with_exit_1(workspace: Path, run_cli: CliRunner) -> None:
    (workspace / "config/segments/buyers.yaml").write_text(
        "name: buyers\nrule: {attribute: regoin, op: eq, value: CA}\n"
    )
    code, out, err = run_cli(["validate"])
    assert code == 1
    assert "config/segments/buyers.yaml line 2: rule.attribute: unknown attribute 'regoin'" in err
    assert "did you mean 'region'?" in err
    assert "Traceback" not in err + out


def test_validate_offline_skips_the_store(workspace: Path, run_cli: CliRunner) -> None:
    code, out, _ = run_cli(["--config", "config", "validate", "--offline", "--json"])
    assert code == 0
    payload = json.loads(out)
    assert payload["ok"] is True and payload["store_checked"] is False
    assert [s["name"] for s in payload["segments"]] == ["big-ca", "buyers", "everyone", "vip-first"]


def test_preview_csv_sorted_with_normalised_emails(workspace: Path, run_cli: CliRunner) -> None:
    code, out, err = run_cli(["preview", "buyers", "--as-of", AS_OF])
    assert code == 0
    assert read_csv(out) == [
        {"profile_id": "p1", "email": "a@x.com", "holdout": "false"},
        {"profile_id": "p2", "email": "b@x.com", "holdout": "false"},
    ]
    assert "buyers as of 2026-11-23T00:00:00Z: 2 members" in err


def test_preview_to_file_with_holdout(workspace: Path, run_cli: CliRunner) -> None:
    code, _, _ = run_cli(["preview", "big-ca", "--as-of", AS_OF, "--output", "out/big.csv"])
    assert code == 0
    rows = read_csv((workspace / "out/big.csv").read_text())
    assert [r["profile_id"] for r in rows] == ["p1"]  # p2 spent only 10
    assert rows[0]["holdout"] == str(is_held_out("big-ca", "p1", 50)).lower()


def test_preview_exclusive_group_and_min_size(workspace: Path, run_cli: CliRunner) -> None:
    code, out, err = run_cli(["preview", "everyone", "--as-of", AS_OF])
    assert code == 0
    # p1 and p2 bought recently, so they belong to the higher-priority vip-first
    assert [r["profile_id"] for r in read_csv(out)] == ["p3", "p4"]
    assert "2 qualifying profiles belong to a higher-priority segment" in err
    code, _, err = run_cli(["preview", "vip-first", "--as-of", AS_OF])
    assert "warning: below min_size 10" in err


def test_preview_bad_inputs(workspace: Path, run_cli: CliRunner) -> None:
    code, _, err = run_cli(["preview", "buyer"])
    assert (code, err.strip()) == (1, "error: unknown segment 'buyer' — did you mean 'buyers'?")
    code, _, err = run_cli(["preview", "buyers", "--as-of", "yesterday"])
    assert code == 1 and "--as-of: invalid date or instant 'yesterday'" in err


def test_missing_store_exit_1(
    workspace: Path, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEGSYNC_SOURCE_URL", "duckdb:///missing.duckdb")
    code, _, err = run_cli(["preview", "buyers"])
    assert code == 1 and "customer store 'missing.duckdb' not found" in err
    assert not (workspace / "missing.duckdb").exists()


def test_explain_shows_each_condition(workspace: Path, run_cli: CliRunner) -> None:
    code, out, _ = run_cli(["explain", "big-ca", "p2", "--as-of", AS_OF])
    assert code == 0
    assert "big-ca for profile p2 as of 2026-11-23T00:00:00Z: OUT (the rule does not hold)" in out
    assert "yes region eq 'ca'  = 'ca'" in out
    assert "no  metric spend >= 100  = 10" in out


def test_explain_json_and_exclusive_group(workspace: Path, run_cli: CliRunner) -> None:
    code, out, _ = run_cli(["explain", "everyone", "p1", "--as-of", AS_OF, "--json"])
    assert code == 0
    payload = json.loads(out)
    assert payload["qualifies"] is True and payload["member"] is False
    assert payload["excluded_by"] == "vip-first"


def test_explain_unknown_profile(workspace: Path, run_cli: CliRunner) -> None:
    code, _, err = run_cli(["explain", "buyers", "p404"])
    assert code == 1 and "profile 'p404' not found" in err


def test_audit(workspace: Path, run_cli: CliRunner) -> None:
    code, out, _ = run_cli(["audit", "--as-of", AS_OF, "--json"])
    assert code == 0
    payload = json.loads(out)
    stats = {s["name"]: s for s in payload["segments"]}
    assert stats["everyone"]["members"] == 2 and stats["everyone"]["no_valid_email"] == 1
    assert stats["vip-first"]["below_min_size"] is True
    assert payload["covered"] == 4 and payload["profiles"] == 4
    pairs = {(o["first"], o["second"]): o["shared"] for o in payload["overlaps"]}
    assert pairs[("buyers", "vip-first")] == 2


def test_schema_command_is_json_schema(run_cli: CliRunner, tmp_path: Path) -> None:
    code, out, _ = run_cli(["schema"])
    assert code == 0
    schema = json.loads(out)
    assert schema["title"] == "segsync segment"
    assert "rule" in schema["required"] and "holdout" in schema["properties"]


def test_python_dash_m(workspace: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "connector", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.startswith("segsync ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["audit", "--top", "x"], "Invalid value for '--top'"),
        (["nosuch"], "No such command 'nosuch'"),
        (["preview"], "Missing argument"),
    ],
)
def test_usage_errors_are_one_message_and_exit_1(
    run_cli: CliRunner, args: list[str], message: str
) -> None:
    code, out, err = run_cli(args)
    assert code == 1
    assert message in err
    assert "Traceback" not in out + err
