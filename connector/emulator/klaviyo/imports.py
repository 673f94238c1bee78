"""Klaviyo bulk profile import: create a job (≤ 10,000 profiles, ≤ 5 MB), poll it, read
its errors and the profiles it touched. The job is an upsert that never clears a field
with null and never grants consent; ``relationships.lists`` adds the imported profiles to
those lists when the job completes."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from connector.emulator.common.http import Context, Handlers, checked_body
from connector.emulator.klaviyo.account import ImportJob, KlaviyoState
from connector.emulator.klaviyo.jsonapi import (
    invalid,
    listing,
    matches,
    not_found,
    parse_filter,
    resource,
    sparse,
)
from connector.emulator.klaviyo.serialize import import_error_json, job_json, profile_json

__all__ = ["ImportHandlers"]

#: ``GET /api/profile-bulk-import-jobs``: filterable fields, sorts (the OpenAPI document)
JOB_FILTERS = {"status": ("any", "equals")}
JOB_SORTS = ("created_at", "-created_at")
_KIND = "profile-bulk-import-job"


class ImportHandlers(Handlers[Context[KlaviyoState]]):
    """Handlers bound to one emulator's context."""

    def _job(self, request: Request) -> ImportJob:
        params = request.path_params
        job_id = params.get("job_id") or params["id"]
        job = self.ctx.state.jobs.get(job_id)
        if job is None:
            raise not_found(f"A profile-bulk-import-job with id {job_id} does not exist.")
        return job

    async def create_job(self, request: Request) -> Response:
        body = checked_body(request)
        data = body["data"]
        entries: list[dict[str, Any]] = data["attributes"]["profiles"]["data"]
        body_bytes = len(await request.body())  # cached by starlette: no second read
        relationships = data.get("relationships") or {}
        list_items = (relationships.get("lists") or {}).get("data") or []
        state = self.ctx.state
        state.tick()
        for index, item in enumerate(list_items):
            if item["id"] not in state.lists:
                raise invalid(
                    f"A list with id {item['id']} does not exist.",
                    pointer=f"/data/relationships/lists/data/{index}/id",
                )
        job = state.create_job(entries, [item["id"] for item in list_items], body_bytes=body_bytes)
        payload = job_json(job, self.ctx.base_url)
        return resource(payload, status=202)

    async def list_jobs(self, request: Request) -> Response:
        """Every job of the account, at most 100 a page (``filter`` on status, ``sort`` by
        creation), as ``GET /api/profile-bulk-import-jobs`` answers."""
        self.ctx.state.tick()
        query = request.query_params
        filters = parse_filter(request, JOB_FILTERS)
        sort = query.get("sort")
        if sort is not None and sort not in JOB_SORTS:
            raise invalid(f"'{sort}' is not a valid sort field.", parameter="sort")
        # creation order (ids are stamped per second, so ties keep arrival order)
        found = [j for j in self.ctx.state.jobs.values() if matches(filters, j)]
        if sort == "-created_at":
            found.reverse()
        base = self.ctx.base_url
        return listing(request, found, lambda j: job_json(j, base), _KIND, base)

    async def get_job(self, request: Request) -> Response:
        self.ctx.state.tick()
        job = self._job(request)
        return resource(sparse(job_json(job, self.ctx.base_url), request, _KIND))

    async def job_errors(self, request: Request) -> Response:
        self.ctx.state.tick()
        job = self._job(request)
        errors = list(enumerate(job.errors))
        return listing(
            request,
            errors,
            lambda pair: import_error_json(job, *pair),
            "import-error",
            self.ctx.base_url,
        )

    async def job_profiles(self, request: Request) -> Response:
        return await self._profiles(request, ids_only=False)

    async def job_profile_relationships(self, request: Request) -> Response:
        return await self._profiles(request, ids_only=True)

    async def _profiles(self, request: Request, *, ids_only: bool) -> Response:
        state = self.ctx.state
        state.tick()
        job = self._job(request)
        ids = job.profile_ids if job.status == "complete" else []
        base = self.ctx.base_url

        def to_json(pid: str) -> dict[str, Any]:
            if ids_only:
                return {"type": "profile", "id": pid}
            return profile_json(state.profiles[pid], base)

        return listing(request, ids, to_json, "profile", base)
