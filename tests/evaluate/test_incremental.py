"""Incremental runs equal full runs and the oracle while events arrive in random chunks.

A rollup is built at an earlier instant ``T0`` from a first chunk of events; the other
chunks are appended afterwards (late data included: their timestamps are anywhere), the
rollup is now and then advanced to an instant between ``T0`` and ``as_of``; then a run at
``as_of`` from the rollup must equal a full run and the oracle, for every profile.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from connector.definitions.loader import load_definitions
from connector.esp.registry import destination_models
from connector.evaluate.engine import Evaluation, evaluate
from connector.evaluate.incremental import advance
from connector.source import open_store, rollups
from tests.evaluate.harness import append_events, compare, load_duckdb, write_config
from tests.evaluate.oracle import OracleStore
from tests.evaluate.strategies import Example, examples
from tests.evaluate.test_property import PROFILE

#: how long before as_of the rollup is first built: none, a second, across window edges
BACKS = [timedelta(0), timedelta(seconds=1), timedelta(days=1), timedelta(days=3, hours=5)]
BACKS += [timedelta(days=8), timedelta(days=40), timedelta(days=500)]


def _same(a: Evaluation, b: Evaluation) -> list[str]:
    problems = []
    if list(a.profile_ids) != list(b.profile_ids):
        problems.append(f"rows {list(a.profile_ids)} != {list(b.profile_ids)}")
        return problems
    for name in a.qualified:
        if not np.array_equal(a.qualified[name], b.qualified[name]):
            problems.append(f"{name}: incremental {a.qualified[name]} full {b.qualified[name]}")
    return problems


@settings(PROFILE, max_examples=max(10, PROFILE.max_examples // 2))
@given(example=examples(), data=st.data())
def test_incremental_equals_full_and_oracle(example: Example, data: st.DataObject) -> None:
    # the orphans' events name every event a rule uses: they come first (else the schema
    # check refuses the rules), the others arrive in any order
    events = [e for e in example.store.events if e["profile_id"] != "zz-orphan"]
    orphans = [e for e in example.store.events if e["profile_id"] == "zz-orphan"]
    order = data.draw(st.permutations(range(len(events))), label="arrival order")
    cuts = sorted(data.draw(st.lists(st.integers(0, len(events)), max_size=4), label="cuts"))
    bounds = zip([0, *cuts], [*cuts, len(events)], strict=True)
    chunks = [[events[i] for i in order[a:b]] for a, b in bounds]
    chunks[0] = orphans + chunks[0]
    t0 = example.as_of - data.draw(st.sampled_from(BACKS), label="as_of - T0")
    first = OracleStore(
        profiles=example.store.profiles,
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
        built = evaluate(db, defs, as_of=t0)
        event(f"rollup: {built.mode}")
        moment = t0
        for chunk in chunks[1:]:
            append_events(db, chunk)
            if data.draw(st.booleans(), label="advance the rollup"):
                step = data.draw(st.sampled_from([0.0, 0.5, 1.0]), label="to")
                moment += (example.as_of - moment) * step
                assert advance(db, moment) == (built.mode != "full")
        incremental, _, report = compare(
            db, example.store, Path(root), example.segments, example.metrics, example.as_of
        )
        if report:
            pytest.fail("incremental run and oracle disagree\n" + "\n".join(report), False)
        if built.mode != "full":
            assert incremental.mode == "rollup"
        full = evaluate(
            db,
            load_definitions(Path(root), destination_models()),
            as_of=example.as_of,
            incremental=False,
        )
        problems = _same(incremental, full)
        assert not problems, "\n".join(problems)
        assert rollups.read_state(db) is not None or built.mode == "full"
