"""What a sync run records for the report: each segment's cohort (size, entered and exited
since its previous recorded run, member and held-out ids)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from connector.evaluate.engine import Evaluation
from connector.reconcile.idsets import decode_ids, encode_ids
from connector.reconcile.state import CohortRecord, StateStore
from connector.timespec import format_instant

__all__ = ["record_cohorts"]


def _changes(previous: CohortRecord | None, ids: np.ndarray) -> tuple[int | None, int | None]:
    if previous is None or previous.members is None:
        return None, None
    before = np.union1d(decode_ids(previous.members), decode_ids(previous.held_out_ids or b""))
    if before.dtype != ids.dtype and len(before) and len(ids):
        return None, None  # the id type changed: no comparison
    # sets, not np.setdiff1d: on object arrays (text ids) that took 85 s for 20,000 ids
    now, then = set(ids.tolist()), set(before.tolist())
    return len(now - then), len(then - now)


def record_cohorts(
    state: StateStore, run_id: str, result: Evaluation, names: Iterable[str]
) -> None:
    """Record the cohorts of ``names`` (segments evaluated in ``result``)."""
    records = []
    for name in sorted(set(names) & set(result.members)):
        members = result.members[name]
        held = result.held_out[name]
        ids = np.unique(result.profile_ids[members])
        entered, exited = _changes(state.latest_cohort(name), ids)
        records.append(
            CohortRecord(
                run_id=run_id,
                segment=name,
                as_of=format_instant(result.as_of),
                size=int(members.sum()),
                held_out=int(held.sum()),
                entered=entered,
                exited=exited,
                members=encode_ids(result.profile_ids[members & ~held].tolist()),
                held_out_ids=encode_ids(result.profile_ids[held].tolist()),
            )
        )
    state.record_cohorts(records)
