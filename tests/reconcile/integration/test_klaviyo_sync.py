"""End to end: DuckDB store → segsync sync → the Klaviyo emulator over loopback HTTP."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import connector.esp.klaviyo.imports as klaviyo_imports
from connector.definitions.destinations import Destination
from connector.emulator import EmulatorOptions, run_emulator
from connector.esp.base import Contact, EspAdapter, EspObject, MembershipChange, MembershipResult
from connector.esp.klaviyo.adapter import KlaviyoAdapter
from connector.esp.registry import adapter_for
from connector.reconcile.executor import DestinationExecutor
from connector.reconcile.runner import SyncOptions, run_sync
from connector.reconcile.state import KnownContact
from connector.settings import Settings, load_settings
from tests.conftest import make_store, point_at_emulator, write_config

AS_OF = datetime(2026, 11, 23, 12)
N = 300
SEGMENTS = {
    "buyers": """\
        name: buyers
        rule: {event: order_completed, within: 30d}
        destinations: [{to: kl, mode: list}]
        """,
    "older-buyers": """\
        name: older-buyers
        rule:
          all:
            - {attribute: age, op: gte, value: 40}
            - {event: order_completed, within: 30d}
        destinations: [{to: kl}]
        """,
}
SEEDED = {0: "suppressed", 3: "subscribed"}


def email(i: int) -> str:
    return f"k{i}@example.com"


def age(i: int) -> int:
    return 20 + i % 50


def present(i: int) -> bool:
    return i in SEEDED or i % 3 != 0


def buyers() -> set[int]:
    return {i for i in range(N) if i % 2 == 0 and present(i)}


def write_store(path: Path, *, first_buyer: int) -> None:
    """The N profiles, every other one (from ``first_buyer``) with an order two days ago;
    replaces the store at ``path``."""
    path.unlink(missing_ok=True)
    people = [
        (f"p{i:04d}", email(i), i % 3 != 0, "CA", age(i), 1.0, False, AS_OF, None, None)
        for i in range(N)
    ]
    orders = [
        (f"p{i:04d}", "order_completed", AS_OF - timedelta(days=2), "tv", 5.0, None)
        for i in range(first_buyer, N, 2)
    ]
    make_store(people, orders, path=path).close()


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Settings, object]]:
    store_path = tmp_path / "c.duckdb"
    write_store(store_path, first_buyer=0)
    write_config(
        tmp_path / "config", SEGMENTS, destinations="kl: {esp: klaviyo, fields: {age: age}}\n"
    )
    with run_emulator("klaviyo", EmulatorOptions(import_delay_s=0.05)) as emu:
        emu.state.add_profile(email(0), consent="NEVER_SUBSCRIBED", suppressed="USER_SUPPRESSED")
        emu.state.add_profile(email(3), consent="SUBSCRIBED")
        newsletter = emu.state.add_list("newsletter")
        emu.state.add_to_list(newsletter.id, [emu.state.profile(email(0)).id])
        point_at_emulator(monkeypatch, emu, tmp_path)
        yield (
            load_settings(
                config_dir=tmp_path / "config",
                source_url=f"duckdb:///{store_path}",
                state_path=tmp_path / "s.db",
            ),
            emu,
        )


def test_klaviyo_sync(world: tuple[Settings, object]) -> None:
    settings, emu = world
    summary = run_sync(settings, options=SyncOptions(as_of=AS_OF))
    assert summary.status == "ok", summary.errors
    state = emu.state  # type: ignore[attr-defined]
    buyers_list = state.find_list("segsync:buyers")
    assert state.list_emails(buyers_list.id) == {email(i) for i in buyers()}
    # older-buyers keeps age native (a number property) and materialises the event part
    part = state.find_list("segsync:older-buyers")
    assert state.list_emails(part.id) == {email(i) for i in buyers()}
    native = next(s for s in state.segments.values() if s.name == "segsync:older-buyers:segment")
    assert state.segment_emails(native.id) == {email(i) for i in buyers() if age(i) >= 40}
    # consent: nobody without consent was created; suppression and consent untouched
    state.tick()
    assert {p.email for p in state.profiles.values()} == {
        email(i) for i in range(N) if present(i) and (i % 2 == 0)
    } | {email(i) for i in SEEDED}
    suppressed = state.profile(email(0))
    assert suppressed.suppression == "USER_SUPPRESSED" and suppressed.consent == "NEVER_SUBSCRIBED"
    assert state.profile(email(3)).consent == "SUBSCRIBED"
    assert state.list_emails(state.find_list("newsletter").id) == {email(0)}
    calls = emu.calls  # type: ignore[attr-defined]
    assert not [key for key in calls if "subscription" in key[1]]
    # nothing changed: nothing is sent
    before = calls.total()
    again = run_sync(settings, options=SyncOptions(as_of=AS_OF))
    # nothing to write: only the once-per-run key check (GET /api/lists)
    assert again.status == "ok" and calls.total() == before + 1
    assert calls.total("GET", "/api/lists") >= 1


def test_klaviyo_sync_converges_through_rate_limits_and_faults(
    world: tuple[Settings, object],
) -> None:
    settings, emu = world
    options = emu.options  # type: ignore[attr-defined]
    options.rate_limit_scale = 0.2  # 10/s becomes 2/s: the client's windows meet 429s
    options.fault_rate_429 = 0.15
    options.fault_rate_5xx = 0.1
    options.fault_rate_reset = 0.05
    options.fault_phase = "after"
    options.seed = 3
    quick = settings.model_copy(
        update={
            "retry": settings.retry.model_copy(
                update={"initial_backoff_seconds": 0.01, "max_backoff_seconds": 0.2}
            )
        }
    )
    summary = run_sync(quick, options=SyncOptions(as_of=AS_OF))
    options.fault_rate_429 = options.fault_rate_5xx = options.fault_rate_reset = 0.0
    if summary.status != "ok":  # a retry budget may run out; the next run resumes
        summary = run_sync(quick, options=SyncOptions(as_of=AS_OF))
    assert summary.status == "ok", summary.errors
    statuses = {s for (_, _, s) in emu.calls}  # type: ignore[attr-defined]
    assert 429 in statuses and statuses & {500, 502, 503}
    state = emu.state  # type: ignore[attr-defined]
    assert state.list_emails(state.find_list("segsync:buyers").id) == {email(i) for i in buyers()}


def _slow_first_import(adapter: KlaviyoAdapter, events: list[str]) -> None:
    """The adapter's imports take a while to prepare (a large first job being encoded),
    and say when one is sent."""
    jobs, create = adapter._imports._jobs, adapter._imports._create

    def slow_jobs(*args: Any) -> Any:
        time.sleep(0.3)
        yield from jobs(*args)

    def sent(resources: list[str], lists: Sequence[str]) -> str:
        events.append("import sent")
        return create(resources, lists)

    adapter._imports._jobs = slow_jobs  # type: ignore[method-assign]
    adapter._imports._create = sent  # type: ignore[method-assign]


def test_removals_go_while_the_imports_run(world: tuple[Settings, object], tmp_path: Path) -> None:
    """Klaviyo removes members in calls of their own: they are sent while the bulk imports
    of the joiners are processed, not after them; their id look-ups go in parallel, once
    the first import is sent (its job and poll are the longer chain: the look-ups must not
    take its connection, even when the import takes a while to prepare)."""
    settings, emu = world
    assert run_sync(settings, options=SyncOptions(as_of=AS_OF)).status == "ok"
    write_store(tmp_path / "c.duckdb", first_buyer=1)  # the even buyers leave, the odd join
    emu.options.import_delay_s = 1.0  # type: ignore[attr-defined]
    emu.options.latency_ms = 30  # type: ignore[attr-defined]
    events: list[str] = []
    in_flight = [0, 0]  # look-ups now, most at once

    def factory(destination: Destination, conf: Settings) -> EspAdapter:
        adapter = adapter_for(destination, conf)
        assert isinstance(adapter, KlaviyoAdapter)
        wait_all, remove, page = (
            adapter._imports._wait_all,
            adapter.remove_members,
            adapter._lookup_page,
        )

        def waited(job_ids: list[str], first_wait: float) -> dict[str, dict[str, object]]:
            done = wait_all(job_ids, first_wait)
            events.append("imports done")
            return done

        def removed(group: EspObject, emails: Sequence[str]) -> MembershipResult:
            result = remove(group, emails)
            events.append("removed")
            return result

        _slow_first_import(adapter, events)

        def looked_up(chunk: list[str]) -> dict[str, str]:
            events.append("look-up")
            in_flight[0] += 1
            in_flight[1] = max(in_flight)
            try:
                return page(chunk)
            finally:
                in_flight[0] -= 1

        adapter._imports._wait_all = waited  # type: ignore[method-assign]
        adapter.change_members = lambda g, adds, removes: MembershipChange(  # type: ignore[method-assign]
            adapter.add_members(g, adds), removed(g, removes)
        )
        adapter._lookup_page = looked_up  # type: ignore[method-assign]
        return adapter

    options = SyncOptions(as_of=AS_OF, force=True)  # every member leaves: past the guard
    summary = run_sync(settings, options=options, adapter_factory=factory)
    assert summary.status == "ok", summary.errors
    state = emu.state  # type: ignore[attr-defined]
    leavers = {i for i in buyers()}
    joiners = {i for i in range(1, N, 2) if present(i)}
    assert state.list_emails(state.find_list("segsync:buyers").id) == {email(i) for i in joiners}
    assert leavers and joiners and "removed" in events and "imports done" in events
    assert events.index("removed") < events.index("imports done"), events
    assert events.index("import sent") < events.index("look-up"), events
    assert in_flight[1] > 1  # more than one look-up page in flight at once


def test_the_first_import_goes_before_the_stores_contacts_are_taken_in(
    world: tuple[Settings, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the state store knows of every contact (which are present, their profile
    ids) is taken in once the first import is journalled and on its way, not before it;
    the ids it knew still spare the removals their look-ups."""
    settings, emu = world
    assert run_sync(settings, options=SyncOptions(as_of=AS_OF)).status == "ok"
    state = emu.state  # type: ignore[attr-defined]
    with sqlite3.connect(tmp_path / "s.db") as con:  # ids learned by an earlier run
        con.executemany(
            "UPDATE contacts SET esp_id = ? WHERE email = ?",
            [(state.profile(email(i)).id, email(i)) for i in buyers()],
        )
    write_store(tmp_path / "c.duckdb", first_buyer=1)  # the even buyers leave, the odd join
    events: list[str] = []
    looked_up: list[str] = []
    journal_adds = DestinationExecutor._journal_adds

    def journalled(self: DestinationExecutor, part: str, emails: list[str]) -> None:
        events.append("import journalled")  # before the events it sets wake anyone
        journal_adds(self, part, emails)

    monkeypatch.setattr(DestinationExecutor, "_journal_adds", journalled)

    def factory(destination: Destination, conf: Settings) -> EspAdapter:
        adapter = adapter_for(destination, conf)
        assert isinstance(adapter, KlaviyoAdapter)
        remember, page = adapter.remember_ids, adapter._lookup_page

        def remembered(mapping: dict[str, str]) -> None:
            events.append("ids taken in")
            remember(mapping)

        def lookup(chunk: list[str]) -> dict[str, str]:
            looked_up.extend(chunk)
            return page(chunk)

        adapter.remember_ids = remembered  # type: ignore[method-assign]
        adapter._lookup_page = lookup  # type: ignore[method-assign]
        return adapter

    options = SyncOptions(as_of=AS_OF, force=True)  # every member leaves: past the guard
    summary = run_sync(settings, options=options, adapter_factory=factory)
    assert summary.status == "ok", summary.errors
    joiners = {i for i in range(1, N, 2) if present(i)}
    assert state.list_emails(state.find_list("segsync:buyers").id) == {email(i) for i in joiners}
    assert "ids taken in" in events, events
    assert events.index("import journalled") < events.index("ids taken in"), events
    assert not {email(i) for i in buyers()} & set(looked_up)  # removed by the ids it knew


def test_each_import_job_is_journalled_before_it_is_sent(
    world: tuple[Settings, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The crash contract with jobs journalled one by one: when a job is sent, its
    emails are in the state store's journal (``pending``) of their part, committed."""
    settings, _ = world
    monkeypatch.setattr(klaviyo_imports, "MAX_IMPORT_PROFILES", 20)
    sent: list[tuple[str, set[str]]] = []  # each job's list, and its emails not journalled

    def journalled(list_id: str) -> set[str]:
        with sqlite3.connect(tmp_path / "s.db") as con:  # another connection: committed rows
            rows = con.execute(
                "SELECT p.email FROM pending p JOIN objects o ON o.destination = p.destination"
                " AND o.name = p.part WHERE o.esp_id = ?",
                (list_id,),
            ).fetchall()
        return {email for (email,) in rows}

    def factory(destination: Destination, conf: Settings) -> EspAdapter:
        adapter = adapter_for(destination, conf)
        assert isinstance(adapter, KlaviyoAdapter)
        create = adapter._imports._create

        def checked(resources: list[str], lists: Sequence[str]) -> str:
            emails = {json.loads(r)["attributes"]["email"] for r in resources}
            sent.append((lists[0], emails - journalled(lists[0])))
            return create(resources, lists)

        adapter._imports._create = checked  # type: ignore[method-assign]
        return adapter

    summary = run_sync(settings, options=SyncOptions(as_of=AS_OF), adapter_factory=factory)
    assert summary.status == "ok", summary.errors
    assert len(sent) > 2 and all(not missing for _, missing in sent), sent
    assert not journalled(sent[0][0])  # confirmed: the journal is empty again


def test_contacts_are_picked_while_a_first_run_creates_its_lists(
    world: tuple[Settings, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wait for the ESP's list creation is not idle: the contacts to push are picked
    meanwhile, and the run's outcome is the same."""
    settings, emu = world
    picked = threading.Event()
    during: list[bool] = []  # per list created: were the contacts picked by its answer?
    original = DestinationExecutor._contacts_to_push

    def pick(self: DestinationExecutor, known: dict[str, KnownContact]) -> list[Contact]:
        wanted = original(self, known)
        picked.set()
        return wanted

    monkeypatch.setattr(DestinationExecutor, "_contacts_to_push", pick)

    def factory(destination: Destination, conf: Settings) -> EspAdapter:
        adapter = adapter_for(destination, conf)
        ensure_group = adapter.ensure_group

        def slow(name: str) -> EspObject:
            during.append(picked.wait(10))
            return ensure_group(name)

        adapter.ensure_group = slow  # type: ignore[method-assign]
        return adapter

    summary = run_sync(settings, options=SyncOptions(as_of=AS_OF), adapter_factory=factory)
    assert summary.status == "ok", summary.errors
    assert during and all(during)
    state = emu.state  # type: ignore[attr-defined]
    assert state.list_emails(state.find_list("segsync:buyers").id) == {email(i) for i in buyers()}
