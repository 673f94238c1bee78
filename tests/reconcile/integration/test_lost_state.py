"""A lost, emptied or truncated state store: the next sync adopts the tags/lists segsync owns,
reads their actual membership back from the ESP and removes the people who left meanwhile
(issue: with confirmed state gone, leavers used to stay in the ESP for good)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from connector.emulator import EmulatorOptions, run_emulator
from connector.reconcile.runner import SyncOptions, run_sync
from connector.reconcile.state import StateStore
from connector.reconcile.summary import RunSummary
from connector.settings import Settings, load_settings
from tests.conftest import insert_rows, make_store, point_at_emulator, write_config

AS_OF = datetime(2026, 11, 23, 12)
N = 2000
AUDIENCE = "demo-audience"


def email(i: int) -> str:
    return f"l{i}@example.com"


def orders(buyers: set[int]) -> list[tuple[object, ...]]:
    return [
        (f"p{i:05d}", "order_completed", AS_OF - timedelta(days=2), "tv", 1.0, None)
        for i in sorted(buyers)
    ]


FIRST = {i for i in range(N) if i % 2 == 0}
# 5 % of the store changes: 100 buyers leave, 100 others join
SECOND = (FIRST - set(range(0, 400, 4))) | set(range(1, 200, 2))


def lose(path: Path, how: str) -> None:
    if how == "deleted":
        for suffix in ("", "-wal", "-shm", ".lock"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
    elif how == "truncated":
        path.write_bytes(b"")
        for suffix in ("-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
    else:  # emptied: the tables are there, with no rows
        store = StateStore(path)
        with store.transaction() as tx:
            for table in ("members", "objects", "contacts", "pending", "run_parts", "runs"):
                tx.execute(f"DELETE FROM {table}")
        store.close()


World = tuple[Settings, Callable[[], set[str]], Path]


@pytest.fixture(params=["mailchimp", "klaviyo"])
def world(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    esp = request.param
    store_path = tmp_path / "c.duckdb"
    people = [
        (f"p{i:05d}", email(i), True, "CA", 30, 1.0, False, AS_OF, None, None) for i in range(N)
    ]
    make_store(people, orders(FIRST), path=store_path).close()
    target = f"mc: {{esp: mailchimp, audience: {AUDIENCE}}}\n" if esp == "mailchimp" else (
        "mc: {esp: klaviyo}\n"
    )  # fmt: skip
    write_config(
        tmp_path / "config",
        {"buyers": "name: buyers\nrule: {event: order_completed, within: 30d}\n"
                   "destinations: [{to: mc}]\n"},
        destinations=target,
    )  # fmt: skip
    with run_emulator(esp, EmulatorOptions(seed=3)) as emu:
        point_at_emulator(monkeypatch, emu, tmp_path)
        settings = load_settings(
            config_dir=tmp_path / "config",
            source_url=f"duckdb:///{store_path}",
            state_path=tmp_path / "state" / "segsync.db",
        )

        def members() -> set[str]:
            if esp == "mailchimp":
                return set(emu.state.tag_members(AUDIENCE, "segsync:buyers"))  # type: ignore[attr-defined]
            found = emu.state.find_list("segsync:buyers")  # type: ignore[attr-defined]
            return set(emu.state.list_emails(found.id)) if found else set()  # type: ignore[attr-defined]

        yield settings, members, store_path


def sync(settings: Settings, **options: object) -> RunSummary:
    return run_sync(settings, options=SyncOptions(as_of=AS_OF, **options))  # type: ignore[arg-type]


@pytest.mark.parametrize("how", ["deleted", "truncated", "emptied"])
def test_after_losing_the_state_the_leavers_are_removed(world: World, how: str) -> None:
    settings, members, store_path = world
    assert sync(settings).status == "ok"
    assert members() == {email(i) for i in FIRST}
    con = duckdb.connect(str(store_path))
    con.execute("DELETE FROM events")
    insert_rows(con, "events", orders(SECOND))
    con.close()
    lose(settings.state_path, how)

    summary = sync(settings)
    assert summary.status == "ok", summary.errors
    (part,) = summary.parts
    assert (part.adds, part.removes) == (len(SECOND - FIRST), len(FIRST - SECOND))
    assert summary.objects_created == []  # adopted, not created again
    assert members() == {email(i) for i in SECOND}
    again = sync(settings)
    # the confirmed state is whole again: nothing to write, only the once-per-run key check
    assert again.total_api_calls == 1


def test_removals_after_a_lost_state_still_meet_the_guard(world: World) -> None:
    settings, members, store_path = world
    assert sync(settings).status == "ok"
    con = duckdb.connect(str(store_path))
    con.execute("DELETE FROM events WHERE profile_id > 'p00100'")  # most buyers leave
    con.close()
    lose(settings.state_path, "deleted")
    stopped = sync(settings)
    assert stopped.status == "guard"
    assert members() == {email(i) for i in FIRST}  # nothing removed
    dry = sync(settings, dry_run=True, force=True)
    assert dry.parts[0].removes == len(FIRST) - 51
