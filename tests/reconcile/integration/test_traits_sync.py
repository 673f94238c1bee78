"""Traits end to end: a real DuckDB store → segsync sync → both emulators over real HTTP
through the official SDKs.

Expected values come from ``expected_traits`` (plain Python over the same rows), not from
segsync's pipeline. To prove what a resync sends, every pushed value is overwritten in the
emulator with a sentinel first: a contact segsync does not send keeps the sentinel.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from connector.definitions.loader import load_definitions
from connector.emulator import EmulatorOptions, run_emulator
from connector.esp.registry import destination_models
from connector.pipeline import build_plan
from connector.reconcile.runner import SyncOptions, run_sync
from connector.reconcile.summary import RunSummary
from connector.settings import Settings, load_settings
from tests.conftest import make_store, point_at_emulator, write_config

AS_OF = datetime(2026, 11, 23, 12)
AUDIENCE = "demo-audience"
N = 240
SENTINEL = "untouched"
SEGMENTS = {
    "buyers": """\
        name: buyers
        rule: {event: order_completed, within: 30d}
        destinations: [{to: dest}]
        """,
}
METRICS = """\
    orders_365d: {event: order_completed, aggregate: count, within: 365d}
    days_since_order: {event: order_completed, aggregate: days_since_last}
    """
#: ESP field (Mailchimp tag; Klaviyo property is its lower case) → trait YAML
TRAITS = {
    "FAVCAT": "{top_value: {event: order_completed, property: category, within: 365d}}",
    "CLVBAND": "{bucket: {attribute: clv, edges: [100, 500], labels: [low, mid, high]}}",
    "TIER": "{map: {attribute: region, values: {CA: premium, ' ny ': premium}, default: standard}}",
    "ORDERS": "{metric: orders_365d}",
    "DAYS": "{metric: days_since_order}",
}
CATEGORIES = ("tv", "Phones", "phones ", "books", None)


def email(i: int) -> str:
    # profiles 7k and 7k+1 share an address: the smaller profile id's traits win
    return f"u{i - 1}@example.com" if i % 7 == 1 else f"u{i}@example.com"


def clv(i: int) -> float | None:
    return None if i % 11 == 0 else float((i * 37) % 900)


def region(i: int) -> str | None:
    return (" ca", "NY", "TX", None)[i % 4]


def profiles(clvs: dict[int, float | None] | None = None) -> list[tuple[object, ...]]:
    clvs = clvs or {}
    return [
        (f"p{i:04d}", email(i), True, region(i), 30, clvs.get(i, clv(i)), False, AS_OF, None, None)
        for i in range(N)
    ]


def events() -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for i in range(N):
        for k in range(i % 5):
            days = 2 + k * 40 + (i % 3) * 90  # some orders fall outside 365d
            category = CATEGORIES[(i + k * k) % len(CATEGORIES)]
            rows.append(
                (f"p{i:04d}", "order_completed", AS_OF - timedelta(days=days), category, 5.0, None)
            )
    return rows


def expected_traits(
    people: list[tuple[Any, ...]], evs: list[tuple[Any, ...]]
) -> dict[str, dict[str, Any]]:
    """Per email, the traits of its smallest profile id (NULL values left out)."""
    by_profile: dict[str, list[tuple[Any, ...]]] = {}
    for row in evs:
        by_profile.setdefault(row[0], []).append(row)
    out: dict[str, dict[str, Any]] = {}
    for pid, mail, _, reg, _, value, *_ in sorted(people):
        if mail in out:
            continue
        mine = by_profile.get(pid, [])
        recent = [r for r in mine if AS_OF - timedelta(days=365) <= r[2] <= AS_OF]
        counts = Counter(r[3].strip().lower() for r in recent if r[3] and r[3].strip())
        values: dict[str, Any] = {"ORDERS": len(recent)}
        if counts:
            top = max(counts.values())
            values["FAVCAT"] = min(c for c, n in counts.items() if n == top)
        if value is not None:
            values["CLVBAND"] = "low" if value < 100 else "mid" if value < 500 else "high"
        key = (reg or "").strip().lower()
        values["TIER"] = "premium" if key in ("ca", "ny") else "standard"
        if mine:
            last = max(r[2] for r in mine)
            values["DAYS"] = int((AS_OF - last).total_seconds() // 86400)
        out[mail] = values
    return out


def members() -> set[str]:
    """Emails of the buyers (an order within 30 days)."""
    evs = events()
    pids = {r[0] for r in evs if r[2] >= AS_OF - timedelta(days=30)}
    return {email(int(p[1:])) for p in pids}


@dataclass
class World:
    esp: str
    settings: Settings
    emu: Any
    store_path: Path

    def field(self, name: str) -> str:
        return name if self.esp == "mailchimp" else name.lower()

    def values(self, mail: str) -> dict[str, Any]:
        """The trait fields the ESP holds for a contact (Mailchimp's "" = no value)."""
        if self.esp == "mailchimp":
            member = self.emu.state.member(AUDIENCE, mail)
            found = {k: member.merge_fields.get(k, "") for k in TRAITS}
            return {k: v for k, v in found.items() if v != ""}
        profile = self.emu.state.profile(mail)
        return {k: profile.properties[k.lower()] for k in TRAITS if k.lower() in profile.properties}

    def overwrite(self, mails: set[str]) -> None:
        """Put the sentinel in every trait field of these contacts, behind segsync's back."""
        for mail in mails:
            if self.esp == "mailchimp":
                member = self.emu.state.member(AUDIENCE, mail)
                member.merge_fields.update(dict.fromkeys(TRAITS, SENTINEL))
            else:
                profile = self.emu.state.profile(mail)
                profile.properties.update({k.lower(): SENTINEL for k in TRAITS})

    def writes(self) -> int:
        """Contact writes the emulator answered (batch upserts, member/profile updates)."""
        calls = self.emu.calls
        if self.esp == "mailchimp":
            return calls.total("POST", "/lists/{list_id}") + calls.total(
                "PATCH", "/lists/{list_id}/members/{subscriber_hash}"
            )
        return calls.total("POST", "/api/profile-bulk-import-jobs") + calls.total(
            "PATCH", "/api/profiles/{id}"
        )


@pytest.fixture(params=["mailchimp", "klaviyo"])
def world(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    esp = request.param
    store_path = tmp_path / "customers.duckdb"
    make_store(profiles(), events(), path=store_path).close()
    numbers = {"ORDERS": "number", "DAYS": "number"}
    lines = []
    for name, yaml in TRAITS.items():
        target = name if esp == "mailchimp" else name.lower()
        lines.append(f"    {target}: {yaml}")
    extra = "audience: " + AUDIENCE if esp == "mailchimp" else ""
    destinations = f"dest:\n  esp: {esp}\n  {extra}\n  traits:\n" + "\n".join(lines) + "\n"
    write_config(tmp_path / "config", SEGMENTS, metrics=METRICS, destinations=destinations)
    options = EmulatorOptions(seed=3, import_delay_s=0.02)
    with run_emulator(esp, options) as emu:
        if esp == "mailchimp":
            for tag in TRAITS:
                emu.state.add_merge_field(AUDIENCE, tag, numbers.get(tag, "text"))
        point_at_emulator(monkeypatch, emu, tmp_path)
        monkeypatch.setenv("SEGSYNC_RETRY__INITIAL_BACKOFF_SECONDS", "0.01")
        settings = load_settings(
            config_dir=tmp_path / "config",
            source_url=f"duckdb:///{store_path}",
            state_path=tmp_path / "state" / "segsync.db",
        )
        yield World(esp, settings, emu, store_path)


def sync(world: World, **options: Any) -> RunSummary:
    summary = run_sync(world.settings, options=SyncOptions(as_of=AS_OF, **options))
    assert summary.status in ("ok", "dry_run"), summary.errors
    return summary


def set_clv(world: World, changes: dict[int, float | None]) -> None:
    con = duckdb.connect(str(world.store_path))
    try:
        for i, value in changes.items():
            con.execute("UPDATE profiles SET clv = ? WHERE profile_id = ?", [value, f"p{i:04d}"])
    finally:
        con.close()


def test_traits_pushed_then_only_changes(world: World) -> None:
    sync(world)
    expected = expected_traits(profiles(), events())
    managed = members()
    assert managed
    for mail in managed:
        assert world.values(mail) == expected[mail], mail

    # a no-op resync sends no field update at all
    world.overwrite(managed)
    before = world.writes()
    assert sync(world, dry_run=True).field_updates == {"dest": 0}
    summary = sync(world)
    assert world.writes() == before
    assert summary.field_updates == {"dest": 0}
    assert all(set(world.values(m).values()) == {SENTINEL} for m in managed)

    # changed traits: exactly the contacts whose values changed are sent
    ids = [i for i in range(N) if email(i) in managed]
    changes: dict[int, float | None] = {}
    for i in ids[:12]:
        old = clv(i)
        changes[i] = None if i % 4 == 0 else (old or 0.0) + (1.0 if i % 4 == 1 else 450.0)
    set_clv(world, changes)
    after = expected_traits(profiles(changes), events())
    changed = {m for m in managed if after[m] != expected[m]}
    assert changed and len(changed) < len(managed)
    dry = sync(world, dry_run=True)
    assert dry.field_updates == {"dest": len(changed)}
    # segsync plan (and --json) counts the same updates, and names the traits
    plan = build_plan(
        world.settings,
        load_definitions(world.settings.config_dir, destination_models()),
        as_of=AS_OF,
    ).to_json()
    assert plan["field_updates"] == {"dest": len(changed)}
    assert sorted(map(str.upper, plan["traits"]["dest"])) == sorted(TRAITS)
    summary = sync(world)
    assert summary.field_updates == {"dest": len(changed)}
    for mail in managed:
        assert world.values(mail) == sent_over(expected[mail], after[mail]), mail
    assert sync(world).field_updates == {"dest": 0}


def sent_over(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What the ESP holds when only the changed values were sent over the sentinels (a
    value that became NULL is emptied, not left stale)."""
    held = {}
    for name in TRAITS:
        if before.get(name) == after.get(name):
            held[name] = SENTINEL
        elif name in after:
            held[name] = after[name]
    return held


def test_a_contact_that_left_every_segment_keeps_getting_its_traits(world: World) -> None:
    sync(world)
    leaver = next(i for i in range(N) if email(i) in members() and i % 7 not in (0, 1))
    mail = email(leaver)
    con = duckdb.connect(str(world.store_path))
    try:
        con.execute("DELETE FROM events WHERE profile_id = ?", [f"p{leaver:04d}"])
    finally:
        con.close()
    evs = [e for e in events() if e[0] != f"p{leaver:04d}"]
    summary = sync(world)
    assert summary.field_updates == {"dest": 1}
    assert world.values(mail) == expected_traits(profiles(), evs)[mail]
    for changes in ({leaver: 50.0}, {leaver: 700.0}):  # its fields hash was recorded
        set_clv(world, changes)
        assert sync(world).field_updates == {"dest": 1}
        assert world.values(mail) == expected_traits(profiles(changes), evs)[mail]
