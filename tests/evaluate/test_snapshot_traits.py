"""Runs that compute traits (what a sync does for destinations mapping them) use the verdict
snapshot too: the snapshot keeps each trait's value, and the profiles whose value can have
changed since ``T0`` are evaluated again — those a trait's window or a bucket edge of a
``days_since_last`` reaches, besides the rules' own. A trait of a ``days_since_last``
value itself moves for every profile each day: the snapshot keeps the latest event's time,
and a run works the days out from it."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from connector.definitions.conditions import Condition
from connector.definitions.traits import Trait
from connector.evaluate.engine import Evaluation, evaluate
from connector.source import open_store, verdicts
from tests.evaluate.harness import (
    append_events,
    load_duckdb,
    make_oracle_store,
    replace_profiles,
    same_rows,
    write_config,
)
from tests.evaluate.test_traits import CATEGORIES, TRAITS, event_dicts, profile_rows
from tests.evaluate.test_traits import METRICS as TRAIT_METRICS

T1 = datetime(2026, 11, 23)
T0 = T1 - timedelta(days=1)
ORDER = "order_completed"
EVERYONE = {"attribute": "profile_id", "op": "exists"}
METRICS = {"recency": {"event": ORDER, "aggregate": "days_since_last"}}


def _order(pid: str, ts: datetime, category: str = "books") -> dict[str, Any]:
    return {"profile_id": pid, "event": ORDER, "ts": ts, "category": category, "amount": 1.0}


def _people(*ids: str) -> list[dict[str, Any]]:
    return [{"profile_id": pid, "email": f"{pid}@example.com"} for pid in ids]


def _runs(
    tmp: Path,
    traits: Mapping[str, Any],
    profiles: list[dict[str, Any]],
    events: list[dict[str, Any]],
    *,
    appended: Sequence[Mapping[str, Any]] = (),
    profiles_t1: list[dict[str, Any]] | None = None,
) -> tuple[Evaluation, dict[str, dict[str, Any]]]:
    """The snapshot written at ``T0`` by a run computing ``traits`` (everyone qualifies, as
    in a sync), events appended and profile rows replaced; then a read-only run at ``T1``
    checked against a full one, rules and traits. Returns the run and, per trait, each
    profile's value."""
    segments = {
        "everyone": {"name": "everyone", "rule": EVERYONE},
        "buyers": {"name": "buyers", "rule": {"event": ORDER}},  # the store keeps a rollup
    }
    defs = write_config(tmp / "config", segments, METRICS)
    wanted = {k: TypeAdapter(Trait).validate_python(v) for k, v in traits.items()}
    url = f"duckdb:///{tmp / 'store.duckdb'}"
    with open_store(url, read_only=False) as db:
        load_duckdb(make_oracle_store(profiles, events), db)
        assert evaluate(db, defs, as_of=T0, traits=wanted).mode == "rebuilt"
        kept = verdicts.read(db) is not None
        append_events(db, appended)
        if profiles_t1 is not None:
            replace_profiles(db, profiles_t1)
    with open_store(url) as db:
        run = evaluate(db, defs, as_of=T1, traits=wanted)
        full = evaluate(db, defs, as_of=T1, traits=wanted, incremental=False)
    problems = same_rows(run, full, what="snapshot")
    assert not problems, "\n".join(problems)
    values = {key: _by_profile(run, key) for key in traits}
    assert values == {key: _by_profile(full, key) for key in traits}
    assert kept == (run.mode == "snapshot")  # a snapshot kept at T0 is used at T1
    return run, values


def _by_profile(result: Evaluation, key: str) -> dict[str, Any]:
    return dict(zip(map(str, result.profile_ids), result.traits[key].tolist(), strict=True))


def test_a_top_value_whose_window_moved_on(tmp_path: Path) -> None:
    """``a``'s two books leave the 7-day window between T0 and T1 with no event of its
    own since: its top category turns from books to toys."""
    edge = T0 - timedelta(days=7) + timedelta(hours=12)
    events = [_order("a", edge), _order("a", edge), _order("a", T0 - timedelta(days=1), "toys")]
    events += [_order("b", T0 - timedelta(days=2), "games")]
    traits = {"top": {"top_value": {"event": ORDER, "property": "category", "within": "7d"}}}
    run, values = _runs(tmp_path, traits, _people("a", "b"), events)
    assert run.mode == "snapshot"
    assert values["top"] == {"a": "toys", "b": "games"}


def test_a_days_since_last_bucket_crossing_an_edge(tmp_path: Path) -> None:
    """``a`` last ordered 29.5 days before T0: at T1 it is 30 days, the next bucket."""
    events = [_order("a", T0 - timedelta(days=29, hours=12)), _order("b", T0 - timedelta(days=2))]
    bucket = {"metric": "recency", "edges": [30, 90], "labels": ["recent", "lapsing", "gone"]}
    run, values = _runs(tmp_path, {"stage": {"bucket": bucket}}, _people("a", "b"), events)
    assert run.mode == "snapshot"
    assert values["stage"] == {"a": "lapsing", "b": "recent"}


def test_a_changed_attribute_and_a_new_event(tmp_path: Path) -> None:
    """An attribute trait follows the profile row; a top value the appended event."""
    profiles = [{**p, "region": "CA"} for p in _people("a", "b")]
    later = [{**profiles[0], "region": "NY"}, profiles[1]]
    events = [_order("a", T0 - timedelta(days=3)), _order("b", T0 - timedelta(days=3))]
    appended = [_order("b", T1 - timedelta(hours=1), "toys")] * 2
    traits = {
        "region": {"attribute": "region"},
        "top": {"top_value": {"event": ORDER, "property": "category"}},
    }
    run, values = _runs(tmp_path, traits, profiles, events, appended=appended, profiles_t1=later)
    assert run.mode == "snapshot"
    assert values["region"] == {"a": "NY", "b": "CA"}
    assert values["top"] == {"a": "books", "b": "toys"}


def test_a_days_since_last_value_moves_for_every_profile(tmp_path: Path) -> None:
    """Every profile's days since its last order grows each day without an event: the
    snapshot keeps the last order's time, and the run counts the days to T1."""
    events = [_order("a", T0 - timedelta(days=5)), _order("c", T0 - timedelta(hours=1))]
    appended = [_order("c", T1 - timedelta(hours=1))]
    traits = {"days": {"metric": "recency"}}
    run, values = _runs(tmp_path, traits, _people("a", "b", "c"), events, appended=appended)
    assert run.mode == "snapshot"
    assert values["days"] == {"a": 6, "b": None, "c": 0}


#: test_traits' events, their days before T1 drawn near the traits' edges: its 365-day
#: windows and its buckets of 1 and 3 orders
event_rows = st.lists(
    st.fixed_dictionaries(
        {
            "who": st.integers(0, 7),
            "event": st.sampled_from(["order_completed", " Order_completed", "page_view"]),
            "days": st.sampled_from([-1, 0, 2, 30, 364, 365, 365, 365, 366]),
            "category": st.sampled_from(CATEGORIES),
            "amount": st.one_of(st.none(), st.sampled_from([10.0, 50.0, 80.0])),
        }
    ),
    max_size=30,
)


@settings(max_examples=30, deadline=None)
@given(
    people=profile_rows,
    happenings=event_rows,
    arrived=st.lists(st.booleans(), min_size=30, max_size=30),
    back=st.sampled_from([timedelta(hours=6), timedelta(days=1), timedelta(days=3)]),
)
def test_every_trait_from_the_snapshot_equals_a_full_run(
    people: list[dict[str, Any]],
    happenings: list[dict[str, Any]],
    arrived: list[bool],
    back: timedelta,
) -> None:
    """test_traits' traits (top values with and without windows and filters, buckets of
    attributes and metrics, maps, metric values, a days_since_last among them): events
    timed around T0 and T1, some appended after the snapshot; the run at T1 computes the
    same traits and members as a full one."""
    t0 = T1 - back
    profiles = [{"profile_id": f"p{i}", "email": f"u{i}@x.com", **p} for i, p in enumerate(people)]
    events = event_dicts(happenings, T1)
    # events after T0 arrive after the snapshot, as do some of the others (late data)
    kept = [i for i, e in enumerate(events) if e["ts"] <= t0 and not arrived[i % len(arrived)]]
    early = [events[i] for i in kept]
    later = [e for i, e in enumerate(events) if i not in kept]
    early.append(_order("nobody", t0 - timedelta(days=400)))  # a profile-less event
    with tempfile.TemporaryDirectory() as root:
        defs = write_config(Path(root), {"all": {"name": "all", "rule": EVERYONE}}, TRAIT_METRICS)
        traits = {k: TypeAdapter(Trait).validate_python(v) for k, v in TRAITS.items()}
        with open_store("duckdb:///:memory:", read_only=False) as db:
            load_duckdb(make_oracle_store(profiles, early), db)
            extra = {"buyers": {"event": "order_completed"}}  # so that a rollup is kept
            evaluate(db, defs, as_of=t0, traits=traits, extra_rules=_rules(extra))
            append_events(db, later)
            run = evaluate(db, defs, as_of=T1, traits=traits, extra_rules=_rules(extra))
            full = evaluate(
                db, defs, as_of=T1, traits=traits, extra_rules=_rules(extra), incremental=False
            )
    event(f"mode {run.mode}")
    problems = same_rows(run, full, what="snapshot")
    assert not problems, "\n".join(problems)
    for key in TRAITS:
        assert _by_profile(run, key) == _by_profile(full, key), key


def _rules(rules: Mapping[str, Any]) -> dict[str, Condition]:
    return {k: TypeAdapter(Condition).validate_python(v) for k, v in rules.items()}
