"""The status page's latest lifts: the newest recorded cohort whose window the data covers,
else the newest (provisional); a kpis problem is reported, not raised."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from connector.definitions.loader import load_definitions
from connector.esp.registry import destination_models
from connector.measure.latest import latest_lifts
from connector.reconcile.idsets import encode_ids
from connector.reconcile.state import CohortRecord, StateStore
from connector.timespec import format_instant
from tests.conftest import make_store, write_config
from tests.measure.conftest import T

SEGMENT = {"s": "name: s\nrule: {attribute: region, op: eq, value: CA}\nholdout: 50\n"}


def _record(state: StateStore, run_id: str, days: int, treated: list[str], held: list[str]) -> None:
    as_of = format_instant(T + timedelta(days=days))
    state.start_run(run_id, "cli", as_of)
    size = len(treated) + len(held)
    ids = encode_ids(treated), encode_ids(held)
    state.record_cohorts([CohortRecord(run_id, "s", as_of, size, len(held), None, None, *ids)])


def test_latest_complete_cohort_is_measured(tmp_path: Path) -> None:
    people = [(f"p{i}", f"p{i}@x.io", True, "CA", 30, 1.0, False, T, None, None)
              for i in range(8)]  # fmt: skip
    orders = [(f"p{i}", "order_completed", T + timedelta(days=2), "tv", 10.0, None)
              for i in range(4)]  # fmt: skip
    orders.append(("p0", "page_view", T + timedelta(days=20), None, None, None))
    store = make_store(people, orders)
    defs = load_definitions(write_config(tmp_path / "config", SEGMENT), destination_models())
    state = StateStore(tmp_path / "s.db")
    try:
        _record(state, "old", 0, ["p0", "p1", "p2", "p3"], ["p4", "p5", "p6", "p7"])
        _record(state, "new", 10, ["p0"], ["p7"])  # its window ends after the last event
        (lift,) = latest_lifts(store, defs, state, ["s"]).lifts
        assert lift.run_id == "old" and lift.provisional is False
        assert lift.segment.members.conversion_rate == 1.0
        assert lift.segment.held_out.conversion_rate == 0.0
        state2 = StateStore(tmp_path / "s2.db")
        _record(state2, "only", 10, ["p0"], ["p7"])
        (only,) = latest_lifts(store, defs, state2, ["s"]).lifts
        assert only.run_id == "only" and only.provisional is True
        state2.close()
        broken = load_definitions(
            write_config(tmp_path / "bad", SEGMENT, metrics="kpis: {conversion_event: buy}\n"),
            destination_models(),
        )
        result = latest_lifts(store, broken, state, ["s"])
        assert result.lifts == [] and result.note is not None and "unknown event" in result.note
    finally:
        state.close()
        store.close()
