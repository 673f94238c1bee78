"""``segsync load`` through the real CLI: output, exit codes, nothing written on errors."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from connector.definitions.loader import load_definitions
from connector.esp.registry import destination_models
from connector.reconcile.runner import prepare
from connector.settings import Settings
from connector.source import open_store, verdicts
from tests.cli.conftest import CliRunner
from tests.conftest import write_config


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEGSYNC_SOURCE_URL", "duckdb:///data/customers.duckdb")
    monkeypatch.setenv("SEGSYNC_SECRETS_DIR", str(tmp_path / "secrets"))
    (tmp_path / "p.csv").write_text(
        "profile_id,email,email_consent,age\nc1,a@x.com,true,30\nc2,b@x.com,false,41\n"
    )
    (tmp_path / "e.csv").write_text(
        "profile_id,event,ts\nc1,order_completed,2026-01-01T10:00:00Z\n"
        "c2,page_view,2026-01-02 00:00:00+01:00\n"
    )
    return tmp_path


def test_load_profiles_then_events(workspace: Path, run_cli: CliRunner) -> None:
    code, out, err = run_cli(["load", "profiles", "p.csv"])
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "loaded 2 rows into profiles (new table) in duckdb:///data/customers.duckdb"
    assert lines[1:] == [
        "# profiles columns",
        "column\ttype",
        "profile_id\tVARCHAR",
        "email\tVARCHAR",
        "email_consent\tBOOLEAN",
        "age\tBIGINT",
    ]
    code, out, _ = run_cli(["load", "events", "e.csv"])
    assert code == 0
    assert "loaded 2 rows into events (new table)" in out
    assert "ts\tTIMESTAMP" in out
    assert (workspace / "data" / "customers.duckdb").exists()


def test_append_and_replace(workspace: Path, run_cli: CliRunner) -> None:
    assert run_cli(["load", "profiles", "p.csv"])[0] == 0
    (workspace / "q.csv").write_text("profile_id,email,email_consent\nc3,c@x.com,1\n")
    code, out, _ = run_cli(["load", "profiles", "q.csv", "--append"])
    assert code == 0
    assert out.startswith("appended 1 rows to profiles: 2 rows before, 3 after in duckdb:///")
    code, out, _ = run_cli(["load", "profiles", "q.csv", "--replace"])
    assert code == 0
    assert out.startswith("replaced profiles: 3 rows before, 1 after in duckdb:///")


def test_a_table_with_rows_is_not_replaced_by_accident(workspace: Path, run_cli: CliRunner) -> None:
    (workspace / "big.csv").write_text(
        "profile_id,email,email_consent\n" + "".join(f"c{i},m{i}@x.com,1\n" for i in range(500))
    )
    assert run_cli(["load", "profiles", "big.csv"])[0] == 0
    code, out, err = run_cli(["load", "profiles", "p.csv"])
    assert (code, out) == (1, "")
    assert "'profiles' table already holds 500 rows and this file has 2" in err
    assert "--replace" in err and "--append" in err
    code, out, _ = run_cli(["load", "profiles", "p.csv", "--replace", "--dry-run"])
    assert code == 0
    assert out.startswith(
        "dry run, nothing written: would replace profiles: 500 rows before, 2 after in duckdb:///"
    )
    code, out, _ = run_cli(["load", "profiles", "big.csv", "--append", "--dry-run"])
    assert code == 1  # the ids are already there: the store's checks run in a dry run too
    code, out, _ = run_cli(["load", "profiles", "--json", "p.csv"])
    assert code == 1 and "already holds 500 rows" in json.loads(out)["problems"][0]["message"]
    code, out, _ = run_cli(["load", "profiles", "--json", "p.csv", "--replace", "--dry-run"])
    assert code == 0
    assert {k: json.loads(out)[k] for k in ("rows_before", "total_rows", "dry_run")} == {
        "rows_before": 500,
        "total_rows": 2,
        "dry_run": True,
    }
    code, out, _ = run_cli(["load", "profiles", "p.csv", "--append", "--replace"])
    assert code == 1
    con = duckdb.connect(str(workspace / "data" / "customers.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM profiles").fetchone() == (500,)
    con.close()


def test_missing_consent_is_a_warning(workspace: Path, run_cli: CliRunner) -> None:
    (workspace / "p.csv").write_text("profile_id,email\nc1,a@x.com\n")
    code, _, err = run_cli(["load", "profiles", "p.csv"])
    assert code == 0
    assert err.startswith("warning: p.csv: no 'email_consent' column, so nobody has email consent")


def test_bad_input_exits_1_with_one_located_message(workspace: Path, run_cli: CliRunner) -> None:
    (workspace / "p.csv").write_text("id,email,region\n1,a@x.com,CA\n")
    code, out, err = run_cli(["load", "profiles", "p.csv"])
    assert code == 1
    assert out == ""
    assert err == "error: p.csv: missing column 'profile_id' (columns found: id, email, region)\n"
    assert not (workspace / "data").exists()


def test_a_bad_row_after_a_good_load_changes_nothing(workspace: Path, run_cli: CliRunner) -> None:
    assert run_cli(["load", "events", "e.csv"])[0] == 0
    store = workspace / "data" / "customers.duckdb"
    before = store.read_bytes()
    (workspace / "bad.csv").write_text("profile_id,event,ts\nc1,x,2026-01-01\nc2,x,soon\n")
    code, _, err = run_cli(["load", "events", "bad.csv", "--append"])
    assert code == 1
    assert err.startswith("error: bad.csv: row 2: ts 'soon' is not a timestamp")
    assert "Traceback" not in err
    assert store.read_bytes() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["load", "profiles", "missing.csv"], "error: missing.csv: file not found"),
        (
            ["load", "customers", "p.csv"],
            "error: cannot load into 'customers': use `segsync load profiles FILE` or "
            "`segsync load events FILE`",
        ),
    ],
)
def test_usage_errors(workspace: Path, run_cli: CliRunner, args: list[str], message: str) -> None:
    code, _, err = run_cli(args)
    assert code == 1
    assert message in err


def test_an_unreachable_postgres_store_is_exit_2(
    workspace: Path, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEGSYNC_SOURCE_URL", "postgresql://me:secret@127.0.0.1:1/shop")
    code, out, err = run_cli(["load", "profiles", "p.csv"])
    assert (code, out) == (2, "")
    assert err.startswith(
        "error: cannot connect to the customer store postgresql://me@127.0.0.1:1/shop"
    )
    assert "secret" not in err and "Traceback" not in err


@pytest.mark.parametrize("command", [["load", "profiles", "p.csv"], ["preview", "vip"]])
@pytest.mark.parametrize("url", ["mysql://u:secret@h/db", "foo://bar"])
def test_an_unknown_store_scheme_names_the_supported_ones(
    workspace: Path,
    run_cli: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
    url: str,
) -> None:
    write_config(
        workspace / "config", {"vip": "name: vip\nrule: {event: order_completed, within: 30d}\n"}
    )
    monkeypatch.setenv("SEGSYNC_SOURCE_URL", url)
    code, out, err = run_cli(command)
    assert (code, out) == (1, "")
    assert "unsupported store" in err
    for scheme in ("duckdb://", "postgresql://", "spark://", "sc://"):
        assert scheme in err
    assert "Traceback" not in err and "secret" not in err


def test_loading_events_keeps_the_verdict_snapshot_later_runs_start_from(
    workspace: Path, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``load events`` builds the rollup and, for the segments with destinations, the
    verdict snapshot (with the fields the destinations map); a later sync (read-only
    store) evaluates from it, the mapped field and consent included."""
    write_config(
        workspace / "config",
        {
            "buyers": "name: buyers\nrule: {event: order_completed, within: 30d}\n"
            "destinations: [{to: mc, mode: tag}]\n"
        },
        destinations="mc: {esp: mailchimp, audience: demo-audience, fields: {age: AGE}}\n",
    )
    monkeypatch.setenv("SEGSYNC_CONFIG_DIR", str(workspace / "config"))
    assert run_cli(["load", "profiles", "p.csv"])[0] == 0
    code, out, _ = run_cli(["load", "events", "e.csv"])
    assert code == 0
    kept = "verdict snapshot kept: later runs evaluate only the profiles that can change"
    assert f"rollups rebuilt as of 2026-01-01T23:00:00Z; {kept}" in out
    (workspace / "more.csv").write_text("profile_id,event,ts\nc2,order_completed,2026-01-03\n")
    code, out, _ = run_cli(["load", "events", "more.csv", "--append"])
    assert code == 0 and f"rollups advanced as of 2026-01-03T00:00:00Z; {kept}" in out
    settings = Settings()
    defs = load_definitions(workspace / "config", destination_models())
    later = prepare(settings, defs, names=None, as_of=datetime(2026, 1, 10))
    assert later.evaluation.mode == "snapshot"
    members = later.evaluation.profile_ids[later.evaluation.members["buyers"]]
    assert sorted(members.tolist()) == ["c1", "c2"]
    with open_store(settings.source_url) as store:
        meta = verdicts.read(store)
    assert meta is not None and list(meta.attributes) == ["age"]
    rows = later.evaluation
    assert dict(zip(rows.profile_ids.tolist(), rows.attributes["age"].tolist(), strict=True)) == {
        "c1": 30,
        "c2": 41,
    }
    assert rows.consent.tolist() == [True, False]
