"""Runs from the verdict snapshot equal full runs and the oracle.

A writable run at ``T0`` builds the rollup and keeps every profile's results beside it;
then events arrive in random chunks (late data included), profile rows change, appear and
disappear, and a run at ``as_of`` evaluates only the profiles whose results can differ,
taking every other one's from the snapshot. Targeted cases pin each reason a profile's
results can change: a window's edge passing an event, a percent threshold moving past a
profile, a profile row updated or added, a late event, a relative timestamp attribute.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from connector.definitions.loader import Definitions, load_definitions
from connector.esp.registry import destination_models
from connector.evaluate.engine import Evaluation, evaluate
from connector.source import open_store, verdicts
from tests.evaluate.harness import (
    append_events,
    arrival_chunks,
    compare,
    load_duckdb,
    make_oracle_store,
    replace_profiles,
    same_rows,
    write_config,
)
from tests.evaluate.oracle import OracleStore
from tests.evaluate.strategies import Example, examples, keyed_examples
from tests.evaluate.test_incremental import BACKS
from tests.evaluate.test_property import PROFILE


def _profiles_at_t0(example: Example, data: st.DataObject) -> list[dict[str, Any]]:
    """The profile rows as they were at ``T0``: some not there yet, some since updated,
    and one since deleted."""
    rows = [dict(p) for p in example.store.profiles]
    later = data.draw(st.sets(st.integers(0, len(rows) - 1)), label="profiles added after T0")
    for index in data.draw(st.sets(st.integers(0, len(rows) - 1)), label="rows updated"):
        column = data.draw(
            st.sampled_from([c for c in rows[index] if c != "profile_id"]), label="column"
        )
        others = [r[column] for r in example.store.profiles]
        rows[index][column] = data.draw(st.sampled_from([None, *others]), label="old value")
    kept = [r for i, r in enumerate(rows) if i not in later]
    if data.draw(st.booleans(), label="a profile deleted after T0"):
        kept.append({**rows[0], "profile_id": "zz-gone"})
    return kept


@pytest.mark.slow
@settings(PROFILE, max_examples=max(10, PROFILE.max_examples // 2))
@given(example=examples(), data=st.data())
def test_snapshot_equals_full_and_oracle(example: Example, data: st.DataObject) -> None:
    check(example, data)


@pytest.mark.slow
@settings(PROFILE, max_examples=max(10, PROFILE.max_examples // 2))
@given(example=keyed_examples(), data=st.data())
def test_snapshot_of_keyed_rules_equals_full_and_oracle(
    example: Example, data: st.DataObject
) -> None:
    check(example, data)


def check(example: Example, data: st.DataObject) -> None:
    """Snapshot at ``T0``; events appended in chunks and profile rows changed; the run at
    ``as_of`` equals a full run and the oracle."""
    chunks = arrival_chunks(example.store.events, data)
    t0 = example.as_of - data.draw(st.sampled_from(BACKS), label="as_of - T0")
    first = OracleStore(
        profiles=_profiles_at_t0(example, data),
        events=chunks[0],
        profile_types=example.store.profile_types,
        event_types=example.store.event_types,
    )
    with (
        tempfile.TemporaryDirectory() as root,
        open_store("duckdb:///:memory:", read_only=False) as db,
    ):
        defs = write_config(Path(root), example.segments, example.metrics)
        load_duckdb(first, db)
        built = evaluate(db, defs, as_of=t0, previous=example.previous or None)
        for chunk in chunks[1:]:
            append_events(db, chunk)
        replace_profiles(db, example.store.profiles)
        run, _, report = compare(
            db,
            example.store,
            Path(root),
            example.segments,
            example.metrics,
            example.as_of,
            previous=example.previous or None,
        )
        event(f"T0 {built.mode}, then {run.mode}")
        if report:
            pytest.fail("snapshot run and oracle disagree\n" + "\n".join(report), False)
        full = evaluate(
            db,
            load_definitions(Path(root), destination_models()),
            as_of=example.as_of,
            incremental=False,
            previous=example.previous or None,
        )
        problems = same_rows(run, full, what="snapshot")
        assert not problems, "\n".join(problems)


# -- targeted cases -------------------------------------------------------------------------
T1 = datetime(2026, 11, 23)
T0 = T1 - timedelta(days=1)
ORDER = "order_completed"
#: a rule over events, so that the store keeps a rollup (and the snapshot beside it)
BUYERS = {"event": ORDER}


def _order(pid: str, ts: datetime, amount: float = 1.0) -> dict[str, Any]:
    return {"profile_id": pid, "event": ORDER, "ts": ts, "amount": amount}


def _runs(
    tmp: Path,
    segments: Mapping[str, Mapping[str, Any]],
    profiles: list[dict[str, Any]],
    events: list[dict[str, Any]],
    *,
    metrics: Mapping[str, Any] | None = None,
    appended: Sequence[Mapping[str, Any]] = (),
    profiles_t1: list[dict[str, Any]] | None = None,
) -> tuple[Evaluation, Evaluation]:
    """The snapshot written at ``T0`` (file store, writable), events appended and profile
    rows replaced; then a read-only run at ``T1`` and a full one."""
    bodies = {name: {"name": name, "rule": rule} for name, rule in segments.items()}
    defs: Definitions = write_config(tmp / "config", bodies, dict(metrics or {}))
    url = f"duckdb:///{tmp / 'store.duckdb'}"
    with open_store(url, read_only=False) as db:
        load_duckdb(make_oracle_store(profiles, events), db)
        assert evaluate(db, defs, as_of=T0).mode == "rebuilt"
        assert verdicts.read(db) is not None
        append_events(db, appended)
        if profiles_t1 is not None:
            replace_profiles(db, profiles_t1)
    with open_store(url) as db:
        run = evaluate(db, defs, as_of=T1)
        full = evaluate(db, defs, as_of=T1, incremental=False)
    assert run.mode == "snapshot"
    problems = same_rows(run, full, what="snapshot")
    assert not problems, "\n".join(problems)
    return run, full


def _members(result: Evaluation, name: str) -> set[str]:
    return {str(p) for p in result.profile_ids[result.qualified[name]]}


def _top_half(tmp: Path, **change: Any) -> set[str]:
    """The top 50 % by orders of a, b, c, d (4, 3, 2 and 1 orders a month before T0) at
    ``T1``, after ``change`` (``appended`` events, ``profiles_t1``)."""
    old = T0 - timedelta(days=30)
    counts = {"a": 4, "b": 3, "c": 2, "d": 1}
    events = [_order(pid, old) for pid, n in counts.items() for _ in range(n)]
    run, _ = _runs(
        tmp,
        {"top": {"metric": "orders", "top_percent": 50}},
        _people(*counts),
        events,
        metrics={"orders": {"event": ORDER, "aggregate": "count"}},
        **change,
    )
    return _members(run, "top")


def _people(*ids: str) -> list[dict[str, Any]]:
    return [{"profile_id": pid, "email": f"{pid}@example.com"} for pid in ids]


def test_window_edge_to_the_second(tmp_path: Path) -> None:
    """An event exactly on the window's edge at T1 stays in; one a second older left."""
    events = [
        _order("on-edge", T1 - timedelta(days=7)),
        _order("left", T1 - timedelta(days=7, seconds=1)),
    ]
    rule = {"event": ORDER, "within": "7d"}
    run, _ = _runs(tmp_path, {"s": rule}, _people("on-edge", "left", "none"), events)
    assert _members(run, "s") == {"on-edge"}


def test_threshold_moving_past_an_unchanged_profile(tmp_path: Path) -> None:
    """Another profile's new orders lift the top-50 % threshold above ``b``'s count: ``b``
    (no event of its own since T0) drops out."""
    appended = [_order("c", T1 - timedelta(hours=1)) for _ in range(2)]
    assert _top_half(tmp_path, appended=appended) == {"a", "c"}


def test_profile_row_updated_added_and_removed(tmp_path: Path) -> None:
    """Rows changed after T0 are evaluated again; a new profile appears, a gone one goes."""
    profiles = [{**p, "region": "CA"} for p in _people("moved", "stays", "gone")]
    later = [
        {**profiles[0], "region": "NY"},
        profiles[1],
        {**_people("new")[0], "region": "CA"},
    ]
    rule = {"attribute": "region", "op": "eq", "value": "CA"}
    segments = {"ca": rule, "buyers": BUYERS}
    run, _ = _runs(tmp_path, segments, profiles, [_order("stays", T0)], profiles_t1=later)
    assert _members(run, "ca") == {"stays", "new"}


def test_changed_email_gets_its_new_key(tmp_path: Path) -> None:
    """A profile whose email alone changed after T0 comes back with its new address and
    key (the snapshot keeps keys for unchanged emails only); the others keep theirs."""
    profiles = _people("moved", "stays")
    later = [{**profiles[0], "email": " Moved@New.Example.COM "}, profiles[1]]
    events = [_order("moved", T0 - timedelta(days=2)), _order("stays", T0 - timedelta(days=2))]
    run, _ = _runs(tmp_path, {"buyers": BUYERS}, profiles, events, profiles_t1=later)
    emails = dict(zip(run.profile_ids.tolist(), run.emails.tolist(), strict=True))
    assert emails == {"moved": "moved@new.example.com", "stays": "stays@example.com"}


def test_changed_consent_comes_back(tmp_path: Path) -> None:
    """A profile whose consent alone changed after T0 (no rule reads it) comes back with
    its new consent: the snapshot keeps consent for unchanged rows only."""
    profiles = [{**p, "email_consent": True} for p in _people("withdrew", "stays")]
    later = [{**profiles[0], "email_consent": False}, profiles[1]]
    events = [_order(p, T0 - timedelta(days=2)) for p in ("withdrew", "stays")]
    run, _ = _runs(tmp_path, {"buyers": BUYERS}, profiles, events, profiles_t1=later)
    consent = dict(zip(run.profile_ids.tolist(), run.consent.tolist(), strict=True))
    assert consent == {"withdrew": False, "stays": True}


def test_mapped_attributes_kept_and_read(tmp_path: Path) -> None:
    """The snapshot keeps the attributes its writing run returned (ESP fields): a later
    run returning them gets a changed one anew (the digest covers them), and one it does
    not keep is read from the profiles table."""
    bodies = {"buyers": {"name": "buyers", "rule": BUYERS}}
    defs = write_config(tmp_path / "config", bodies, {})
    url = f"duckdb:///{tmp_path / 'store.duckdb'}"
    people = [
        {**p, "region": "CA", "city": city}
        for p, city in zip(_people("moved", "stays"), ["Fresno", "Napa"], strict=True)
    ]
    events = [_order(p["profile_id"], T0 - timedelta(days=2)) for p in people]
    with open_store(url, read_only=False) as db:
        load_duckdb(make_oracle_store(people, events), db)
        assert evaluate(db, defs, as_of=T0, attributes=["region"]).mode == "rebuilt"
        meta = verdicts.read(db)
        assert meta is not None and list(meta.attributes) == ["region"]
        replace_profiles(db, [{**people[0], "region": "NY", "city": "Albany"}, people[1]])
    with open_store(url) as db:
        for attributes in (["region"], ["city", "region"]):
            run = evaluate(db, defs, as_of=T1, attributes=attributes)
            full = evaluate(db, defs, as_of=T1, incremental=False, attributes=attributes)
            assert run.mode == "snapshot"
            assert not same_rows(run, full, what="snapshot")
    assert run.attributes["region"].tolist() == ["NY", "CA"]
    assert run.attributes["city"].tolist() == ["Albany", "Napa"]


def test_late_event_with_an_old_time(tmp_path: Path) -> None:
    """An event appended after T0 with a time long before it counts."""
    rule = {"event": ORDER, "count": {"gte": 2}}
    events = [_order("late", T0 - timedelta(days=200))]
    run, _ = _runs(
        tmp_path,
        {"twice": rule},
        _people("late", "other"),
        events,
        appended=[_order("late", T0 - timedelta(days=100))],
    )
    assert _members(run, "twice") == {"late"}


def test_relative_timestamp_attribute(tmp_path: Path) -> None:
    """``signup_at`` within the last 30 days: a profile that signed up 30 days and an hour
    before T1 was in at T0 and is out at T1."""
    profiles = [
        {**_people("old")[0], "signup_at": T1 - timedelta(days=30, hours=1)},
        {**_people("recent")[0], "signup_at": T1 - timedelta(days=29)},
    ]
    rule = {"attribute": "signup_at", "op": "within_last", "value": "30d"}
    events = [_order("recent", T0 - timedelta(days=400))]  # far from every band
    run, _ = _runs(tmp_path, {"new": rule, "buyers": BUYERS}, profiles, events)
    assert _members(run, "new") == {"recent"}


def test_days_since_last_crossing_a_count(tmp_path: Path) -> None:
    """30 days since the last order at T1 (29 at T0): the day count crossed 30."""
    events = [_order("lapsing", T1 - timedelta(days=30, minutes=5)), _order("fresh", T0)]
    run, _ = _runs(
        tmp_path,
        {"lapsed": {"metric": "since", "gte": 30}},
        _people("lapsing", "fresh"),
        events,
        metrics={"since": {"event": ORDER, "aggregate": "days_since_last"}},
    )
    assert _members(run, "lapsed") == {"lapsing"}


def test_what_cannot_be_bounded_runs_in_full(tmp_path: Path) -> None:
    """A percent rank of days since: every profile's value moves with as_of."""
    events = [_order("a", T0 - timedelta(days=3)), _order("b", T0 - timedelta(days=9))]
    bodies = {"s": {"name": "s", "rule": {"metric": "since", "bottom_percent": 50}}}
    metrics = {"since": {"event": ORDER, "aggregate": "days_since_last"}}
    defs = write_config(tmp_path, bodies, metrics)
    with open_store("duckdb:///:memory:", read_only=False) as db:
        load_duckdb(make_oracle_store(_people("a", "b"), events), db)
        assert evaluate(db, defs, as_of=T0).mode == "rebuilt"
        assert evaluate(db, defs, as_of=T1).mode == "rollup"


def test_event_recorded_ahead_of_its_time(tmp_path: Path) -> None:
    """An event already in the store at T0 but timed after it counts only at T1."""
    events = [_order("booked", T0 + timedelta(hours=1))]
    run, _ = _runs(tmp_path, {"s": BUYERS}, _people("booked", "other"), events)
    assert _members(run, "s") == {"booked"}


def test_gone_profile_leaves_the_ranking(tmp_path: Path) -> None:
    """A profile deleted after T0 no longer counts for the top-50 % threshold."""
    assert _top_half(tmp_path, profiles_t1=_people("a", "b", "c")) == {"a"}


def test_appended_event_without_a_profile(tmp_path: Path) -> None:
    """An event with no profile id appended after T0 is in no ranking: ``c`` and ``d``
    each ordered once more, and the top half is ``a`` alone (4 orders; then 3, 3, 2)."""
    appended = [
        {"profile_id": None, "event": ORDER, "ts": T1 - timedelta(hours=1)},
        _order("c", T1 - timedelta(hours=1)),
        _order("d", T1 - timedelta(hours=1)),
    ]
    assert _top_half(tmp_path, appended=appended) == {"a"}


def _top(tmp: Path, percent: float, **change: Any) -> Evaluation:
    """The top ``percent`` by orders of p1..p10 (1 to 10 orders a month before T0; the
    snapshot keeps the nearest value either side of the threshold) at ``T1``, after
    ``change`` (``appended`` events, ``profiles_t1``)."""
    old = T0 - timedelta(days=30)
    events = [_order(f"p{n}", old) for n in range(1, 11) for _ in range(n)]
    run, _ = _runs(
        tmp,
        {"top": {"metric": "orders", "top_percent": percent}},
        _people(*[f"p{n}" for n in range(1, 11)]),
        events,
        metrics={"orders": {"event": ORDER, "aggregate": "count"}},
        **change,
    )
    return run


def test_threshold_leaving_its_neighbourhood(tmp_path: Path) -> None:
    """Top 20 %: three profiles overtake everyone, and the threshold (22 orders) is far
    above the values the snapshot keeps around it (8 to 10): it is read from the whole
    distribution."""
    appended = [_order(f"p{n}", T1 - timedelta(hours=1)) for n in (1, 2, 3) for _ in range(20)]
    assert _members(_top(tmp_path, 20, appended=appended), "top") == {"p2", "p3"}


def test_threshold_falling_below_its_neighbourhood(tmp_path: Path) -> None:
    """Top 30 %: the three profiles at the top are deleted (and p1 orders again, so the
    run evaluates some profile); the threshold falls from 8 to 6 orders, below the values
    kept around it (7 to 9), though 7 still qualifies."""
    kept = _people(*[f"p{n}" for n in range(1, 8)])
    again = [_order("p1", T1 - timedelta(hours=1))]
    run = _top(tmp_path, 30, profiles_t1=kept, appended=again)
    assert _members(run, "top") == {"p6", "p7"}


def test_threshold_moving_within_its_neighbourhood(tmp_path: Path) -> None:
    """Top 20 %: one profile overtakes the top two, and the threshold moves from 9 to 10
    orders, within the snapshot's neighbourhood (8 to 10), counting the profile beyond."""
    appended = [_order("p1", T1 - timedelta(hours=1)) for _ in range(20)]
    assert _members(_top(tmp_path, 20, appended=appended), "top") == {"p1", "p10"}


def test_a_profile_id_duplicated_after_t0_falls_back_to_a_full_run(tmp_path: Path) -> None:
    """The snapshot is keyed by profile id: once two rows share one, a run evaluates every
    profile (both rows, as a full run returns them) instead of merging from it."""
    bodies = {"buyers": {"name": "buyers", "rule": BUYERS}}
    defs = write_config(tmp_path / "config", bodies, {})
    url = f"duckdb:///{tmp_path / 'store.duckdb'}"
    people = _people("a", "b")
    with open_store(url, read_only=False) as db:
        load_duckdb(make_oracle_store(people, [_order("a", T0), _order("b", T0)]), db)
        assert evaluate(db, defs, as_of=T0).mode == "rebuilt"
        replace_profiles(db, [*people, {**people[0], "email": "a2@example.com"}])
    with open_store(url) as db:
        run = evaluate(db, defs, as_of=T1)
        full = evaluate(db, defs, as_of=T1, incremental=False)
    assert run.mode != "snapshot"
    assert sorted(map(str, run.raw_emails)) == ["a2@example.com", "a@example.com", "b@example.com"]
    assert not same_rows(run, full, what="fallback")
