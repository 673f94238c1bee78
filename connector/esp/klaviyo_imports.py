"""Klaviyo bulk profile import jobs: submit, poll until done, read the refused profiles.

``POST /api/profile-bulk-import-jobs`` takes ≤ 10,000 profiles and ≤ 5 MB; it is an upsert
that grants no consent and cannot clear a field with null. The job is asynchronous: it is
polled (``queued`` → ``processing`` → ``complete``/``cancelled``) with a growing interval,
and its ``import-errors`` name the refused profiles by ``original_payload`` or by
``source.pointer`` (an index into the submitted profiles).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

from connector.errors import MemberError, RetriableEspError
from connector.esp.base import Contact
from connector.esp.klaviyo_errors import ESP, import_error
from connector.esp.klaviyo_shapes import (
    POINTER_INDEX,
    R_IMPORT,
    R_IMPORT_ERRORS,
    R_IMPORTS,
    payload_email,
    profile_attributes,
)
from connector.esp.ratelimit import Clock

__all__ = ["MAX_IMPORT_BYTES", "BulkImports"]

log = logging.getLogger("segsync.esp.klaviyo")

MAX_IMPORT_BYTES = 4_500_000  # under the 5 MB payload limit of a bulk import job

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
    ) -> None:
        self._api = api  # the SDK's Profiles API
        self._call = call
        self._paged = paged
        self._clock = clock
        self._poll_seconds = poll_seconds
        self._timeout_seconds = timeout_seconds

    def run(self, contacts: list[Contact]) -> dict[str, MemberError]:
        """Run bulk import jobs (≤ 10,000 profiles, < 5 MB each); refused emails → error."""
        refused: dict[str, MemberError] = {}
        batch: list[Contact] = []
        resources: list[dict[str, Any]] = []
        size = 0
        for contact in contacts:
            resource = {"type": "profile", "attributes": profile_attributes(contact)}
            weight = len(json.dumps(resource)) + 1
            if batch and size + weight > MAX_IMPORT_BYTES:
                refused.update(self._job(batch, resources))
                batch, resources, size = [], [], 0
            batch.append(contact)
            resources.append(resource)
            size += weight
        if batch:
            refused.update(self._job(batch, resources))
        return refused

    def _job(
        self, contacts: list[Contact], resources: list[dict[str, Any]]
    ) -> dict[str, MemberError]:
        body = {
            "data": {
                "type": "profile-bulk-import-job",
                "attributes": {"profiles": {"data": resources}},
            }
        }
        data = self._call("POST", R_IMPORTS, lambda: self._api.bulk_import_profiles(body))
        job_id = str(data["data"]["id"])
        attributes = self._wait(job_id)
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

    def _wait(self, job_id: str) -> dict[str, Any]:
        """Poll the job until it is complete or cancelled; its attributes."""
        deadline = self._clock.now() + self._timeout_seconds
        delay = self._poll_seconds
        while True:
            data = self._call(
                "GET", R_IMPORT, lambda: self._api.get_bulk_import_profiles_job(job_id)
            )
            attributes: dict[str, Any] = data["data"].get("attributes") or {}
            status = attributes.get("status")
            if status in ("complete", "cancelled"):
                return attributes
            if self._clock.now() >= deadline:
                raise RetriableEspError(
                    f"bulk import job still {status} after {self._timeout_seconds:.0f}s",
                    esp=ESP,
                    method="GET",
                    path=R_IMPORT,
                )
            self._clock.sleep(delay)
            delay = min(delay * 2, 10.0)

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
