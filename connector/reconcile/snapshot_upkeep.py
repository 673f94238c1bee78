"""After ``segsync load events``: the verdict snapshot kept beside the rollup, so that
later syncs, plans and previews (which open the store read-only) evaluate only the profiles
whose results can have changed (``connector.evaluate.snapshot``)."""

from __future__ import annotations

from connector.definitions.loader import Definitions
from connector.esp.registry import capabilities_for
from connector.evaluate.traits import trait_fields
from connector.plan.split import plan_splits
from connector.reconcile.runner import evaluate_for_sync
from connector.settings import Settings
from connector.source import open_store, rollups, verdicts

__all__ = ["keep_snapshot"]


def keep_snapshot(settings: Settings, defs: Definitions) -> str | None:
    """The evaluation every sync runs (all segments with destinations, their parts, fields
    and traits), at the instant of the store's rollup, on the store opened for writing:
    the run writes the snapshot. A note for the user when one is kept."""
    wanted = [name for name, segment in defs.segments.items() if segment.destinations]
    if not wanted:
        return None
    with open_store(settings.source_url, settings.store, read_only=False) as store:
        kept = rollups.read_state(store) if rollups.supports(store) else None
        if kept is None:
            return None
        schema = store.discover()
        splits = plan_splits(defs, wanted, schema, capabilities=capabilities_for)
        traits = trait_fields(defs, schema, sorted({s.destination for s in splits}))
        evaluate_for_sync(store, defs, schema, wanted, splits, traits, kept.as_of, None)
        if verdicts.read(store) is None:  # rules the snapshot cannot bound (validate says)
            return None
    return "verdict snapshot kept: later runs evaluate only the profiles that can change"
