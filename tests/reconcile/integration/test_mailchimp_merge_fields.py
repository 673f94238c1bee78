"""Merge fields against the Mailchimp emulator, over real HTTP through the SDK: a sync reads
no merge-field list, yet a merge field the audience no longer has stops the run with one
clear error and nothing recorded as pushed, whichever way Mailchimp treats an unknown tag
(refused or dropped: ``unknown_merge_fields``) and whichever way the values went (batch
subscribe, one ``POST /batches`` of PATCHes, single PATCHes)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from connector.emulator import EmulatorOptions, run_emulator
from connector.reconcile.runner import SyncOptions, run_sync
from connector.reconcile.state import StateStore
from connector.settings import Settings, load_settings
from tests.conftest import make_store, point_at_emulator, write_config

AS_OF = datetime(2026, 11, 23, 12)
AUDIENCE = "demo-audience"
MERGE_FIELDS = "/3.0/lists/{list_id}/merge-fields"
SEGMENT = {
    "buyers": "name: buyers\nrule: {event: order_completed, within: 30d}\n"
    "destinations: [{to: mc, mode: tag}]\n"
}
#: per path: profiles and who of them has consent (consenting ones go in batch subscribe;
#: the others are PATCHed: from 4 of them in one POST /batches, else one PATCH each)
PATHS = {"upsert": (12, True), "batch": (12, False), "patch": (2, False)}


def email(i: int) -> str:
    return f"u{i}@example.com"


def build(path: Path, count: int, consent: bool) -> None:
    profiles = [
        (f"p{i:03d}", email(i), consent, "CA", 30 + i, 1.0, False, AS_OF, None, None)
        for i in range(count)
    ]
    events = [
        (f"p{i:03d}", "order_completed", AS_OF - timedelta(days=2), None, 1.0, None)
        for i in range(count)
    ]
    make_store(profiles, events, path=path).close()


def older(path: Path, where: str = "true") -> None:
    con = duckdb.connect(str(path))
    con.execute(f"UPDATE profiles SET age = age + 1 WHERE {where}")
    con.close()


def sync(settings: Settings) -> Any:
    return run_sync(settings, options=SyncOptions(as_of=AS_OF))


def hashes(settings: Settings) -> dict[str, str | None]:
    state = StateStore(settings.state_path)
    try:
        return {e: c.fields_hash for e, c in state.contacts("mc").items()}
    finally:
        state.close()


@pytest.fixture
def world(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[tuple[Settings, Any, Path, int]]:
    mode, path = request.param
    count, consent = PATHS[path]
    store = tmp_path / "customers.duckdb"
    build(store, count, consent)
    destinations = f"mc: {{esp: mailchimp, audience: {AUDIENCE}, fields: {{age: AGE}}}}\n"
    write_config(tmp_path / "config", SEGMENT, destinations=destinations)
    options = EmulatorOptions(merge_fields=("AGE",), unknown_merge_fields=mode)
    with run_emulator("mailchimp", options) as emu:
        for i in range(count):  # they are in the audience already (consent or not)
            emu.state.add_member(AUDIENCE, email(i))
        point_at_emulator(monkeypatch, emu, tmp_path)
        settings = load_settings(
            config_dir=tmp_path / "config",
            source_url=f"duckdb:///{store}",
            state_path=tmp_path / "state" / "segsync.db",
        )
        yield settings, emu, store, count


ALL = [(mode, path) for mode in ("error", "ignore") for path in PATHS]


@pytest.mark.parametrize("world", ALL, indirect=True, ids="-".join)
def test_a_deleted_merge_field_stops_the_run_and_nothing_is_recorded_as_pushed(
    world: tuple[Settings, Any, Path, int],
) -> None:
    settings, emu, store, count = world
    assert sync(settings).status == "ok"
    pushed = hashes(settings)
    assert len(pushed) == count and all(pushed.values())
    with emu.state.lock:  # someone deletes the merge field in Mailchimp
        audience = emu.state.audience(AUDIENCE)
        audience.merge_fields = [m for m in audience.merge_fields if m.tag != "AGE"]
    older(store)  # every contact's AGE changes: segsync pushes it again

    summary = sync(settings)
    assert (summary.status, summary.exit_code) == ("failed", 2), summary.errors
    assert "no merge field AGE (from age)" in summary.errors[0]
    assert "member" not in summary.errors[0].lower()  # one error, not one per member
    # the new values were not stored, and the state store still has the old ones as pushed
    assert hashes(settings) == pushed
    # the merge fields were read once, only to name what went wrong
    assert emu.calls.total("GET", MERGE_FIELDS) == 1


@pytest.mark.parametrize("world", [("error", p) for p in PATHS], indirect=True, ids=list(PATHS))
def test_a_sync_that_pushes_fields_reads_no_merge_field(
    world: tuple[Settings, Any, Path, int],
) -> None:
    settings, emu, store, count = world
    assert sync(settings).status == "ok"
    older(store, "profile_id = 'p001'")  # a small change: one contact's AGE
    assert sync(settings).status == "ok"
    assert emu.calls.total("GET", MERGE_FIELDS) == 0
    ages = {i: emu.state.member(AUDIENCE, email(i)).merge_fields.get("AGE") for i in range(count)}
    assert ages == {i: 30 + i + (i == 1) for i in range(count)}
