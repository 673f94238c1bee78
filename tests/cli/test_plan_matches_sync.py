"""``segsync plan --json`` and ``segsync sync --dry-run --json`` show the same changes, and the
real ``sync`` that follows sends exactly those: on both emulators, through the official SDKs
over real HTTP, with contacts without consent (one of them already in the ESP), a contact the
ESP refuses (quarantined), a removal guard, and a lost state store.

What the ESP received is read from the emulator's own state (each tag/list's members before
and after the run), not from segsync's summary.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from connector.emulator import EmulatorOptions, run_emulator
from connector.emulator.server import Emulator
from tests.cli.conftest import CliRunner
from tests.conftest import make_store, point_at_emulator, write_config

AS_OF = "2026-11-23T12:00:00Z"
NOW = datetime(2026, 11, 23, 12)
AUDIENCE = "plan-aud"
N = 40
BUYERS = set(range(0, N, 2))
VIEWERS = set(range(0, N, 3))
NO_CONSENT = {i for i in range(N) if i % 5 == 0}
IN_ESP = 0  # a contact without consent that the ESP already has: the sync adds it
REFUSED = 8  # a buyer with consent whose field value the ESP refuses: quarantined
SEGMENTS = {
    "buyers": "name: buyers\nrule: {event: order_completed, within: 30d}\n"
    "destinations: [{to: dest, mode: MODE}]\n",
    "viewers": "name: viewers\nrule: {event: page_view, within: 30d}\n"
    "destinations: [{to: dest, mode: MODE}]\n",
}
PARTS = ("segsync:buyers", "segsync:viewers")
#: the counts plan and dry run must agree on, per (segment, destination, part)
COMPARED = ("adds", "removes", "adds_if_present", "skipped_no_consent", "held_back")

Key = tuple[str, str, str]


def email(i: int) -> str:
    return f"a{i}@example.com"


def emails(indices: set[int]) -> set[str]:
    return {email(i) for i in indices}


@dataclass
class World:
    root: Path
    emu: Emulator[Any]
    run_cli: CliRunner

    def cli(self, *args: str, expect: int | tuple[int, ...] = 0) -> dict[str, Any]:
        code, out, err = self.run_cli([*args, "--as-of", AS_OF, "--json"])
        assert code in (expect if isinstance(expect, tuple) else (expect,)), (code, err)
        data: dict[str, Any] = json.loads(out)
        return data

    def members(self) -> dict[str, set[str]]:
        """Each part's members as the ESP holds them (empty when it has no such tag/list)."""
        state = self.emu.state
        found: dict[str, set[str]] = {}
        for name in PARTS:
            if self.emu.esp == "mailchimp":
                try:
                    found[name] = state.tag_members(AUDIENCE, name)
                except KeyError:
                    found[name] = set()
            else:
                group = state.find_list(name)
                found[name] = set() if group is None else state.list_emails(group.id)
        return found

    def sql(self, statement: str) -> None:
        con = duckdb.connect(str(self.root / "c.duckdb"))
        con.execute(statement)
        con.close()


@pytest.fixture(params=["mailchimp", "klaviyo"])
def world(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    run_cli: CliRunner,
) -> Iterator[World]:
    esp = request.param
    people = [
        (f"p{i:02d}", email(i), i not in NO_CONSENT, "CA", 30, 1.0, False, NOW, None, None)
        for i in range(N)
    ]
    events = [
        (f"p{i:02d}", "order_completed", NOW - timedelta(days=2), "tv", 5.0, None)
        for i in sorted(BUYERS)
    ] + [(f"p{i:02d}", "page_view", NOW - timedelta(days=1), None, None, None) for i in VIEWERS]
    make_store(people, events, path=tmp_path / "c.duckdb").close()
    mode = "tag" if esp == "mailchimp" else "list"
    if esp == "mailchimp":
        destination = f"dest: {{esp: mailchimp, audience: {AUDIENCE}, fields: {{age: SCORE}}}}\n"
    else:
        destination = "dest: {esp: klaviyo, fields: {region: region}}\n"
    write_config(
        tmp_path / "config",
        {name: text.replace("MODE", mode) for name, text in SEGMENTS.items()},
        destinations=destination,
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEGSYNC_SOURCE_URL", f"duckdb:///{tmp_path / 'c.duckdb'}")
    monkeypatch.setenv("SEGSYNC_STATE_PATH", str(tmp_path / "state.db"))
    options = EmulatorOptions(audiences=(AUDIENCE,), import_delay_s=0.02)
    with run_emulator(esp, options) as emu:
        world = World(tmp_path, emu, run_cli)
        if esp == "mailchimp":
            # a number merge field: a text value is refused for that member alone
            emu.state.add_merge_field(AUDIENCE, "SCORE", "number")
            world.sql("ALTER TABLE profiles ALTER COLUMN age TYPE VARCHAR")
            world.sql(f"UPDATE profiles SET age = 'lots' WHERE profile_id = 'p{REFUSED:02d}'")
            emu.state.add_member(AUDIENCE, email(IN_ESP), "unsubscribed")
        else:
            # a profile over Klaviyo's 100 KB per profile: refused in its import job alone
            world.sql(
                f"UPDATE profiles SET region = repeat('x', 200000) "
                f"WHERE profile_id = 'p{REFUSED:02d}'"
            )
            emu.state.add_profile(email(IN_ESP), consent="UNSUBSCRIBED")
        point_at_emulator(monkeypatch, emu, tmp_path)
        yield world


def plan_counts(plan: dict[str, Any]) -> dict[Key, dict[str, int]]:
    return {
        (segment["segment"], segment["destination"], part["name"]): {k: part[k] for k in COMPARED}
        for segment in plan["segments"]
        for part in segment["parts"]
    }


def run_counts(summary: dict[str, Any]) -> dict[Key, dict[str, int]]:
    return {
        (part["segment"], part["destination"], part["part"]): {k: part[k] for k in COMPARED}
        for part in summary["parts"]
    }


def plan_and_dry_run(world: World, *, expect: int = 0) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both views of the next run; they must agree part by part, and on the guards."""
    plan = world.cli("plan")
    dry = world.cli("sync", "--dry-run", expect=expect)
    assert plan_counts(plan) == run_counts(dry)
    assert plan["guards"] == dry["guards"]
    return plan, dry


def sent(before: dict[str, set[str]], after: dict[str, set[str]]) -> dict[str, tuple[int, int]]:
    """Per part: (members added, members removed) in the ESP."""
    return {n: (len(after[n] - before[n]), len(before[n] - after[n])) for n in PARTS}


def changes(counts: dict[Key, dict[str, int]], **extra: int) -> dict[str, tuple[int, int]]:
    """Per part: (adds, removes) of a plan or dry run, adjusted by ``extra`` adds (keyword:
    the segment's name) for look-ups the ESP has and contacts it refuses."""
    return {
        part: (c["adds"] + extra.get(segment, 0), c["removes"])
        for (segment, _, part), c in counts.items()
    }


def lose_state(root: Path) -> None:
    for suffix in ("", "-wal", "-shm", ".lock"):
        (root / f"state.db{suffix}").unlink(missing_ok=True)


def test_plan_dry_run_and_sync_agree_through_consent_quarantine_guard_and_lost_state(
    world: World,
) -> None:
    first_run(world)
    settled_run(world)
    guarded_run(world)
    lost_state_run(world)


def first_run(world: World) -> None:
    """No state store: contacts without consent are look-ups, never adds."""
    plan, _ = plan_and_dry_run(world)
    counts = plan_counts(plan)
    assert counts[("buyers", "dest", "segsync:buyers")] == {
        "adds": len(BUYERS - NO_CONSENT),
        "removes": 0,
        "adds_if_present": len(BUYERS & NO_CONSENT),
        "skipped_no_consent": 0,
        "held_back": 0,
    }
    assert {p["confirmed_from"] for s in plan["segments"] for p in s["parts"]} == {"none"}
    before = world.members()
    summary = world.cli("sync", expect=4)  # the refused contact is quarantined
    after = world.members()
    # sent: the plan's adds, less the refused buyer, plus the look-up the ESP has
    assert sent(before, after) == changes(counts, buyers=-1 + 1, viewers=1)
    assert after["segsync:buyers"] == emails(BUYERS - NO_CONSENT - {REFUSED} | {IN_ESP})
    assert after["segsync:viewers"] == emails(VIEWERS - NO_CONSENT | {IN_ESP})
    done = run_counts(summary)
    quarantined = {p["part"]: p["quarantined"] for p in summary["parts"]}
    assert quarantined == {"segsync:buyers": 1, "segsync:viewers": 0}
    # every look-up is now an add (the one in the ESP) or skipped for want of consent
    for key, count in counts.items():
        assert done[key]["adds_if_present"] == 0
        assert done[key]["skipped_no_consent"] == count["adds_if_present"] - 1
        assert done[key]["adds"] == count["adds"] + 1 - quarantined[key[2]]


def settled_run(world: World) -> None:
    """Nothing changed: the quarantined buyer is retried (an add); contacts without consent
    are known missing (skipped), the one in the ESP is a member."""
    plan, dry = plan_and_dry_run(world)
    counts = plan_counts(plan)
    assert counts[("buyers", "dest", "segsync:buyers")] == {
        "adds": 1,
        "removes": 0,
        "adds_if_present": 0,
        "skipped_no_consent": len(BUYERS & NO_CONSENT) - 1,
        "held_back": 0,
    }
    assert counts[("viewers", "dest", "segsync:viewers")]["adds"] == 0
    assert {p["confirmed_from"] for p in dry["parts"]} == {"state"}
    before = world.members()
    summary = world.cli("sync", expect=4)
    assert sent(before, world.members()) == changes(counts, buyers=-1)
    assert run_counts(summary) == {**counts, **{k: {**c, "adds": 0} for k, c in counts.items()}}


def guarded_run(world: World) -> None:
    """Most buyers leave: the removal guard trips in plan, dry run and sync alike."""
    world.sql("DELETE FROM events WHERE event = 'order_completed' AND profile_id > 'p08'")
    plan, dry = plan_and_dry_run(world, expect=3)
    assert plan["guards"] and "max_removal_percent" in plan["guards"][0]
    assert dry["status"] == "guard"
    before = world.members()
    stopped = world.cli("sync", expect=3)
    assert stopped["status"] == "guard" and world.members() == before  # nothing written
    world.cli("sync", "--force", expect=4)
    after = world.members()
    assert sent(before, after) == changes(plan_counts(plan), buyers=-1)
    left = {i for i in BUYERS if i < REFUSED} - NO_CONSENT | {IN_ESP}
    assert after["segsync:buyers"] == emails(left)


def lost_state_run(world: World) -> None:
    """The state store is lost. plan reads no ESP and says so: its parts are diffed against
    nothing ("none"); the dry run reads each tag/list back from the ESP ("esp"), and the
    sync sends exactly the dry run's changes."""
    lose_state(world.root)
    plan = world.cli("plan")
    parts = [p for s in plan["segments"] for p in s["parts"]]
    assert {p["confirmed_from"] for p in parts} == {"none"}
    assert all(p["confirmed"] == 0 and p["removes"] == 0 for p in parts)
    code, text, _ = world.run_cli(["plan", "--as-of", AS_OF])
    assert code == 0 and "not in the state store" in text
    dry = world.cli("sync", "--dry-run")
    assert {p["confirmed_from"] for p in dry["parts"]} == {"esp"}
    counts = run_counts(dry)
    assert counts[("buyers", "dest", "segsync:buyers")]["adds"] == 1  # the refused buyer
    assert counts[("viewers", "dest", "segsync:viewers")]["adds_if_present"] == len(
        VIEWERS & NO_CONSENT - {IN_ESP}
    )
    before = world.members()
    summary = world.cli("sync", expect=4)
    assert sent(before, world.members()) == changes(counts, buyers=-1)
    assert {p["part"]: p["skipped_no_consent"] for p in summary["parts"]} == {
        "segsync:buyers": 0,
        "segsync:viewers": len(VIEWERS & NO_CONSENT - {IN_ESP}),
    }
