"""A new process polls an ESP's background work once, timed by what earlier runs learned.

Over real loopback HTTP against the emulators: a run learns how long the account's
Mailchimp batch / Klaviyo import job took, the state store keeps it, and the next run —
with nothing learned in its process (``reset_processing_times``) — sends its first poll
after the work is done: one poll, where the cautious default (0.25 s) needs more. Asserted
on calls, not on timings.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from connector.emulator import EmulatorOptions, run_emulator
from connector.esp.processing_times import reset_processing_times
from connector.reconcile.runner import SyncOptions, run_sync
from connector.reconcile.state import StateStore
from connector.settings import Settings, load_settings
from tests.conftest import make_store, point_at_emulator, write_config

AS_OF = datetime(2026, 11, 23, 12)
AUDIENCE = "demo-audience"
N = 20
DELAY = 0.4  # each batch/job: more than the default first wait, less than its doubling
SEGMENT = """\
    name: buyers
    rule: {{event: order_completed, within: 30d}}
    destinations: [{{to: dest, mode: {mode}}}]
    """
DESTINATIONS = {
    "mailchimp": f"dest: {{esp: mailchimp, audience: {AUDIENCE}, fields: {{region: STATE}}}}\n",
    "klaviyo": "dest: {esp: klaviyo}\n",
}
POLL = {
    "mailchimp": ("GET", "/3.0/batches/{batch_id}"),
    "klaviyo": ("GET", "/api/profile-bulk-import-jobs/{job_id}"),
}


def profiles(first: int, count: int) -> list[tuple[object, ...]]:
    return [
        (f"p{i:03d}", f"u{i}@example.com", True, "CA", 30, 1.0, False, AS_OF, None, None)
        for i in range(first, first + count)
    ]


def events(first: int, count: int) -> list[tuple[object, ...]]:
    when = AS_OF - timedelta(days=1)
    return [
        (f"p{i:03d}", "order_completed", when, None, None, None)
        for i in range(first, first + count)
    ]


@pytest.fixture(params=["mailchimp", "klaviyo"])
def world(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Settings, object, Path]]:
    esp = str(request.param)
    store = tmp_path / "customers.duckdb"
    make_store(profiles(0, 3 * N), events(0, N), path=store).close()
    mode = "tag" if esp == "mailchimp" else "list"
    segments = {"buyers": SEGMENT.format(mode=mode)}
    write_config(tmp_path / "config", segments, destinations=DESTINATIONS[esp])
    options = EmulatorOptions(audiences=(AUDIENCE,), merge_fields=("STATE",), import_delay_s=DELAY)
    with run_emulator(esp, options) as emu:
        point_at_emulator(monkeypatch, emu, tmp_path)
        settings = load_settings(
            config_dir=tmp_path / "config",
            source_url=f"duckdb:///{store}",
            state_path=tmp_path / "state.db",
        )
        yield esp, settings, emu, store


def change(esp: str, store: Path, run: int) -> None:
    """Mailchimp: the members withdraw consent and move (their fields go in one POST
    /batches); Klaviyo: N new buyers join (one bulk import job)."""
    con = duckdb.connect(str(store))
    if esp == "mailchimp":
        con.execute("UPDATE profiles SET email_consent = FALSE, region = ?", [f"R{run}"])
    else:
        con.execute("DELETE FROM events")
        for row in events(0, N * (run + 1)):
            con.execute("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", row)
    con.close()


def polls(emu: object) -> int:
    return int(emu.calls.total(*POLL[emu.esp]))  # type: ignore[attr-defined]


def test_a_new_process_polls_once_at_the_time_earlier_runs_learned(
    world: tuple[str, Settings, object, Path],
) -> None:
    """Three runs, each as a new process (the first sync, then two changes): the first
    that waits for background work (Klaviyo: the first sync's import; Mailchimp: the first
    change's batch) polls too early by default; each later one polls once."""
    esp, settings, emu, store = world
    counts = []
    for run in range(3):
        if run:
            change(esp, store, run)
        reset_processing_times()  # a new process: only the state store remembers
        before = polls(emu)
        assert run_sync(settings, options=SyncOptions(as_of=AS_OF)).status == "ok"
        counts.append(polls(emu) - before)
    first, *later = [count for count in counts if count]
    assert first >= 2  # the cautious first poll (0.25 s) came before the work was done
    assert later and later == [1] * len(later)  # sent after the work was done
    state = StateStore(settings.state_path)
    kept = state.processing_times("dest")
    state.close()
    assert len(kept) == len(later) + 1
    assert all(t.seconds >= DELAY for t in kept)  # never less than the work took
    assert emu.state.contract_violations == []  # type: ignore[attr-defined]
