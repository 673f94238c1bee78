"""Mailchimp batch operations: many API calls carried by one ``POST /batches``.

Used for the field updates of contacts that may not be created (``PATCH …/members/{hash}``,
which never creates a contact): one request carries them all instead of one request
each. A batch runs in the background: it is accepted ``pending``, goes ``started`` (the
reference also names ``preprocessing`` and ``finalizing``) and ``finished``; only then does
``response_body_url`` point at a gzipped tar of JSON files, each an array of
``{status_code, operation_id, response}`` (``response``: the operation's answer body as
text). ``GET /batches/{id}`` is polled, first when the account's earlier batches say it will be
done (``batch_times.py``: their ``submitted_at``/``completed_at``, per operation; kept in the
state store across runs), or after ``poll_seconds`` when none is known; then, while the
batch reports progress (``finished_operations`` of ``total_operations``), when the rate so
far says it will be done (a poll sooner would only hear "not yet": every poll is a call),
else doubling; at most ``max_poll_seconds`` apart. The archive is a pre-signed link to file
storage: it is fetched without credentials (the key never leaves for another host) and
counted as a call under ``R_RESULTS``.

A ``POST /batches`` retried after a lost answer may run its operations twice: PATCHes of
the same values are idempotent, so nothing is done twice that matters.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connector.errors import EspError, RetriableEspError, StopRequestedError
from connector.esp.mailchimp.batch_times import batch_time
from connector.esp.processing_times import ProcessingTimes

__all__ = ["R_BATCH", "R_BATCHES", "R_RESULTS", "BatchRunner", "OperationResult", "parse_results"]

R_BATCHES = "/batches"
R_BATCH = "/batches/{batch_id}"
R_RESULTS = "response_body_url"
_STATUS_FIELDS = [
    "id",
    "status",
    "total_operations",
    "finished_operations",
    "errored_operations",
    "response_body_url",
    "submitted_at",
    "completed_at",
]


@dataclass(frozen=True)
class OperationResult:
    """One operation's answer: its HTTP status and its JSON body (``{}`` when none)."""

    status: int
    body: Mapping[str, Any]


def parse_results(archive: bytes) -> dict[str, OperationResult]:
    """The results in a batch's archive, by ``operation_id`` (those without one are left
    out). Raises ``ValueError`` for an archive that is not what Mailchimp sends."""
    results: dict[str, OperationResult] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            for member in tar.getmembers():
                if not (member.isfile() and member.name.endswith(".json")):
                    continue
                handle = tar.extractfile(member)
                items = json.loads(handle.read()) if handle is not None else []
                for item in items if isinstance(items, list) else []:
                    if not isinstance(item, dict) or item.get("operation_id") is None:
                        continue
                    text = item.get("response") or ""
                    try:
                        body = json.loads(text) if text else {}
                    except ValueError:
                        body = {}
                    results[str(item["operation_id"])] = OperationResult(
                        int(item.get("status_code") or 0), body if isinstance(body, dict) else {}
                    )
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ValueError(f"the batch results are not a gzipped tar ({exc})") from None
    return results


class BatchRunner:
    """Submit operations as one batch, wait for it, return each operation's result."""

    def __init__(
        self,
        *,
        start: Callable[[dict[str, Any]], dict[str, Any]],
        status: Callable[[str, list[str]], dict[str, Any]],
        fetch: Callable[[str], bytes],
        sleep: Callable[[float], None],
        now: Callable[[], float],
        stopped: Callable[[], bool],
        poll_seconds: float = 0.25,
        max_poll_seconds: float = 5.0,
        timeout_seconds: float = 1800.0,
        times: ProcessingTimes | None = None,
    ) -> None:
        self._start = start
        self._status = status
        self._fetch = fetch
        self._sleep = sleep
        self._now = now
        self._stopped = stopped
        self.poll_seconds = poll_seconds
        self.max_poll_seconds = max_poll_seconds
        self.timeout_seconds = timeout_seconds
        #: the account's batch processing times (a new one each runner when not shared)
        self.times = times if times is not None else ProcessingTimes()

    def _next_wait(self, batch: Mapping[str, Any], elapsed: float, wait: float) -> float:
        """Seconds to the next poll: when the operations finished so far, at their rate
        since the batch was sent, say the rest will be done (at least a fifth of the first
        wait, at most ``max_poll_seconds``); without progress to go by, doubling the last
        wait. The rate since the batch was sent counts its time in the queue too, so the
        estimate errs late rather than early (one poll more than needed is one call more)."""
        doubled = min(wait * 2, self.max_poll_seconds)
        try:
            total = int(batch.get("total_operations") or 0)
            done = int(batch.get("finished_operations") or 0)
        except (TypeError, ValueError):
            return doubled
        if not 0 < done < total:
            return doubled
        eta = elapsed * (total - done) / done
        return min(max(eta, self.poll_seconds / 5), self.max_poll_seconds)

    def _first_wait(self, operations: int) -> float:
        """Seconds from the batch's acceptance to its first poll: when the account's earlier
        batches say it will be done (or inside a wide bracket of their times:
        ``ProcessingTimes.first_poll``), else ``poll_seconds``; at most half the timeout,
        so a batch is polled before it is given up."""
        expected = self.times.first_poll(operations)
        if expected is None:
            return self.poll_seconds
        return min(max(expected, self.poll_seconds / 5), self.timeout_seconds / 2)

    def _pause(self, seconds: float) -> None:
        """Sleep until the next poll, at most ``max_poll_seconds`` at a time, so a stop
        request is heard within that even during a long learned wait."""
        remaining = seconds
        while True:
            step = min(remaining, self.max_poll_seconds)
            self._sleep(step)
            remaining -= step
            if self._stopped():
                raise StopRequestedError("mailchimp: stopped while a batch was processed")
            if remaining <= 0:
                return

    def run(self, operations: Sequence[dict[str, Any]]) -> dict[str, OperationResult]:
        """Results by ``operation_id``; an operation missing from them was not reported."""
        batch = self._start({"operations": list(operations)})
        batch_id = str(batch.get("id") or "")
        if not batch_id:
            raise EspError("Mailchimp accepted the batch without an id", esp="mailchimp")
        started = self._now()
        deadline = started + self.timeout_seconds
        wait = self._first_wait(len(operations))
        # a poll after this finds a batch like it done, as far as the account's batches tell
        done_by = self.times.expected(len(operations))
        waited: float | None = None  # no poll: a batch finished when accepted teaches nothing
        not_before = 0.0  # the latest poll that found it unfinished
        while batch.get("status") != "finished":
            if self._now() + wait > deadline:
                raise RetriableEspError(
                    f"batch {batch_id} still {batch.get('status')} after "
                    f"{self.timeout_seconds:.0f} s",
                    esp="mailchimp",
                    method="GET",
                    path=R_BATCH,
                )
            self._pause(wait)
            if waited is not None:
                not_before = waited
            waited = self._now() - started
            batch = self._status(batch_id, _STATUS_FIELDS)
            elapsed = self._now() - started
            wait = self._next_wait(batch, elapsed, wait)
            if done_by is not None and elapsed < done_by:
                # a first poll inside the bracket found it unfinished: no later than the
                # time the account's batches were found done by
                wait = min(wait, max(done_by - elapsed, self.poll_seconds / 5))
        learned = batch_time(batch, waited, not_before) if waited is not None else None
        if learned is not None:
            self.times.add(learned)
        url = str(batch.get("response_body_url") or "")
        if not url:
            raise EspError(f"batch {batch_id} finished without results", esp="mailchimp")
        try:
            return parse_results(self._fetch(url))
        except ValueError as exc:
            raise EspError(f"batch {batch_id}: {exc}", esp="mailchimp") from None
