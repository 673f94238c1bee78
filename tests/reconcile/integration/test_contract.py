"""The full sync scenario against both contract-enforcing emulators: nothing segsync sends
may break the published API contracts (the Mailchimp reference's required fields, enums and
limits; Klaviyo's OpenAPI document), whatever the audience holds.

The scenario: pre-existing contacts in every status, mapped fields, NULL values, Unicode
addresses, and one email shared by a profile with consent and one without (so the contact
has no consent). Then a change (a field becomes NULL, members leave), a no-op resync, a
tag/list deleted in the ESP, a revoked key, and a profile too big for Klaviyo.
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
from pydantic import SecretStr

from connector.emulator import EmulatorOptions, run_emulator
from connector.emulator.server import Emulator
from connector.reconcile.runner import SyncOptions, run_sync
from connector.reconcile.summary import RunSummary
from connector.settings import Settings, load_settings
from tests.conftest import make_store, point_at_emulator, write_config

AS_OF = datetime(2026, 11, 23, 12)
AUDIENCE = "contract-aud"
SEGMENT = """\
    name: buyers
    rule: {event: order_completed, within: 30d}
    destinations: [{to: dest, mode: MODE}]
    """
# profile id, email, consent, region (mapped), buys?
PEOPLE: list[tuple[str, str | None, bool | None, str | None, bool]] = [
    ("p01", "sub@example.com", True, "CA", True),
    ("p02", "unsub@example.com", True, "NY", True),
    ("p03", "cleaned@example.com", True, None, True),
    ("p04", "pending@example.com", False, "TX", True),
    ("p05", "trans@example.com", True, "CA", True),
    ("p06", "archived@example.com", False, "CA", True),
    ("p07", "new@example.com", True, None, True),
    ("p08", "noconsent@example.com", False, "CA", True),
    ("p09", "jürgen@exämple.de", True, "BE", True),
    ("p10", "zoë@example.com", True, "CA", True),
    ("p11", "shared@example.com", True, "CA", True),  # consents ...
    ("p12", " Shared@Example.com", None, "NY", False),  # ... but this one does not say
    ("p13", None, True, "CA", True),
    ("p14", "unknownconsent@example.com", None, "CA", True),
    ("p15", "leaver@example.com", True, "CA", True),
]
MAILCHIMP_SEEDED = {
    "sub@example.com": "subscribed",
    "unsub@example.com": "unsubscribed",
    "cleaned@example.com": "cleaned",
    "pending@example.com": "pending",
    "trans@example.com": "transactional",
    "archived@example.com": "archived",
}


@dataclass
class World:
    settings: Settings
    emu: Emulator[Any]
    store: Path

    def sync(self, **options: Any) -> RunSummary:
        return run_sync(self.settings, options=SyncOptions(as_of=AS_OF, **options))

    def sql(self, statement: str) -> None:
        con = duckdb.connect(str(self.store))
        con.execute(statement)
        con.close()


def _world(esp: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    store = tmp_path / "c.duckdb"
    rows = [(pid, e, c, r, 30, 1.0, False, AS_OF, None, None) for pid, e, c, r, _ in PEOPLE]
    orders = [
        (pid, "order_completed", AS_OF - timedelta(days=2), "tv", 5.0, None)
        for pid, *_, buys in PEOPLE
        if buys
    ]
    make_store(rows, orders, path=store).close()
    mode = "tag" if esp == "mailchimp" else "list"
    dest = (
        f"dest: {{esp: mailchimp, audience: {AUDIENCE}, fields: {{region: STATE}}}}\n"
        if esp == "mailchimp"
        else "dest: {esp: klaviyo, fields: {region: region}}\n"
    )
    write_config(tmp_path / "config", {"buyers": SEGMENT.replace("MODE", mode)}, destinations=dest)
    options = EmulatorOptions(audiences=(AUDIENCE,), merge_fields=("STATE",), import_delay_s=0.02)
    with run_emulator(esp, options) as emu:
        if esp == "mailchimp":
            for address, status in MAILCHIMP_SEEDED.items():
                emu.state.add_member(AUDIENCE, address, status, merge_fields={"STATE": "ZZ"})
        else:
            emu.state.add_profile("sub@example.com", consent="SUBSCRIBED")
            emu.state.add_profile("unsub@example.com", consent="UNSUBSCRIBED")
            emu.state.add_profile("cleaned@example.com", suppressed="HARD_BOUNCE")
            emu.state.add_profile("pending@example.com", properties={"region": "ZZ"})
        point_at_emulator(monkeypatch, emu, tmp_path)
        settings = load_settings(
            config_dir=tmp_path / "config",
            source_url=f"duckdb:///{store}",
            state_path=tmp_path / "s.db",
        )
        yield World(settings, emu, store)


@pytest.fixture(params=["mailchimp", "klaviyo"])
def world(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    yield from _world(request.param, tmp_path, monkeypatch)


def _members(world: World) -> set[str]:
    state = world.emu.state
    if world.emu.esp == "mailchimp":
        return set(state.tag_members(AUDIENCE, "segsync:buyers"))
    return set(state.list_emails(state.find_list("segsync:buyers").id))


def _field(world: World, address: str) -> Any:
    state = world.emu.state
    if world.emu.esp == "mailchimp":
        member = state.member(AUDIENCE, address)
        return None if member is None else member.merge_fields.get("STATE")
    profile = state.profile(address)
    return None if profile is None else profile.properties.get("region")


def _exists(world: World, address: str) -> bool:
    state = world.emu.state
    if world.emu.esp == "mailchimp":
        member = state.member(AUDIENCE, address)
        return member is not None and member.status != "archived"
    return state.profile(address) is not None


def _bodies(world: World) -> str:
    return json.dumps([r.__dict__ for r in world.emu.calls.records], default=str)


def test_a_full_sync_keeps_every_contract(world: World) -> None:
    first = world.sync()
    assert first.status == "ok", first.errors
    assert world.emu.state.contract_violations == []
    wanted = {
        "sub@example.com",
        "unsub@example.com",
        "cleaned@example.com",
        "trans@example.com",
        "new@example.com",
        "jürgen@exämple.de",
        "zoë@example.com",
        "leaver@example.com",
    }
    members = _members(world)
    # Unicode addresses arrive; present no-consent contacts join; missing ones are not created
    assert wanted <= members
    assert "pending@example.com" in members
    for never in ("noconsent@example.com", "shared@example.com", "unknownconsent@example.com"):
        assert not _exists(world, never), never  # no consent (shared: one profile says no)
    if world.emu.esp == "mailchimp":
        state = world.emu.state
        for address, status in MAILCHIMP_SEEDED.items():
            assert state.member(AUDIENCE, address).status == status, address  # untouched
        assert state.member(AUDIENCE, "new@example.com").status == "subscribed"
        assert state.member(AUDIENCE, "zoë@example.com").status == "subscribed"
    else:
        state = world.emu.state
        assert state.profile("unsub@example.com").consent == "UNSUBSCRIBED"
        assert state.profile("new@example.com").consent == "NEVER_SUBSCRIBED"
        assert state.profile("cleaned@example.com").suppression == "HARD_BOUNCE"
    # NULL is never sent as a value: a new contact simply has no value
    assert _field(world, "new@example.com") in (None, "")
    assert _field(world, "sub@example.com") == "CA"
    assert '"?"' not in _bodies(world)

    # a value pushed before becomes NULL: emptied; a member leaves
    world.sql("UPDATE profiles SET region = NULL WHERE profile_id = 'p01'")
    world.sql("DELETE FROM events WHERE profile_id = 'p15'")
    second = world.sync()
    assert second.status == "ok", second.errors
    assert _field(world, "sub@example.com") in (None, "")
    assert "leaver@example.com" not in _members(world)
    assert world.emu.state.contract_violations == []

    # nothing changed: no write at all, only the key check
    world.emu.calls.reset()
    assert world.sync().status == "ok"
    assert {method for (method, _, _) in world.emu.calls} == {"GET"}
    assert world.emu.calls.total() == 1


def test_a_deleted_tag_or_list_is_recreated_and_refilled(world: World) -> None:
    assert world.sync().status == "ok"
    before = _members(world)
    state = world.emu.state
    if world.emu.esp == "mailchimp":
        tag = state.find_segment(AUDIENCE, "segsync:buyers")
        del state.audiences[AUDIENCE].segments[tag.id]
    else:
        del state.lists[state.find_list("segsync:buyers").id]
    world.sql("DELETE FROM events WHERE profile_id = 'p15'")  # something to write
    summary = world.sync()
    assert summary.status == "ok", summary.errors
    assert _members(world) == before - {"leaver@example.com"}
    # and a full resync of a deleted object does not die on the 404
    if world.emu.esp == "mailchimp":
        tag = state.find_segment(AUDIENCE, "segsync:buyers")
        del state.audiences[AUDIENCE].segments[tag.id]
    else:
        del state.lists[state.find_list("segsync:buyers").id]
    resync = world.sync(full_resync=True)
    assert resync.status == "ok", resync.errors
    assert _members(world) == before - {"leaver@example.com"}
    assert world.emu.state.contract_violations == []


def test_a_revoked_key_fails_the_run_even_with_nothing_to_write(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert world.sync().status == "ok"
    esp = world.emu.esp
    revoked = SecretStr("revoked-us1" if esp == "mailchimp" else "pk_revoked")
    settings = world.settings.model_copy(
        update={esp: getattr(world.settings, esp).model_copy(update={"api_key": revoked})}
    )
    summary = run_sync(settings, options=SyncOptions(as_of=AS_OF))
    assert summary.exit_code == 2 and summary.status == "failed"
    assert "revoked" not in " ".join(summary.errors)


def test_one_row_over_a_per_row_limit_is_quarantined_alone(world: World) -> None:
    if world.emu.esp == "mailchimp":
        # a value Mailchimp refuses for that merge field type
        world.emu.state.add_merge_field(AUDIENCE, "SCORE", "number")
        world.sql("ALTER TABLE profiles ADD COLUMN score VARCHAR")
        world.sql("UPDATE profiles SET score = '1'")
        world.sql("UPDATE profiles SET score = 'lots' WHERE profile_id = 'p07'")
        config = world.settings.config_dir / "destinations.yaml"
        config.write_text(
            f"dest: {{esp: mailchimp, audience: {AUDIENCE}, "
            "fields: {region: STATE, score: SCORE}}\n"
        )
    else:
        world.sql("UPDATE profiles SET region = repeat('x', 200000) WHERE profile_id = 'p07'")
    summary = world.sync()
    assert summary.exit_code == 4, (summary.status, summary.errors)
    members = _members(world)
    assert "new@example.com" not in members
    assert {"sub@example.com", "zoë@example.com", "jürgen@exämple.de"} <= members
    assert world.emu.state.contract_violations == []


def test_a_change_takes_the_fewest_calls(world: World) -> None:
    assert world.sync().status == "ok"
    world.sql("DELETE FROM events WHERE profile_id = 'p15'")  # one leaves
    world.sql("UPDATE profiles SET email_consent = TRUE WHERE profile_id = 'p08'")  # one joins
    world.emu.calls.reset()
    summary = world.sync()
    assert summary.status == "ok", summary.errors
    calls = world.emu.calls
    if world.emu.esp == "mailchimp":
        # one upsert for the newcomer; one tag call carries the add and the removal
        assert calls.total("POST", "/3.0/lists/{list_id}") == 1
        assert calls.total("POST", "/3.0/lists/{list_id}/segments/{segment_id}") == 1
        # and nothing else: the upsert's answer shows the mapped merge fields exist
        assert calls.total() == 2
    else:
        # the newcomer joins inside its import (no id look-up); the leaver needs its id
        assert calls.total("POST", "/api/profile-bulk-import-jobs") == 1
        assert calls.total("POST", "/api/lists/{id}/relationships/profiles") == 0
        assert calls.total("GET", "/api/profiles") == 1
        assert calls.total("DELETE", "/api/lists/{id}/relationships/profiles") == 1
    assert "noconsent@example.com" in _members(world)
    assert "leaver@example.com" not in _members(world)
