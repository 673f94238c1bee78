"""Cohorts at an instant: each segment's members after exclusive groups (before
min_size), split by the holdout formula into members (treated) and held out (control).
Profiles without a valid email stay in the cohort."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from connector.definitions.loader import Definitions
from connector.evaluate.engine import Evaluation, evaluate
from connector.source.store import Store

__all__ = ["Cohort", "cohorts_from_evaluation", "evaluate_cohorts"]


@dataclass(frozen=True)
class Cohort:
    """Profile ids of one segment's cohort, each group sorted."""

    segment: str
    treated: np.ndarray
    control: np.ndarray

    @property
    def size(self) -> int:
        return len(self.treated) + len(self.control)


def cohorts_from_evaluation(result: Evaluation, names: Sequence[str]) -> dict[str, Cohort]:
    """The cohorts of ``names`` from an evaluation (its rows are sorted by profile id)."""
    cohorts = {}
    for name in names:
        members = result.members[name]
        held = result.held_out[name]
        cohorts[name] = Cohort(
            name,
            treated=result.profile_ids[members & ~held],
            control=result.profile_ids[members & held],
        )
    return cohorts


def evaluate_cohorts(
    store: Store, defs: Definitions, names: Sequence[str], as_of: datetime
) -> dict[str, Cohort]:
    """Evaluate ``names`` at ``as_of`` and return their cohorts."""
    result = evaluate(store, defs, as_of=as_of, names=names)
    return cohorts_from_evaluation(result, names)
