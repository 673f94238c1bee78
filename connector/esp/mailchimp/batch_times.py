"""How long a Mailchimp batch (``POST /batches``) took: when to poll the next one first.

A finished batch says when Mailchimp received it and when all its operations completed
(``submitted_at``, ``completed_at``: ISO 8601; Mailchimp's examples and answers give whole
seconds, ``2024-01-15T10:30:00+00:00``) and how many operations it carried
(``total_operations``). The time between the stamps, a second longer when they are whole
seconds (each is truncated), is a wait after the batch was accepted that certainly finds
it done. The client knows one more such wait: how long after the ``POST /batches`` answer
it sent the poll that found the batch finished. The smaller of the two is kept: for a
batch of minutes the stamps say more (the polls are seconds apart by then), for one of
less than a second the poll does (whole-second stamps cannot tell 0.2 s from 1.9 s).

Kept with the account's other batch times (``connector.esp.processing_times``: the least
over them, scaled up at a batch's rate to more operations, never down), per process and in
the state store across runs. The latest poll that found the batch unfinished is kept too:
the real time lies between it and the poll that found it done, a bracket later runs narrow
(``ProcessingTimes.first_poll``) where the whole-second stamps cannot.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from connector.esp.processing_times import ProcessingTime, elapsed

__all__ = ["batch_time"]


def batch_time(
    batch: Mapping[str, Any], waited: float, not_before: float = 0.0
) -> ProcessingTime | None:
    """A finished batch's processing time; ``waited``: seconds from the ``POST /batches``
    answer to the sending of the poll that found it finished; ``not_before``: to the
    sending of the latest poll that found it unfinished (0: none), which it took longer
    than (None: not finished, or neither the stamps nor the wait say anything)."""
    if batch.get("status") != "finished":
        return None
    operations = batch.get("total_operations")
    batch_id = str(batch.get("id") or "")
    if not isinstance(operations, int) or operations <= 0 or not batch_id:
        return None
    seconds = waited if waited >= 0 else None
    stamped = elapsed(batch.get("submitted_at"), batch.get("completed_at"))
    if stamped is not None:
        seconds = stamped if seconds is None else min(seconds, stamped)
    if seconds is None:
        return None
    # a lower end above the upper one is dropped where times are kept (ProcessingTimes.add)
    return ProcessingTime(batch_id, operations, seconds, time.time(), not_before)
