"""Klaviyo routes for respx: a small fake account (profiles, lists, segments, bulk import
jobs) speaking JSON:API, and a trap for the endpoints segsync must never call."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import respx

from connector.esp.klaviyo.adapter import KlaviyoAdapter
from tests.esp.conftest import FAST_RETRY, KLAVIYO_KEY, FakeClock

BASE = "https://a.klaviyo.com"
JSONAPI = {"content-type": "application/vnd.api+json"}


def jsonapi_error(status: int, title: str, detail: str = "", pointer: str = "") -> httpx.Response:
    error: dict[str, Any] = {"id": "e1", "status": status, "code": "invalid", "title": title}
    if detail:
        error["detail"] = detail
    if pointer:
        error["source"] = {"pointer": pointer}
    return httpx.Response(status, json={"errors": [error]}, headers=JSONAPI)


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content) if request.content else None


def _page(request: httpx.Request, items: list[dict[str, Any]], default_size: int) -> httpx.Response:
    size = int(request.url.params.get("page[size]", default_size))
    start = int(request.url.params.get("page[cursor]", 0))
    links: dict[str, str] = {"self": str(request.url)}
    if start + size < len(items):
        url = request.url.copy_merge_params({"page[cursor]": str(start + size)})
        links["next"] = str(url)
    return httpx.Response(
        200, json={"data": items[start : start + size], "links": links}, headers=JSONAPI
    )


_ANY_EMAIL = re.compile(r"^any\(email,\[(.*)\]\)$")
_EQUALS_NAME = re.compile(r'^equals\(name,(".*")\)$')


@dataclass
class FakeKlaviyo:
    """A Klaviyo account as the adapter sees it."""

    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → attributes
    lists: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → {name, members}
    segments: dict[str, dict[str, Any]] = field(default_factory=dict)
    invalid: set[str] = field(default_factory=set)
    #: how import errors point at the profile: "payload" (original_payload) or "pointer"
    error_style: str = "payload"
    polls_until_complete: int = 2
    #: with a value, job resources carry ``created_at`` and (done) ``completed_at`` that
    #: many seconds later, with microseconds as the API reference shows them
    processing_seconds: float | None = None
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    imports: list[dict[str, Any]] = field(default_factory=list)
    lookups: list[list[str]] = field(default_factory=list)
    patches: list[dict[str, Any]] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def add_profile(self, email: str, **properties: Any) -> str:
        pid = f"01PROFILE{next(self._ids):06d}"
        self.profiles[pid] = {"email": email, "properties": dict(properties)}
        return pid

    def add_list(self, name: str, *member_ids: str) -> str:
        lid = f"L{next(self._ids):05d}"
        self.lists[lid] = {"name": name, "members": list(member_ids)}
        return lid

    def id_of(self, email: str) -> str | None:
        return next((p for p, a in self.profiles.items() if a["email"] == email), None)

    # -- handlers ---------------------------------------------------------------------

    def get_profiles(self, request: httpx.Request) -> httpx.Response:
        match = _ANY_EMAIL.match(request.url.params.get("filter", ""))
        assert match, request.url.params.get("filter")
        wanted = filter_strings(match.group(1))
        assert len(wanted) <= 100
        self.lookups.append(wanted)
        items = [
            {"type": "profile", "id": pid, "attributes": {"email": a["email"]}}
            for pid, a in self.profiles.items()
            if a["email"] in wanted
        ]
        return _page(request, items, 20)

    def get_lists(self, request: httpx.Request) -> httpx.Response:
        items = [
            {"type": "list", "id": lid, "attributes": {"name": data["name"]}}
            for lid, data in self.lists.items()
        ]
        query = request.url.params.get("filter")
        if query:
            name = json.loads(_EQUALS_NAME.match(query).group(1))  # type: ignore[union-attr]
            items = [i for i in items if i["attributes"]["name"] == name]
        return _page(request, items, 10)

    def create_list(self, request: httpx.Request) -> httpx.Response:
        name = body_of(request)["data"]["attributes"]["name"]
        lid = self.add_list(name)
        return httpx.Response(
            201, json={"data": {"type": "list", "id": lid, "attributes": {"name": name}}}
        )

    def change_members(self, request: httpx.Request, list_id: str) -> httpx.Response:
        ids = [item["id"] for item in body_of(request)["data"]]
        if list_id not in self.lists:
            return jsonapi_error(404, "Not found.", f"List {list_id} not found")
        unknown = [pid for pid in ids if pid not in self.profiles]
        if unknown:
            return jsonapi_error(400, "Invalid input.", f"profile {unknown[0]} does not exist")
        members = self.lists[list_id]["members"]
        for pid in ids:
            if request.method == "POST" and pid not in members:
                members.append(pid)
            if request.method == "DELETE" and pid in members:
                members.remove(pid)
        return httpx.Response(204)

    def list_profiles(self, request: httpx.Request, list_id: str) -> httpx.Response:
        items = [
            {"type": "profile", "id": pid, "attributes": {"email": self.profiles[pid]["email"]}}
            for pid in self.lists[list_id]["members"]
        ]
        return _page(request, items, 20)

    def bulk_import(self, request: httpx.Request) -> httpx.Response:
        body = body_of(request)
        self.imports.append(body)
        profiles = body["data"]["attributes"]["profiles"]["data"]
        errors = []
        for index, resource in enumerate(profiles):
            attributes = resource["attributes"]
            email = attributes["email"]
            if email in self.invalid:
                error: dict[str, Any] = {
                    "code": "invalid",
                    "title": "Invalid input.",
                    "detail": "Invalid email address",
                    "source": {"pointer": f"/data/attributes/profiles/data/{index}"},
                }
                if self.error_style == "payload":
                    error["original_payload"] = attributes
                    error["source"] = {"pointer": "/data/attributes/email"}
                errors.append(error)
                continue
            pid = self.id_of(email) or self.add_profile(email)
            self.profiles[pid]["properties"].update(attributes.get("properties", {}))
            for item in ((body["data"].get("relationships") or {}).get("lists") or {}).get(
                "data", []
            ):
                if pid not in self.lists[item["id"]]["members"]:
                    self.lists[item["id"]]["members"].append(pid)
        job_id = f"JOB{len(self.jobs) + 1}"
        self.jobs[job_id] = {"polls": 0, "total": len(profiles), "errors": errors}
        return httpx.Response(
            202,
            json={
                "data": {
                    "type": "profile-bulk-import-job",
                    "id": job_id,
                    "attributes": {"status": "queued", "total_count": len(profiles)},
                    "links": {"self": f"{BASE}/api/profile-bulk-import-jobs/{job_id}"},
                }
            },
        )

    def _job_resource(self, job_id: str) -> dict[str, Any]:
        job = self.jobs[job_id]
        job["polls"] += 1
        done = job["polls"] >= self.polls_until_complete
        attributes = {
            "status": "complete" if done else "processing",
            "total_count": job["total"],
            "completed_count": job["total"] - len(job["errors"]) if done else 0,
            "failed_count": len(job["errors"]) if done else 0,
        }
        if self.processing_seconds is not None:
            created = datetime(2026, 11, 23, 12, tzinfo=UTC)
            attributes["created_at"] = created.isoformat(timespec="microseconds")
            if done:
                completed = created + timedelta(seconds=self.processing_seconds)
                attributes["completed_at"] = completed.isoformat(timespec="microseconds")
        return {"type": "profile-bulk-import-job", "id": job_id, "attributes": attributes}

    def get_job(self, request: httpx.Request, job_id: str) -> httpx.Response:
        return httpx.Response(200, json={"data": self._job_resource(job_id)})

    def list_jobs(self, request: httpx.Request) -> httpx.Response:
        """The newest jobs first (``sort=-created_at``); each listing counts as a poll."""
        newest = (
            list(reversed(self.jobs))
            if request.url.params.get("sort") == "-created_at"
            else list(self.jobs)
        )
        size = int(request.url.params.get("page[size]", 20))
        return httpx.Response(
            200, json={"data": [self._job_resource(j) for j in newest[:size]], "links": {}}
        )

    def job_errors(self, request: httpx.Request, job_id: str) -> httpx.Response:
        items = [
            {"type": "import-error", "id": f"E{i}", "attributes": error}
            for i, error in enumerate(self.jobs[job_id]["errors"])
        ]
        return _page(request, items, 20)

    def get_segments(self, request: httpx.Request) -> httpx.Response:
        items = [
            {"type": "segment", "id": sid, "attributes": {"name": data["name"]}}
            for sid, data in self.segments.items()
        ]
        query = request.url.params.get("filter")
        if query:
            name = json.loads(_EQUALS_NAME.match(query).group(1))  # type: ignore[union-attr]
            items = [i for i in items if i["attributes"]["name"] == name]
        return _page(request, items, 10)

    def create_segment(self, request: httpx.Request) -> httpx.Response:
        attributes = body_of(request)["data"]["attributes"]
        sid = f"S{next(self._ids):05d}"
        self.segments[sid] = dict(attributes)
        return httpx.Response(
            201, json={"data": {"type": "segment", "id": sid, "attributes": attributes}}
        )

    def update_segment(self, request: httpx.Request, segment_id: str) -> httpx.Response:
        attributes = body_of(request)["data"]["attributes"]
        self.segments[segment_id].update(attributes)
        return httpx.Response(
            200, json={"data": {"type": "segment", "id": segment_id, "attributes": attributes}}
        )

    def patch_profile(self, request: httpx.Request, profile_id: str) -> httpx.Response:
        data = body_of(request)["data"]
        self.patches.append(data)
        if profile_id not in self.profiles:
            return jsonapi_error(404, "Not found.", f"Profile {profile_id} not found")
        properties = self.profiles[profile_id]["properties"]
        properties.update(data.get("attributes", {}).get("properties", {}))
        for name in (data.get("meta") or {}).get("patch_properties", {}).get("unset", []):
            properties.pop(name, None)
        return httpx.Response(200, json={"data": {"type": "profile", "id": profile_id}})

    def install(self, router: respx.Router) -> None:
        router.get("/api/profiles", name="profiles").mock(side_effect=self.get_profiles)
        router.patch(url__regex=r"/api/profiles/(?P<profile_id>[^/]+)$", name="patch").mock(
            side_effect=self.patch_profile
        )
        router.get("/api/lists", name="lists").mock(side_effect=self.get_lists)
        router.post("/api/lists", name="create_list").mock(side_effect=self.create_list)
        rel = r"/api/lists/(?P<list_id>[^/]+)/relationships/profiles"
        router.post(url__regex=rel, name="add").mock(side_effect=self.change_members)
        router.delete(url__regex=rel, name="remove").mock(side_effect=self.change_members)
        router.get(url__regex=r"/api/lists/(?P<list_id>[^/]+)/profiles", name="members").mock(
            side_effect=self.list_profiles
        )
        router.post("/api/profile-bulk-import-jobs", name="import").mock(
            side_effect=self.bulk_import
        )
        router.get(
            url__regex=r"/api/profile-bulk-import-jobs/(?P<job_id>[^/]+)/import-errors",
            name="import_errors",
        ).mock(side_effect=self.job_errors)
        router.get("/api/profile-bulk-import-jobs", name="jobs").mock(side_effect=self.list_jobs)
        router.get(url__regex=r"/api/profile-bulk-import-jobs/(?P<job_id>[^/]+)$", name="job").mock(
            side_effect=self.get_job
        )
        router.get("/api/segments", name="segments").mock(side_effect=self.get_segments)
        router.post("/api/segments", name="create_segment").mock(side_effect=self.create_segment)
        router.patch(url__regex=r"/api/segments/(?P<segment_id>[^/]+)", name="update_segment").mock(
            side_effect=self.update_segment
        )
        # anything else (subscribe, unsubscribe, …) is a test failure
        router.route(name="forbidden").mock(
            side_effect=lambda request: pytest.fail(f"unexpected {request.method} {request.url}")
        )


def filter_strings(text: str) -> list[str]:
    """The double-quoted strings of a filter, taken literally: only \\" and \\\\ are
    escapes (a JSON escape such as \\u00fc is not decoded, so it matches nothing)."""
    return [re.sub(r"\\([\"\\])", r"\1", raw) for raw in re.findall(r'"((?:[^"\\]|\\.)*)"', text)]


def filter_any(emails: list[str]) -> str:
    return quote("any(email,[" + ",".join(json.dumps(e) for e in emails) + "])")


@pytest.fixture
def kl_router() -> Iterator[respx.Router]:
    router = respx.Router(base_url=BASE, assert_all_called=False)
    yield router


@pytest.fixture
def account(kl_router: respx.Router) -> FakeKlaviyo:
    fake = FakeKlaviyo()
    fake.install(kl_router)
    return fake


@pytest.fixture
def make_klaviyo(
    kl_router: respx.Router, clock: FakeClock
) -> Iterator[Callable[..., KlaviyoAdapter]]:
    made: list[KlaviyoAdapter] = []

    def make(**options: Any) -> KlaviyoAdapter:
        settings: dict[str, Any] = {
            "api_key": KLAVIYO_KEY,
            "retry": FAST_RETRY,
            "clock": clock,
            "transport": httpx.MockTransport(kl_router.handler),
        }
        settings.update(options)
        adapter = KlaviyoAdapter(**settings)
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        adapter.close()


@pytest.fixture
def klaviyo(make_klaviyo: Callable[..., KlaviyoAdapter]) -> KlaviyoAdapter:
    return make_klaviyo()
