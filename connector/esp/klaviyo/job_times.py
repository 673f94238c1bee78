"""How long a Klaviyo bulk import job took, from Klaviyo's own timestamps.

A finished job's resource says when Klaviyo created it and when it completed
(``created_at``, ``completed_at``: ``YYYY-MM-DDTHH:MM:SS.mmmmmm`` in the API reference) and
how many profiles it carried (``total_count``). That processing time, kept with the
account's others (``connector.esp.processing_times``: per process, and in the state store
across runs), times the first poll of a new job: the moment it is expected done, rather
than a fixed guess. Stamps without fractional seconds are truncated to the second, so such
a time is counted as up to a second longer than they say.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from connector.esp.processing_times import ProcessingTime, elapsed

__all__ = ["job_time"]


def job_time(job_id: str, attributes: Mapping[str, Any]) -> ProcessingTime | None:
    """A complete job's processing time (None: not complete, or no usable stamps)."""
    if attributes.get("status") != "complete":
        return None
    seconds = elapsed(attributes.get("created_at"), attributes.get("completed_at"))
    profiles = attributes.get("total_count")
    if seconds is None or not isinstance(profiles, int) or profiles <= 0:
        return None
    return ProcessingTime(job_id, profiles, seconds, time.time())
