"""Klaviyo bulk profile import jobs: submit, poll until done, read the refused profiles.

``POST /api/profile-bulk-import-jobs`` takes ≤ 10,000 profiles and ≤ 5 MB; it is an upsert
that grants no consent and cannot clear a field with null. The job is asynchronous: every
job of a run is submitted first, then all are polled together (``queued`` → ``processing``
→ ``complete``/``cancelled``; one ``GET /api/profile-bulk-import-jobs`` lists the newest
100) with a growing interval, and each job's ``import-errors`` name the refused profiles
by ``original_payload`` or by ``source.pointer`` (an index into the submitted profiles).

A job's body is encoded once, here: each profile is encoded to JSON when its size is
measured, and the body is those texts joined, sent through the SDK's own API client (its
URL, ``revision`` and content-type headers, our HTTP client). The SDK's generated method
would validate 10,000 profiles into pydantic models and walk them back into dicts — about
a second of CPU per job, holding the GIL while the other jobs wait to be sent; the body
has the OpenAPI shape the SDK's models describe (the emulator validates it against the
OpenAPI document).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from connector.errors import (
    EspNotFoundError,
    EspValidationError,
    MemberError,
    RetriableEspError,
)
from connector.esp.base import Contact
from connector.esp.klaviyo.errors import ESP, IMPORT_ERROR, import_error
from connector.esp.klaviyo.job_times import job_time
from connector.esp.klaviyo.shapes import (
    POINTER_INDEX,
    R_IMPORT,
    R_IMPORT_ERRORS,
    R_IMPORTS,
    payload_email,
    profile_attributes,
)
from connector.esp.processing_times import ProcessingTimes
from connector.esp.ratelimit import Clock

__all__ = ["MAX_IMPORT_BYTES", "MAX_IMPORT_PROFILES", "MAX_PROFILE_BYTES", "BulkImports"]

log = logging.getLogger("segsync.esp.klaviyo")

MAX_IMPORT_BYTES = 4_500_000  # under the 5 MB payload limit of a bulk import job
MAX_IMPORT_PROFILES = 10_000
MAX_PROFILE_BYTES = 100 * 1024  # Klaviyo's limit per profile

#: ``call(method, route, fn)``: one SDK call under the adapter's retry policy
Call = Callable[[str, str, Callable[[], Any]], dict[str, Any]]
#: ``paged(method, route, fetch)``: every resource of a cursor-paged collection
Paged = Callable[[str, str, Callable[[str | None], Any]], Iterator[dict[str, Any]]]


class BulkImports:
    """Runs bulk import jobs through the adapter's SDK, retry policy and clock."""

    def __init__(
        self,
        api: Any,
        *,
        call: Call,
        paged: Paged,
        clock: Clock,
        poll_seconds: float,
        timeout_seconds: float,
        lists_exist: Callable[[Sequence[str]], bool] = lambda ids: True,
        parallel: int = 1,
        times: ProcessingTimes | None = None,
    ) -> None:
        self._api = api  # the SDK's Profiles API
        self._lists_exist = lists_exist
        self._call = call
        self._paged = paged
        self._clock = clock
        self._poll_seconds = poll_seconds
        self._timeout_seconds = timeout_seconds
        self._parallel = parallel
        self._times = times or ProcessingTimes()

    def run(
        self,
        contacts: list[Contact],
        lists: Sequence[str] = (),
        journal: Callable[[list[str]], None] | None = None,
    ) -> dict[str, MemberError]:
        """Run bulk import jobs (≤ 10,000 profiles, < 5 MB each), adding every imported
        profile to ``lists`` in the same job; refused emails → error. ``journal`` is
        called with each job's emails before that job is sent (so the first job does not
        wait for the others' journal, which is written while it is on the wire).

        Every job is submitted first (``parallel`` at a time), then all are waited for
        together: a job needs no connection while Klaviyo processes it, so the jobs of one
        run are processed at the same time, and one ``GET /api/profile-bulk-import-jobs``
        reports on up to 100 of them.

        A profile over Klaviyo's 100 KB limit is refused here, alone, without being sent;
        a job the API refuses as a whole (400) is split in halves until the refused
        profile is alone, so one bad row never blocks the others.
        """
        refused: dict[str, MemberError] = {}
        submitted: list[tuple[str, list[Contact], float]] = []  # id, contacts, accepted at
        workers = max(1, self._parallel)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="klaviyo-import") as pool:
            # each job is sent as soon as it is encoded: the next one is encoded while the
            # first is on the wire, instead of every job before the first is sent
            futures = [
                pool.submit(self._journal_and_submit, batch, resources, lists, journal)
                for batch, resources in self._jobs(contacts, refused)
            ]
            for future in futures:
                accepted, rejected = future.result()
                submitted += accepted
                refused.update(rejected)
        finished = self._wait_all(
            [job_id for job_id, _, _ in submitted],
            self._first_wait([(len(members), accepted) for _, members, accepted in submitted]),
        )
        for job_id, members, _ in submitted:
            refused.update(self._outcome(job_id, finished[job_id], members))
        return refused

    def _first_wait(self, jobs: list[tuple[int, float]]) -> float:
        """Seconds from now until every job (profiles, accepted at) is expected done: the
        processing times Klaviyo reported for the account's earlier jobs (``job_times.py``),
        else ``poll_seconds`` after each was accepted."""
        now = self._clock.now()
        waits = [0.0]
        for profiles, accepted in jobs:
            expected = self._times.expected(profiles)
            waits.append((self._poll_seconds if expected is None else expected) - (now - accepted))
        return max(waits)

    @staticmethod
    def _jobs(
        contacts: list[Contact], refused: dict[str, MemberError]
    ) -> Iterator[tuple[list[Contact], list[str]]]:
        """The contacts in jobs (≤ 10,000 profiles, < 5 MB each) with each profile's JSON
        text, one job at a time; a profile over 100 KB goes to ``refused`` instead."""
        batch: list[Contact] = []
        resources: list[str] = []  # each profile's JSON text
        size = 0
        for contact in contacts:
            resource = json.dumps(
                {"type": "profile", "attributes": profile_attributes(contact)},
                ensure_ascii=False,
                separators=(",", ":"),
            )
            weight = len(resource.encode()) + 1
            if weight > MAX_PROFILE_BYTES:
                refused[contact.email] = MemberError(
                    contact.email,
                    f"the profile is {weight // 1024} KB, over Klaviyo's 100 KB per profile "
                    "(a mapped field holds too much)",
                    "profile_too_large",
                    permanent=True,
                )
                continue
            if batch and (size + weight > MAX_IMPORT_BYTES or len(batch) >= MAX_IMPORT_PROFILES):
                yield batch, resources
                batch, resources, size = [], [], 0
            batch.append(contact)
            resources.append(resource)
            size += weight
        if batch:
            yield batch, resources

    def _journal_and_submit(
        self,
        contacts: list[Contact],
        resources: list[str],
        lists: Sequence[str],
        journal: Callable[[list[str]], None] | None,
    ) -> tuple[list[tuple[str, list[Contact], float]], dict[str, MemberError]]:
        """Journal, then submit, one job (split if refused whole); each accepted job's id,
        contacts and the clock reading when it was accepted."""
        if journal is not None:
            journal([c.email for c in contacts])
        accepted, refused = self._submit(contacts, resources, lists)
        now = self._clock.now()
        return [(job_id, members, now) for job_id, members in accepted], refused

    def _submit(
        self, contacts: list[Contact], resources: list[str], lists: Sequence[str]
    ) -> tuple[list[tuple[str, list[Contact]]], dict[str, MemberError]]:
        """Submit one job; a job refused as a whole is split in halves until the refused
        profile is alone. The accepted jobs (id, contacts) and the refused emails."""
        try:
            return [(self._create(resources, lists), contacts)], {}
        except EspValidationError as exc:
            if lists and not self._lists_exist(lists):
                raise EspNotFoundError(
                    f"the list is gone ({exc.detail})", esp=ESP, method="POST", path=R_IMPORTS
                ) from None
            if len(contacts) == 1:
                return [], {
                    contacts[0].email: MemberError(
                        contacts[0].email, exc.detail, IMPORT_ERROR, permanent=True
                    )
                }
            half = len(contacts) // 2
            first, refused = self._submit(contacts[:half], resources[:half], lists)
            second, more = self._submit(contacts[half:], resources[half:], lists)
            return first + second, {**refused, **more}

    def _create(self, resources: list[str], lists: Sequence[str]) -> str:
        """``POST /api/profile-bulk-import-jobs`` of these profiles (JSON texts)."""
        relationships = ""
        if lists:
            related = {"lists": {"data": [{"type": "list", "id": list_id} for list_id in lists]}}
            relationships = ',"relationships":' + json.dumps(related, separators=(",", ":"))
        body = (
            '{"data":{"type":"profile-bulk-import-job","attributes":{"profiles":{"data":['
            + ",".join(resources)
            + "]}}"
            + relationships
            + "}}"
        ).encode("utf-8")
        answer = self._call("POST", R_IMPORTS, lambda: self._post(R_IMPORTS, body))
        return str(answer["data"]["id"])

    def _post(self, path: str, body: bytes) -> Any:
        """POST an encoded JSON:API body through the SDK's API client; the answer's JSON."""
        client = self._api.api_client
        media = "application/vnd.api+json"
        method, url, headers, _, _ = client.param_serialize(
            method="POST",
            resource_path=path,
            header_params={"Accept": media, "Content-Type": media},
            auth_settings=[],  # the HTTP client authenticates every request
        )
        answer = client.call_api(method, url, header_params=headers, body=body)
        data = answer.read()
        return json.loads(data) if data else {}

    def _outcome(
        self, job_id: str, attributes: dict[str, Any], contacts: list[Contact]
    ) -> dict[str, MemberError]:
        refused: dict[str, MemberError] = {}
        if attributes.get("failed_count") or attributes.get("status") == "cancelled":
            refused = self._errors(job_id, contacts)
        if attributes.get("status") == "cancelled":
            for contact in contacts:
                refused.setdefault(
                    contact.email,
                    MemberError(contact.email, "the bulk import job was cancelled", "cancelled"),
                )
        return refused

    def _wait_all(self, job_ids: list[str], first_wait: float) -> dict[str, dict[str, Any]]:
        """Poll the jobs until each is complete or cancelled; their attributes by id.

        The first poll waits ``first_wait`` (until the jobs are expected done, or
        ``poll_seconds``: a job is never done the instant it was accepted), then from
        ``2 × poll_seconds`` the interval doubles. Each completed job's processing time
        is learned (``job_times.py``). One poll reads the account's newest jobs
        (``GET /api/profile-bulk-import-jobs``, 100 a page): one call for every job of the
        run; a job not on that page (100 newer ones, from other integrations) is read by
        its id."""
        finished: dict[str, dict[str, Any]] = {}
        waiting = list(job_ids)
        if not waiting:
            return finished
        deadline = self._clock.now() + self._timeout_seconds
        self._clock.sleep(first_wait)
        delay = self._poll_seconds * 2
        while True:
            seen = self._recent_jobs() if len(waiting) > 1 else {}
            status = None
            for job_id in waiting:
                attributes = seen.get(job_id)
                if attributes is None:
                    attributes = self._job(job_id)
                status = attributes.get("status")
                if status in ("complete", "cancelled"):
                    finished[job_id] = attributes
                    learned = job_time(job_id, attributes)
                    if learned is not None:
                        self._times.add(learned)
            waiting = [j for j in waiting if j not in finished]
            if not waiting:
                return finished
            if self._clock.now() >= deadline:
                raise RetriableEspError(
                    f"{len(waiting)} bulk import job(s) still {status} after "
                    f"{self._timeout_seconds:.0f}s",
                    esp=ESP,
                    method="GET",
                    path=R_IMPORT,
                )
            self._clock.sleep(delay)
            delay = min(delay * 2, 10.0)

    def _recent_jobs(self) -> dict[str, dict[str, Any]]:
        """The account's 100 newest import jobs: id → attributes."""
        data = self._call(
            "GET",
            R_IMPORTS,
            lambda: self._api.get_bulk_import_profiles_jobs(
                fields_profile_bulk_import_job=[
                    "status",
                    "failed_count",
                    "total_count",
                    "created_at",
                    "completed_at",
                ],
                sort="-created_at",
                page_size=100,
            ),
        )
        return {
            str(item.get("id")): item.get("attributes") or {} for item in data.get("data") or []
        }

    def _job(self, job_id: str) -> dict[str, Any]:
        data = self._call("GET", R_IMPORT, lambda: self._api.get_bulk_import_profiles_job(job_id))
        attributes: dict[str, Any] = data["data"].get("attributes") or {}
        return attributes

    def _errors(self, job_id: str, contacts: list[Contact]) -> dict[str, MemberError]:
        def fetch(cursor: str | None) -> Any:
            return self._api.get_errors_for_bulk_import_profiles_job(
                job_id, page_size=100, page_cursor=cursor
            )

        refused: dict[str, MemberError] = {}
        for item in self._paged("GET", R_IMPORT_ERRORS, fetch):
            attributes = item.get("attributes") or {}
            email = payload_email(attributes.get("original_payload"))
            if not email:
                source = attributes.get("source") or {}
                match = POINTER_INDEX.search(str(source.get("pointer") or ""))
                if match and int(match.group(1)) < len(contacts):
                    email = contacts[int(match.group(1))].email
            if email:
                refused[email] = import_error(email, attributes)
            else:
                log.warning("a Klaviyo import error names no profile: %s", attributes.get("title"))
        return refused
