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
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from connector.errors import (
    EspNotFoundError,
    EspValidationError,
    MemberError,
    RetriableEspError,
)
from connector.esp.base import Contact
from connector.esp.klaviyo.errors import ESP, IMPORT_ERROR, import_error
from connector.esp.klaviyo.shapes import (
    POINTER_INDEX,
    R_IMPORT,
    R_IMPORT_ERRORS,
    R_IMPORTS,
    payload_email,
    profile_attributes,
)
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
    ) -> None:
        self._api = api  # the SDK's Profiles API
        self._lists_exist = lists_exist
        self._call = call
        self._paged = paged
        self._clock = clock
        self._poll_seconds = poll_seconds
        self._timeout_seconds = timeout_seconds

    def run(self, contacts: list[Contact], lists: Sequence[str] = ()) -> dict[str, MemberError]:
        """Run bulk import jobs (≤ 10,000 profiles, < 5 MB each), adding every imported
        profile to ``lists`` in the same job; refused emails → error.

        A profile over Klaviyo's 100 KB limit is refused here, alone, without being sent;
        a job the API refuses as a whole (400) is split in halves until the refused
        profile is alone, so one bad row never blocks the others.
        """
        refused: dict[str, MemberError] = {}
        batch: list[Contact] = []
        resources: list[dict[str, Any]] = []
        size = 0
        for contact in contacts:
            resource = {"type": "profile", "attributes": profile_attributes(contact)}
            weight = len(json.dumps(resource, ensure_ascii=False).encode()) + 1
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
                refused.update(self._split_job(batch, resources, lists))
                batch, resources, size = [], [], 0
            batch.append(contact)
            resources.append(resource)
            size += weight
        if batch:
            refused.update(self._split_job(batch, resources, lists))
        return refused

    def _split_job(
        self, contacts: list[Contact], resources: list[dict[str, Any]], lists: Sequence[str]
    ) -> dict[str, MemberError]:
        try:
            return self._job(contacts, resources, lists)
        except EspValidationError as exc:
            if lists and not self._lists_exist(lists):
                raise EspNotFoundError(
                    f"the list is gone ({exc.detail})", esp=ESP, method="POST", path=R_IMPORTS
                ) from None
            if len(contacts) == 1:
                return {
                    contacts[0].email: MemberError(
                        contacts[0].email, exc.detail, IMPORT_ERROR, permanent=True
                    )
                }
            half = len(contacts) // 2
            refused = self._split_job(contacts[:half], resources[:half], lists)
            refused.update(self._split_job(contacts[half:], resources[half:], lists))
            return refused

    def _job(
        self, contacts: list[Contact], resources: list[dict[str, Any]], lists: Sequence[str]
    ) -> dict[str, MemberError]:
        data: dict[str, Any] = {
            "type": "profile-bulk-import-job",
            "attributes": {"profiles": {"data": resources}},
        }
        if lists:
            data["relationships"] = {
                "lists": {"data": [{"type": "list", "id": list_id} for list_id in lists]}
            }
        body = {"data": data}
        answer = self._call("POST", R_IMPORTS, lambda: self._api.bulk_import_profiles(body))
        job_id = str(answer["data"]["id"])
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
        """Poll the job until it is complete or cancelled; its attributes. The first poll
        waits ``poll_seconds`` (a job is never done the instant it was accepted), then the
        interval doubles."""
        deadline = self._clock.now() + self._timeout_seconds
        delay = self._poll_seconds
        self._clock.sleep(delay)
        delay *= 2
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
