"""Which features a run reads from the store's rollup, and keeping that rollup current.

A run with ``incremental`` (the default) on a DuckDB store:

- uses the rollup when it is valid (``connector.source.rollups``) and not newer than the
  run's ``as_of``: decomposable aggregates whose parts it holds come from it plus the
  events added since and gone from windows (``FeatureScan.advance_parts``);
- on a writable store, (re)builds it at the run's ``as_of`` first when it is missing,
  invalid, newer than ``as_of`` or lacks parts the run needs (definitions changed);
- otherwise computes every feature from raw events, as ``incremental=False`` does.

``advance`` moves a valid rollup to a later instant (after ``segsync load events
--append``), so later runs read fewer events.
"""

from __future__ import annotations

from datetime import datetime

from connector.evaluate.features import FeatureScan, RollupUse
from connector.evaluate.rollup import Part
from connector.source import rollups
from connector.source.store import Store

__all__ = ["advance", "attach"]


def _use(state: rollups.RollupState) -> RollupUse:
    return RollupUse(state.as_of, state.watermark, frozenset(state.parts))


def attach(store: Store, scan: FeatureScan) -> str:
    """Point ``scan`` at the store's rollup where it can; returns how the run evaluates:
    ``full``, ``rollup`` or ``rebuilt``."""
    if not rollups.supports(store):
        return "full"
    needed = scan.parts()
    if not needed or not rollups.has_events_table(store):
        return "full"
    state = rollups.read_state(store)
    usable = state is not None and state.as_of <= scan.as_of
    complete = usable and state is not None and set(needed) <= set(state.parts)
    how = "rollup"
    if not complete and rollups.writable(store):
        parts = dict(needed)
        if usable and state is not None:  # keep what other runs use
            parts.update({c: Part.from_spec(s) for c, s in state.parts.items()})
        builder = FeatureScan(scan.schema, scan.as_of)
        select = builder.build_parts(list(parts.values()))
        rollups.write(
            store, select, as_of=scan.as_of, parts={c: p.spec() for c, p in parts.items()}
        )
        state = rollups.read_state(store)
        usable, how = state is not None, "rebuilt"
    if not usable or state is None:
        return "full"
    scan.rollup = _use(state)
    return how if scan.served() else "full"


def advance(store: Store, as_of: datetime) -> bool:
    """Move the store's rollup to ``as_of`` (no earlier than it is); ``False`` when there
    is no valid rollup to move."""
    state = rollups.read_state(store)
    if state is None or state.as_of > as_of or not rollups.writable(store):
        return False
    scan = FeatureScan(store.discover(refresh=True), as_of)
    scan.rollup = _use(state)
    parts = [Part.from_spec(s) for s in state.parts.values()]
    rollups.write(store, scan.advance_parts(parts), as_of=as_of, parts=state.parts)
    return True
