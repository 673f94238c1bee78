"""The verdict snapshot: every profile's rule results at the rollup's instant ``T0``, kept
beside the rollup (``connector.source.verdicts``), so that a later run at ``T1 >= T0``
evaluates only the profiles whose results can differ and takes the others' from it.

- ``planning``: whether a run's rules can use a snapshot (``plan``), the fingerprints a
  snapshot is keyed by, and the durations that bound which profiles can change;
- ``changed``: the set ``D`` of profiles whose results can differ, and why it suffices;
- ``writing``: whether a run writes the snapshot (``due``) and the writing (``write``);
- ``evaluation``: a later run (``run``) evaluating ``D`` and merging with the snapshot;
- ``table``: the snapshot table's columns and the queries writing and using it share.
"""

from __future__ import annotations

from connector.evaluate.snapshot.evaluation import run
from connector.evaluate.snapshot.planning import Output, Plan, full_reason, plan, trait_reason
from connector.evaluate.snapshot.writing import due, write

__all__ = ["Output", "Plan", "due", "full_reason", "plan", "run", "trait_reason", "write"]
