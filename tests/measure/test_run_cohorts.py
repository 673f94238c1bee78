"""Sync runs record each segment's cohort (size, entered, exited, member and held-out ids)
and ``report --run ID`` measures exactly that cohort, even after the data moved on."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.emulator import EmulatorOptions, run_emulator
from connector.reconcile.idsets import decode_ids, encode_ids
from connector.reconcile.runner import SyncOptions, run_sync
from connector.reconcile.state import StateStore
from connector.settings import load_settings
from tests.cli.conftest import CliRunner
from tests.conftest import make_store, point_at_emulator, write_config

AS_OF = datetime(2026, 11, 23, 12)
N = 400
SEGMENTS = {
    "buyers": """\
        name: buyers
        rule: {event: order_completed, within: 30d}
        holdout: 20
        destinations: [{to: kl, mode: list}]
        """,
}


@given(st.lists(st.integers(-(2**62), 2**62)) | st.lists(st.text(min_size=1).filter(
    lambda s: "\0" not in s)))  # fmt: skip
def test_id_sets_round_trip(ids: list[int] | list[str]) -> None:
    decoded = decode_ids(encode_ids(ids))
    assert decoded.tolist() == sorted(set(ids))


def test_report_run_measures_the_recorded_cohort(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: CliRunner
) -> None:
    store_path = tmp_path / "c.duckdb"
    people = [(f"p{i:04d}", f"k{i}@example.com", True, "CA", 30, 1.0, False, AS_OF, None, None)
              for i in range(N)]  # fmt: skip
    history = [(f"p{i:04d}", "order_completed", AS_OF - timedelta(days=3), "tv", 5.0, None)
               for i in range(0, N, 2)]  # fmt: skip
    later = [(f"p{i:04d}", "order_completed", AS_OF + timedelta(days=2), "tv", 20.0, None)
             for i in range(0, N, 3)]  # fmt: skip
    make_store(people, history + later, path=store_path).close()
    write_config(tmp_path / "config", SEGMENTS, destinations="kl: {esp: klaviyo}\n")
    monkeypatch.setenv("SEGSYNC_SOURCE_URL", f"duckdb:///{store_path}")
    monkeypatch.setenv("SEGSYNC_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("SEGSYNC_STATE_PATH", str(tmp_path / "s.db"))
    with run_emulator("klaviyo", EmulatorOptions(import_delay_s=0.05)) as emu:
        point_at_emulator(monkeypatch, emu, tmp_path)
        settings = load_settings()
        first = run_sync(settings, options=SyncOptions(as_of=AS_OF, run_id="first"))
        assert first.status == "ok", first.errors
        # a new buyer arrives before the second run; one old buyer's order ages out
        con = duckdb.connect(str(store_path))
        con.execute("INSERT INTO events VALUES ('p0001', 'order_completed', ?, 'tv', 1, NULL)",
                    [AS_OF + timedelta(hours=1)])  # fmt: skip
        con.execute("DELETE FROM events WHERE profile_id = 'p0000' AND ts < ?", [AS_OF])
        con.close()
        second = run_sync(
            settings, options=SyncOptions(as_of=AS_OF + timedelta(hours=2), run_id="second")
        )
        assert second.status == "ok", second.errors
    state = StateStore(tmp_path / "s.db")
    try:
        one, two = state.cohort("first", "buyers"), state.cohort("second", "buyers")
        assert one is not None and two is not None
        assert (one.size, one.entered, one.exited) == (N // 2, None, None)
        assert (two.size, two.entered, two.exited) == (N // 2, 1, 1)
        held = decode_ids(one.held_out_ids or b"")
        assert one.held_out == len(held) > 0
        assert len(decode_ids(one.members or b"")) + len(held) == N // 2
        assert [r.run_id for r in state.cohort_history("buyers")] == ["first", "second"]
    finally:
        state.close()

    code, out, err = run_cli(["report", "--run", "first", "--window", "14d", "--json"])
    assert code == 0, err
    by_run = json.loads(out)
    assert by_run["run_id"] == "first" and by_run["as_of"] == "2026-11-23T12:00:00Z"
    code, out, _ = run_cli(["report", "--as-of", "2026-11-23T12:00:00Z", "--json"])
    fresh = json.loads(out)
    # the data changed after the run: a re-evaluation sees p0001 instead of p0000
    (recorded,) = by_run["segments"]
    (now,) = fresh["segments"]
    assert recorded["members"]["n"] + recorded["held_out"]["n"] == N // 2
    assert now["members"]["n"] + now["held_out"]["n"] == N // 2 - 1
    # every third profile bought 20 after AS_OF; p0000 (one of them) is only in the record
    buyers = range(0, N, 2)
    converted = sum(1 for i in buyers if i % 3 == 0)
    total = recorded["members"]["conversion_rate"] * recorded["members"]["n"] + (
        recorded["held_out"]["conversion_rate"] * recorded["held_out"]["n"]
    )
    assert round(total) == converted
    assert np.isclose(recorded["members"]["aov"], 20.0)
    code, _, err = run_cli(["report", "--run", "first", "--as-of", "2026-11-23"])
    assert code == 1 and "--run" in err
