"""End to end: a real DuckDB store → segsync sync → the Mailchimp emulator over loopback HTTP.

Expectations come from the data's own formulas, not from segsync's pipeline.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from connector.definitions.destinations import Destination
from connector.emulator import EmulatorOptions, run_emulator
from connector.esp.base import EspAdapter, EspObject
from connector.esp.mailchimp import adapter as mailchimp_adapter
from connector.esp.mailchimp.adapter import MailchimpAdapter
from connector.esp.mailchimp.batches import OperationResult
from connector.esp.registry import adapter_for
from connector.evaluate.identity import is_held_out
from connector.reconcile.runner import SyncOptions, run_sync
from connector.settings import Settings, load_settings
from tests.conftest import insert_rows, make_store, point_at_emulator, write_config

AS_OF = datetime(2026, 11, 23, 12)
AUDIENCE = "demo-audience"
N = 1500
SEGMENTS = {
    "ca-buyers": """\
        name: ca-buyers
        rule:
          all:
            - {attribute: region, op: eq, value: ca}
            - {event: order_completed, within: 30d}
        destinations: [{to: mc}]
        """,
    "buyers": """\
        name: buyers
        rule: {event: order_completed, within: 30d}
        destinations: [{to: mc, mode: tag}]
        """,
    "viewers": """\
        name: viewers
        holdout: 20
        rule: {event: page_view, within: 30d}
        destinations: [{to: mc, mode: tag}]
        """,
}
DESTINATIONS = f"mc: {{esp: mailchimp, audience: {AUDIENCE}, fields: {{region: STATE}}}}\n"


def email(i: int) -> str:
    return "broken-address" if i % 97 == 5 else f"u{i}@example.com"


def region(i: int) -> str:
    return "CA" if i % 3 == 0 else ("NY" if i % 3 == 1 else "TX")


def profiles(n: int = N) -> list[tuple[object, ...]]:
    rows = []
    for i in range(n):
        rows.append(
            (f"p{i:05d}", email(i), i % 4 != 0, region(i), 30, 1.0, False, AS_OF, None, None)
        )
    return rows


def events(n: int = N, *, buyers: range | None = None) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for i in range(n):
        if i % 2 == 0 if buyers is None else i in buyers:
            rows.append(
                (f"p{i:05d}", "order_completed", AS_OF - timedelta(days=3), "tv", 10.0, None)
            )
        if i % 5 == 0:
            rows.append((f"p{i:05d}", "page_view", AS_OF - timedelta(days=1), None, None, None))
    return rows


SEEDED = {6: "unsubscribed", 12: "cleaned", 4: "subscribed"}  # existing ESP contacts


def present(i: int) -> bool:
    """In the ESP after a sync: seeded, or created because it has consent and a valid email."""
    return i in SEEDED or (i % 4 != 0 and email(i) != "broken-address")


@pytest.fixture
def world(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Settings, object, Path]]:
    store_path = tmp_path / "customers.duckdb"
    make_store(profiles(), events(), path=store_path).close()
    write_config(tmp_path / "config", SEGMENTS, destinations=DESTINATIONS)
    with run_emulator("mailchimp", EmulatorOptions(merge_fields=("STATE",), seed=7)) as emu:
        for i, status in SEEDED.items():
            emu.state.add_member(AUDIENCE, email(i), status, tags=["newsletter"])
        point_at_emulator(monkeypatch, emu, tmp_path)
        monkeypatch.setenv("SEGSYNC_RETRY__INITIAL_BACKOFF_SECONDS", "0.01")
        monkeypatch.setenv("SEGSYNC_RETRY__MAX_BACKOFF_SECONDS", "0.05")
        settings = load_settings(
            config_dir=tmp_path / "config",
            source_url=f"duckdb:///{store_path}",
            state_path=tmp_path / "state" / "segsync.db",
        )
        yield settings, emu, store_path


def sync(settings: Settings, **options: object) -> object:
    return run_sync(settings, options=SyncOptions(as_of=AS_OF, **options))  # type: ignore[arg-type]


def expected_buyers(buyers: range | None = None) -> set[str]:
    chosen = (lambda i: i % 2 == 0) if buyers is None else (lambda i: i in buyers)
    return {email(i) for i in range(N) if chosen(i) and present(i)}


def test_first_sync_converges_and_respects_consent(world: tuple[Settings, object, Path]) -> None:
    settings, emu, _ = world
    summary = sync(settings)
    assert summary.status == "ok", summary.errors  # type: ignore[attr-defined]
    state = emu.state  # type: ignore[attr-defined]
    assert state.tag_members(AUDIENCE, "segsync:buyers") == expected_buyers()

    viewers = {
        email(i)
        for i in range(N)
        if i % 5 == 0 and present(i) and not is_held_out("viewers", f"p{i:05d}", 20)
    }
    assert state.tag_members(AUDIENCE, "segsync:viewers") == viewers
    # ca-buyers keeps region native (merge field STATE) and materialises only the event part
    assert state.tag_members(AUDIENCE, "segsync:ca-buyers") == expected_buyers()
    native = state.segment_members(
        AUDIENCE, "segsync:ca-buyers:segment", statuses=["subscribed", "unsubscribed", "cleaned"]
    )
    assert native == {e for e in expected_buyers() if region(int(e[1:].split("@")[0])) == "CA"}
    # consent: nobody without consent was created; existing contacts keep their status
    wanted = expected_buyers() | viewers
    assert state.emails(AUDIENCE) == wanted | {email(i) for i in SEEDED}
    for i, status in SEEDED.items():
        assert state.member(AUDIENCE, email(i)).status == status
    # tags segsync does not own are untouched
    assert state.tag_members(AUDIENCE, "newsletter") == {email(i) for i in SEEDED}
    # every batch full but the last: buyers has 563 members → 2 add calls for that tag
    tag_id = state.find_segment(AUDIENCE, "segsync:buyers").id
    add_calls = [
        r
        for r in emu.calls.records  # type: ignore[attr-defined]
        if r.method == "POST" and r.path.endswith(f"/segments/{tag_id}")
    ]
    assert len(add_calls) == math.ceil(len(expected_buyers()) / 500)


def test_change_sends_only_the_difference_and_a_noop_sends_nothing(
    world: tuple[Settings, object, Path],
) -> None:
    settings, emu, store_path = world
    assert sync(settings).status == "ok"  # type: ignore[attr-defined]
    # new data: buyers are now i in [0, 600): 300 of the old even ones stay, new odd ones join
    new_buyers = range(600)

    con = duckdb.connect(str(store_path))
    con.execute("DELETE FROM events")
    insert_rows(con, "events", events(buyers=new_buyers))
    con.close()
    before = emu.calls.total()  # type: ignore[attr-defined]
    summary = sync(settings, force=True)  # most buyers leave: the removal guard would trip
    assert summary.status == "ok", summary.errors  # type: ignore[attr-defined]
    state = emu.state  # type: ignore[attr-defined]
    assert state.tag_members(AUDIENCE, "segsync:buyers") == expected_buyers(new_buyers)
    parts = {p.part: p for p in summary.parts}  # type: ignore[attr-defined]
    old, new = expected_buyers(), expected_buyers(new_buyers)
    assert (parts["segsync:buyers"].adds, parts["segsync:buyers"].removes) == (
        len(new - old),
        len(old - new),
    )
    assert parts["segsync:viewers"].adds == parts["segsync:viewers"].removes == 0
    assert emu.calls.total() > before  # type: ignore[attr-defined]
    quiet = emu.calls.total()  # type: ignore[attr-defined]
    again = sync(settings)
    # nothing to write: only the once-per-run key check
    assert again.status == "ok" and again.total_api_calls == 1  # type: ignore[attr-defined]
    assert emu.calls.total() == quiet + 1  # type: ignore[attr-defined]
    assert emu.calls.total("GET", "/3.0/lists/{list_id}") == 1  # type: ignore[attr-defined]


def test_mass_removal_guard_stops_before_writing(world: tuple[Settings, object, Path]) -> None:
    settings, emu, store_path = world
    assert sync(settings).status == "ok"  # type: ignore[attr-defined]

    con = duckdb.connect(str(store_path))
    con.execute("DELETE FROM events WHERE event = 'order_completed' AND profile_id > 'p00010'")
    con.close()
    before = emu.calls.total()  # type: ignore[attr-defined]
    stopped = sync(settings)
    assert (stopped.status, stopped.exit_code) == ("guard", 3)  # type: ignore[attr-defined]
    assert any("max_removal_percent" in g for g in stopped.guards)  # type: ignore[attr-defined]
    # nothing written; only the key check read  # type: ignore[attr-defined]
    assert emu.calls.total() == before + 1  # type: ignore[attr-defined]
    assert emu.state.tag_members(AUDIENCE, "segsync:buyers") == expected_buyers()  # type: ignore[attr-defined]
    forced = sync(settings, force=True)
    assert forced.status == "ok"  # type: ignore[attr-defined]
    left = emu.state.tag_members(AUDIENCE, "segsync:buyers")  # type: ignore[attr-defined]
    assert left == expected_buyers(range(0, 11, 2))


def test_dry_run_writes_nothing(world: tuple[Settings, object, Path]) -> None:
    settings, emu, _ = world
    summary = sync(settings, dry_run=True)
    assert summary.status == "dry_run"  # type: ignore[attr-defined]
    assert sum(p.adds for p in summary.parts) > 0  # type: ignore[attr-defined]
    # it may read (the tags segsync owns, to adopt them), never write
    assert {method for (method, _, _) in emu.calls} <= {"GET"}  # type: ignore[attr-defined]
    assert not settings.state_path.exists() or not sync(settings, dry_run=True).errors  # type: ignore[attr-defined]


def test_full_resync_repairs_drift(world: tuple[Settings, object, Path]) -> None:
    settings, emu, _ = world
    assert sync(settings).status == "ok"  # type: ignore[attr-defined]
    state = emu.state  # type: ignore[attr-defined]
    tag = state.find_segment(AUDIENCE, "segsync:buyers")
    removed_by_hand = sorted(state.tag_members(AUDIENCE, "segsync:buyers"))[:10]
    with state.lock:
        audience = state.audience(AUDIENCE)
        for e in removed_by_hand:
            tag.members.pop(audience.find_member(e).id)
    # confirmed state does not know: only the key check
    assert sync(settings).total_api_calls == 1  # type: ignore[attr-defined]
    repaired = sync(settings, full_resync=True)
    assert repaired.status == "ok"  # type: ignore[attr-defined]
    assert state.tag_members(AUDIENCE, "segsync:buyers") == expected_buyers()


def test_faults_are_retried_and_the_sync_converges(world: tuple[Settings, object, Path]) -> None:
    settings, emu, _ = world
    options = emu.options  # type: ignore[attr-defined]
    options.fault_rate_429 = 0.2
    options.fault_rate_5xx = 0.1
    options.fault_rate_reset = 0.05
    options.fault_rate_timeout = 0.03
    options.timeout_hold_s = 5.0
    options.fault_phase = "after"
    fast = settings.model_copy(
        update={"mailchimp": settings.mailchimp.model_copy(update={"timeout_seconds": 1.0})}
    )
    summary = sync(fast)
    options.fault_rate_429 = options.fault_rate_5xx = options.fault_rate_reset = 0.0
    options.fault_rate_timeout = 0.0
    if summary.status != "ok":  # a retry budget may run out; the next run resumes
        summary = sync(settings)
    assert summary.status == "ok", summary.errors  # type: ignore[attr-defined]
    statuses = {s for (_, _, s) in emu.calls}  # type: ignore[attr-defined]
    assert 429 in statuses and statuses & {500, 502, 503} and 0 in statuses  # 0: no response
    assert emu.state.tag_members(AUDIENCE, "segsync:buyers") == expected_buyers()  # type: ignore[attr-defined]


def test_missing_audience_is_a_clear_failure(world: tuple[Settings, object, Path]) -> None:
    settings, emu, _ = world
    (settings.config_dir / "destinations.yaml").write_text(
        "mc: {esp: mailchimp, audience: no-such-list, fields: {region: STATE}}\n"
    )
    summary = sync(settings)
    assert (summary.status, summary.exit_code) == ("failed", 2)  # type: ignore[attr-defined]
    assert "404" in summary.errors[0]  # type: ignore[attr-defined]
    assert emu.api_key not in str(summary.to_json())  # type: ignore[attr-defined]


def test_unknown_merge_field_fails_clearly_before_writing_contacts(
    world: tuple[Settings, object, Path],
) -> None:
    settings, emu, _ = world
    (settings.config_dir / "destinations.yaml").write_text(
        f"mc: {{esp: mailchimp, audience: {AUDIENCE}, fields: {{region: STATE, age: AGE}}}}\n"
    )
    summary = sync(settings)
    assert (summary.status, summary.exit_code) == ("failed", 2)  # type: ignore[attr-defined]
    assert "no merge field AGE (from age)" in summary.errors[0]  # type: ignore[attr-defined]
    assert emu.state.emails(AUDIENCE) == {email(i) for i in SEEDED}  # type: ignore[attr-defined]


def test_fully_native_segment_carries_and_refreshes_fields(
    world: tuple[Settings, object, Path],
) -> None:
    settings, emu, store_path = world
    (settings.config_dir / "segments" / "californians.yaml").write_text(
        "name: californians\nrule: {attribute: region, op: eq, value: CA}\n"
        "destinations: [{to: mc}]\n"
    )
    assert sync(settings, names=["californians"]).status == "ok"  # type: ignore[attr-defined]
    state = emu.state  # type: ignore[attr-defined]
    assert state.find_segment(AUDIENCE, "segsync:californians") is None  # nothing materialised
    everyone = ["subscribed", "unsubscribed", "cleaned"]
    native = state.segment_members(AUDIENCE, "segsync:californians:segment", statuses=everyone)
    assert native == {email(i) for i in range(N) if region(i) == "CA" and present(i)}
    # u9 moves from CA to NY: its pushed STATE is refreshed, so the ESP drops it

    con = duckdb.connect(str(store_path))
    con.execute("UPDATE profiles SET region = 'NY' WHERE profile_id = 'p00009'")
    con.close()
    assert sync(settings, names=["californians"]).status == "ok"  # type: ignore[attr-defined]
    assert state.member(AUDIENCE, email(9)).merge_fields["STATE"] == "NY"
    native = state.segment_members(AUDIENCE, "segsync:californians:segment", statuses=everyone)
    assert email(9) not in native and len(native) > 100
    quiet = emu.calls.total()  # type: ignore[attr-defined]
    assert sync(settings, names=["californians"]).total_api_calls == 1  # type: ignore[attr-defined]
    assert emu.calls.total() == quiet + 1  # the key check  # type: ignore[attr-defined]


def test_field_updates_of_contacts_without_consent_go_in_one_batch(
    world: tuple[Settings, object, Path],
) -> None:
    """Members that withdrew consent are never put in an upsert (it could create them), so
    their new field values go by PATCH: all of a run's in one POST /batches, not one batch
    per 500 contacts."""
    settings, emu, store_path = world
    con = duckdb.connect(str(store_path))
    con.execute("DELETE FROM events")
    insert_rows(con, "events", events(buyers=range(N)))  # everyone buys
    con.close()
    assert sync(settings).status == "ok"  # type: ignore[attr-defined]
    con = duckdb.connect(str(store_path))
    con.execute("UPDATE profiles SET email_consent = FALSE, region = 'WA'")
    con.close()
    state = emu.state  # type: ignore[attr-defined]
    pushed = {e for e in state.emails(AUDIENCE) if state.member(AUDIENCE, e).merge_fields}
    assert len(pushed) > 1000  # more than two upserts' worth
    calls = emu.calls  # type: ignore[attr-defined]
    batches = calls.total("POST", "/3.0/batches")
    summary = sync(settings)
    assert summary.status == "ok", summary.errors  # type: ignore[attr-defined]
    assert summary.field_updates == {"mc": len(pushed)}  # type: ignore[attr-defined]
    assert calls.total("POST", "/3.0/batches") == batches + 1
    assert calls.total("PATCH", "/3.0/lists/{list_id}/members/{subscriber_hash}") == 0
    assert {state.member(AUDIENCE, e).merge_fields.get("STATE") for e in pushed} == {"WA"}
    assert state.contract_violations == []


def _withdraw_and_join(settings: Settings, store_path: Path) -> None:
    """After a first sync, the members (even) withdraw consent and move (their fields go in
    a POST /batches); everyone buys, so the odd ones join (they are upserted)."""
    assert sync(settings).status == "ok"  # type: ignore[attr-defined]
    con = duckdb.connect(str(store_path))
    con.execute(
        "UPDATE profiles SET email_consent = FALSE, region = 'WA' "
        "WHERE email_consent AND CAST(substr(profile_id, 2) AS INTEGER) % 2 = 0"
    )
    con.execute("DELETE FROM events")
    insert_rows(con, "events", events(buyers=range(N)))
    con.close()


def test_the_batch_of_field_updates_is_sent_before_the_upserts(
    world: tuple[Settings, object, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The POST /batches has the longest chain (processed in the background, polled, its
    results downloaded): it leaves before the other contacts' upserts, which go once it
    is being sent, however long its operations take to build (here: slowed down). The
    order is the SDK's requests as they leave the client."""
    settings, emu, store_path = world
    _withdraw_and_join(settings, store_path)
    sent: list[tuple[str, str]] = []
    hashed = mailchimp_adapter.subscriber_hash

    def slow_hash(address: str) -> str:  # each operation's path names the member's hash
        time.sleep(0.0005)
        return hashed(address)

    monkeypatch.setattr(mailchimp_adapter, "subscriber_hash", slow_hash)

    def factory(destination: Destination, conf: Settings) -> EspAdapter:
        adapter = adapter_for(destination, conf)
        assert isinstance(adapter, MailchimpAdapter)
        adapter._http.client.event_hooks["request"].append(
            lambda request: sent.append((request.method, request.url.path))
        )
        return adapter

    summary = run_sync(settings, options=SyncOptions(as_of=AS_OF), adapter_factory=factory)
    assert summary.status == "ok", summary.errors
    batch = ("POST", "/3.0/batches")
    upsert = ("POST", f"/3.0/lists/{AUDIENCE}")
    assert sent.count(batch) == 1 and upsert in sent, sent
    assert sent.index(batch) < sent.index(upsert), sent
    state = emu.state  # type: ignore[attr-defined]
    assert state.tag_members(AUDIENCE, "segsync:buyers") == expected_buyers(range(N))
    assert state.contract_violations == []


def test_tags_do_not_wait_for_the_batch_of_field_updates(
    world: tuple[Settings, object, Path],
) -> None:
    """The POST /batches of no-consent field updates is processed in the background: the
    tag batches of the contacts already upserted go while it is, not after it."""
    settings, emu, store_path = world
    _withdraw_and_join(settings, store_path)
    emu.options.import_delay_s = 1.0  # type: ignore[attr-defined]
    events_seen: list[str] = []

    def factory(destination: Destination, conf: Settings) -> EspAdapter:
        adapter = adapter_for(destination, conf)
        assert isinstance(adapter, MailchimpAdapter)
        run, change = adapter._batch_runner.run, adapter.change_members

        def batched(operations: Sequence[dict[str, Any]]) -> dict[str, OperationResult]:
            done = run(operations)
            events_seen.append("batch done")
            return done

        def tagged(group: EspObject, adds: Sequence[str], removes: Sequence[str]) -> Any:
            result = change(group, adds, removes)
            events_seen.append("tagged")
            return result

        adapter._batch_runner.run = batched  # type: ignore[method-assign]
        adapter.change_members = tagged  # type: ignore[method-assign]
        return adapter

    summary = run_sync(settings, options=SyncOptions(as_of=AS_OF), adapter_factory=factory)
    assert summary.status == "ok", summary.errors
    assert events_seen.count("batch done") == 1 and "tagged" in events_seen
    assert events_seen.index("tagged") < events_seen.index("batch done"), events_seen
    state = emu.state  # type: ignore[attr-defined]
    assert state.tag_members(AUDIENCE, "segsync:buyers") == expected_buyers(range(N))
    assert state.contract_violations == []
