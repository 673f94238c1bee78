"""``segsync demo`` through the real CLI, at a reduced scale."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.cli.conftest import CliRunner

AS_OF = "2026-11-23T08:00:00Z"
DEMO = ["demo", "--profiles", "2000", "--as-of", AS_OF]


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEGSYNC_SOURCE_URL", "duckdb:///data/customers.duckdb")
    monkeypatch.setenv("SEGSYNC_CONFIG_DIR", str(tmp_path / "conf"))
    monkeypatch.setenv("SEGSYNC_SECRETS_DIR", str(tmp_path / "secrets"))
    return tmp_path


def table_rows(out: str) -> dict[str, tuple[int, int]]:
    """The summary table (plain lines when not on a terminal): segment -> (members, held)."""
    lines = out.splitlines()
    start = lines.index("segment\tmembers\theld out") + 1
    result = {}
    for line in lines[start:]:
        parts = line.split("\t")
        if len(parts) != 3:
            break
        result[parts[0]] = (int(parts[1]), int(parts[2]))
    return result


def test_demo_builds_the_store_writes_config_and_summarises(
    workspace: Path, run_cli: CliRunner
) -> None:
    code, out, err = run_cli(DEMO)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("built duckdb:///data/customers.duckdb: 2,000 profiles, ")
    assert lines[0].endswith(f"events (seed 7, as of {AS_OF})")
    assert lines[1] == (
        f"config: wrote 12 files into {workspace / 'conf'} "
        f"(JSON Schemas for editors in {workspace / 'conf' / 'schemas'})"
    )
    sizes = table_rows(out)
    assert set(sizes) == {
        "abandoned-cart-24h", "churn-risk", "expats", "lapsed-high-aov", "near-store",
        "new-no-purchase", "top-frequency-10", "vip-electronics-ca", "vip-new-york",
    }  # fmt: skip
    assert all(members > 0 for members, _ in sizes.values())
    assert sizes["lapsed-high-aov"][1] > 0  # a 20 % holdout
    assert "evaluated by the ESP only (esp conditions): engaged-no-order-90d" in out
    assert (workspace / "data" / "customers.duckdb").is_file()
    assert (workspace / "conf" / "segments" / "vip-electronics-ca.yaml").is_file()
    # the store and the config work with the other commands right away
    code, out, _ = run_cli(["validate"])
    assert code == 0 and "ok: 10 segments, 7 metrics, 2 destinations valid" in out
    assert "features read from events ([rollup]: kept incrementally in the store):" in out
    assert "  churn-risk: count of order_completed, 365d [rollup]" in out
    # the demo's traits (a days_since_last value among them) are kept in the snapshot too
    head = "verdict snapshot (later runs evaluate only the profiles that can change):"
    assert f"{head} every local segment" in out
    code, out, _ = run_cli(["preview", "abandoned-cart-24h", "--as-of", AS_OF])
    assert code == 0 and len(out.splitlines()) - 1 == sizes["abandoned-cart-24h"][0]


def test_rerun_is_identical_and_keeps_the_users_files(workspace: Path, run_cli: CliRunner) -> None:
    assert run_cli(DEMO)[0] == 0
    digest = _digest(workspace)
    mine = workspace / "conf" / "segments" / "expats.yaml"
    mine.write_text(mine.read_text().replace("gte: 3", "gte: 4"))
    code, out, _ = run_cli(DEMO)
    assert code == 0
    assert out.splitlines()[1].startswith(
        f"config: wrote 0 files into {workspace / 'conf'}; kept 12 existing (JSON Schemas"
    )
    assert "gte: 4" in mine.read_text()
    assert _digest(workspace) == digest


def test_default_as_of_makes_recent_segments_non_empty(workspace: Path, run_cli: CliRunner) -> None:
    code, out, _ = run_cli(["demo", "--profiles", "2000"])
    assert code == 0
    (floored,) = [line for line in out.splitlines() if line.startswith("as_of is now floored")]
    when = floored.split("(", 1)[1].split(")", 1)[0]
    assert when.endswith(":00:00Z") and f"pass --as-of {when} to see exactly these" in floored
    (hint,) = [line for line in out.splitlines() if line.startswith("next: ")]
    assert f"preview abandoned-cart-24h --as-of {when}" in hint
    assert table_rows(out)["abandoned-cart-24h"][0] > 0
    code, out, _ = run_cli(["preview", "abandoned-cart-24h"])
    assert code == 0 and len(out.splitlines()) > 1


def test_a_store_holding_other_data_is_not_replaced(workspace: Path, run_cli: CliRunner) -> None:
    (workspace / "data").mkdir()
    con = duckdb.connect(str(workspace / "data" / "customers.duckdb"))
    con.execute("CREATE TABLE orders AS SELECT 1 AS id")
    con.close()
    code, out, err = run_cli(DEMO)
    assert code == 1 and out == ""
    assert err.startswith("error: SEGSYNC_SOURCE_URL: 'data/customers.duckdb' holds data that ")
    assert not (workspace / "conf").exists()
    assert run_cli([*DEMO, "--force"])[0] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["demo", "--profiles", "0"], "error: --profiles: the demo needs at least one profile"),
        (["demo", "--as-of", "yesterday"], "error: --as-of: invalid date or instant 'yesterday'"),
    ],
)
def test_bad_options(workspace: Path, run_cli: CliRunner, args: list[str], message: str) -> None:
    code, _, err = run_cli(args)
    assert code == 1
    assert err.startswith(message)
    assert not (workspace / "data").exists()


def test_an_unreachable_postgres_store_is_exit_2(
    workspace: Path, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEGSYNC_SOURCE_URL", "postgresql://me:secret@127.0.0.1:1/shop")
    code, _, err = run_cli(DEMO)
    assert code == 2
    assert "cannot connect to the customer store postgresql://me@127.0.0.1:1/shop" in err
    assert "secret" not in err and not (workspace / "data").exists()


def _digest(workspace: Path) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(workspace / "data" / "customers.duckdb"), read_only=True)
    try:
        return con.execute(
            "SELECT count(*), sum(hash(profile_id, event, ts, category, amount)) FROM events"
        ).fetchall()
    finally:
        con.close()


def test_demo_with_an_explicit_as_of_does_not_mention_flooring(
    workspace: Path, run_cli: CliRunner
) -> None:
    code, out, _ = run_cli([*DEMO, "--no-sync"])
    assert code == 0 and "floored" not in out
    assert f"plan --as-of {AS_OF}" in out.splitlines()[-1]
