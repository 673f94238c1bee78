"""Per-member refusals are quarantined (exit 4), retried up to the limit, then held back;
static segments keep the membership of their first sync."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from connector.emulator import EmulatorOptions, run_emulator
from connector.reconcile.runner import SyncOptions, run_sync
from connector.reconcile.state import StateStore
from connector.settings import Settings, load_settings
from tests.conftest import make_store, point_at_emulator, write_config

AS_OF = datetime(2026, 11, 23, 12)
AUDIENCE = "demo-audience"


def profile(i: int, zip_code: str) -> tuple[object, ...]:
    return (f"p{i:02d}", f"q{i}@example.com", True, zip_code, 30, 1.0, False, AS_OF, None, None)


def order(i: int) -> tuple[object, ...]:
    return (f"p{i:02d}", "order_completed", AS_OF - timedelta(days=1), "tv", 1.0, None)


@pytest.fixture
def quarantine_world(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Settings, object]]:
    # five profiles carry a zip code Mailchimp's number merge field refuses
    people = [profile(i, "CA" if i < 5 else "94107") for i in range(20)]
    make_store(people, [order(i) for i in range(20)], path=tmp_path / "c.duckdb").close()
    write_config(
        tmp_path / "config",
        {
            "buyers": "name: buyers\nrule: {event: order_completed, within: 7d}\n"
            "destinations: [{to: mc, mode: tag}]\n"
        },
        destinations=f"mc: {{esp: mailchimp, audience: {AUDIENCE}, fields: {{region: ZIPNUM}}}}\n",
    )
    with run_emulator("mailchimp", EmulatorOptions()) as emu:
        emu.state.add_merge_field(AUDIENCE, "ZIPNUM", type="number")
        point_at_emulator(monkeypatch, emu, tmp_path)
        yield (
            load_settings(
                config_dir=tmp_path / "config",
                source_url=f"duckdb:///{tmp_path / 'c.duckdb'}",
                state_path=tmp_path / "s.db",
            ),
            emu,
        )


def test_refused_members_are_quarantined_retried_then_held_back(
    quarantine_world: tuple[Settings, object],
) -> None:
    settings, emu = quarantine_world
    first = run_sync(settings, options=SyncOptions(as_of=AS_OF))
    assert (first.status, first.exit_code) == ("quarantined", 4)
    assert emu.state.tag_members(AUDIENCE, "segsync:buyers") == {  # type: ignore[attr-defined]
        f"q{i}@example.com" for i in range(5, 20)
    }
    (part,) = first.parts
    assert (part.adds, part.quarantined) == (15, 5)
    state = StateStore(settings.state_path)
    records = state.quarantined()
    state.close()
    assert sorted(r.email for r in records) == [f"q{i}@example.com" for i in range(5)]
    assert all("merge fields" in r.reason.lower() and r.attempts == 1 for r in records)
    for attempt in range(2, 6):  # retried on later runs, up to the limit (5)
        again = run_sync(settings, options=SyncOptions(as_of=AS_OF))
        assert again.exit_code == 4 and again.parts[0].quarantined == 5, attempt
    calls = emu.calls.total()  # type: ignore[attr-defined]
    held = run_sync(settings, options=SyncOptions(as_of=AS_OF))
    assert (held.exit_code, held.parts[0].held_back, held.parts[0].quarantined) == (4, 5, 0)
    # held back: no more attempts (the one call is the key check)
    assert emu.calls.total() == calls + 1  # type: ignore[attr-defined]


def test_static_segment_keeps_its_first_membership(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_path = tmp_path / "c.duckdb"
    make_store(
        [profile(i, "94107") for i in range(10)], [order(i) for i in range(6)], path=store_path
    ).close()
    write_config(
        tmp_path / "config",
        {
            "launch-list": "name: launch-list\ntype: static\nrule: {event: order_completed}\n"
            "destinations: [{to: mc, mode: tag}]\n"
        },
        destinations=f"mc: {{esp: mailchimp, audience: {AUDIENCE}}}\n",
    )
    with run_emulator("mailchimp", EmulatorOptions()) as emu:
        point_at_emulator(monkeypatch, emu, tmp_path)
        settings = load_settings(
            config_dir=tmp_path / "config",
            source_url=f"duckdb:///{store_path}",
            state_path=tmp_path / "s.db",
        )
        assert run_sync(settings, options=SyncOptions(as_of=AS_OF)).status == "ok"
        frozen = {f"q{i}@example.com" for i in range(6)}
        assert emu.state.tag_members(AUDIENCE, "segsync:launch-list") == frozen
        con = duckdb.connect(str(store_path))
        con.execute("DELETE FROM events WHERE profile_id < 'p03'")
        con.execute(
            "INSERT INTO events VALUES "
            "('p09', 'order_completed', TIMESTAMP '2026-11-22 00:00:00', 'tv', 1, NULL)"
        )
        con.close()
        later = run_sync(settings, options=SyncOptions(as_of=AS_OF))
        assert later.status == "ok" and later.total_api_calls == 1  # the key check
        assert emu.state.tag_members(AUDIENCE, "segsync:launch-list") == frozen
        # someone removes a member by hand: a full resync re-pushes the frozen membership
        emu.state.tag(AUDIENCE, "segsync:launch-list")
        with emu.state.lock:
            audience = emu.state.audience(AUDIENCE)
            tag = audience.find_segment_by_name("segsync:launch-list")
            tag.members.pop(audience.find_member("q0@example.com").id)
        repaired = run_sync(settings, options=SyncOptions(as_of=AS_OF, full_resync=True))
        assert repaired.status == "ok"
        assert emu.state.tag_members(AUDIENCE, "segsync:launch-list") == frozen
