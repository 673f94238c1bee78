"""Percentile hysteresis across runs (docs/design.md): what a sync run records and reads.

A segment with ``hysteresis`` on a percent condition keeps the profiles of its qualified set
at its last sync run while they are within P + N %. Each sync run that evaluates such a
segment records its qualified set (``run_qualified``); the next run reads it back.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from connector.definitions.loader import Definitions
from connector.definitions.walk import has_esp_conditions, hysteresis_nodes
from connector.evaluate.engine import Evaluation
from connector.reconcile.idsets import decode_ids, encode_ids
from connector.reconcile.state import StateStore

__all__ = ["hysteretic", "previous_qualified", "record_qualified"]


def _reach(defs: Definitions, names: Iterable[str]) -> set[str]:
    """``names`` and every segment an evaluation of them computes: those reached through
    ``in_segment`` and the other segments of their exclusive groups, repeatedly."""
    reached: set[str] = set()
    todo = set(names)
    while todo - reached:
        reached |= todo
        groups = {defs.segments[n].exclusive_group for n in reached if n in defs.segments}
        todo = set(defs.dependencies(reached)) | {
            n for n, s in defs.segments.items() if s.exclusive_group in groups - {None}
        }
    return reached


def hysteretic(defs: Definitions, names: Iterable[str]) -> list[str]:
    """The segments an evaluation of ``names`` computes (``in_segment`` targets and
    exclusive-group siblings included) whose own rule has a ``hysteresis`` condition and
    can be evaluated locally, sorted."""
    return sorted(
        name
        for name in _reach(defs, names)
        if name in defs.segments
        and not has_esp_conditions(defs.segments[name].rule)
        and any(True for _ in hysteresis_nodes(defs.segments[name].rule))
    )


def previous_qualified(
    state: StateStore, segments: Iterable[str], run_id: str | None = None
) -> dict[str, list[object]]:
    """Per segment, the profile ids it qualified at its latest recorded sync run (or at run
    ``run_id``); segments without one are left out (their hysteresis has no effect)."""
    previous: dict[str, list[object]] = {}
    for name in segments:
        blob = state.qualified(name, run_id)
        if blob is not None:
            previous[name] = decode_ids(blob).tolist()
    return previous


def record_qualified(
    state: StateStore, run_id: str, result: Evaluation, segments: Iterable[str]
) -> None:
    """Record the qualified sets of ``segments`` (those evaluated in ``result``)."""
    records = {
        name: encode_ids(np.unique(result.profile_ids[result.qualified[name]]).tolist())
        for name in segments
        if name in result.segments
    }
    if records:
        state.record_qualified(run_id, records)
