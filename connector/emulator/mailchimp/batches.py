"""Batch operations (``/3.0/batches``): many API calls in one request, run in the background.

From the API reference and the batch guide: ``POST /batches`` takes ``{operations: [{method,
path, params?, body?, operation_id?}]}`` (``method`` one of GET, POST, PUT, PATCH, DELETE;
``path`` relative to the API root; ``params`` the query; ``body`` the JSON body *as a
string*) and answers 200 at once with the batch: ``id``, ``status: pending``,
``total_operations``, ``finished_operations``, ``errored_operations``, ``submitted_at``,
``completed_at``, ``response_body_url``. The batch then goes ``started`` and ``finished``
(the reference also names ``preprocessing`` and ``finalizing``; this emulator does not show
them); once finished, ``response_body_url`` is a gzipped tar of JSON files, each an array
of ``{status_code, operation_id, response}`` where ``response`` is the operation's answer
body as a JSON string. ``GET /batches/{id}`` and ``GET /batches`` report on batches,
``DELETE /batches/{id}`` stops one. At most 500 batches may be pending at once (more: 429).

Each operation runs through this emulator's own routes, contract checks included (an
operation's body that breaks the reference is a 400 result, recorded as a violation), but
not through the gateway: operations are not client calls, take no connection and see no
latency or injected fault. Mailchimp processes a batch on its own servers, beside the
account's API calls: here each operation is one direct call of the routes' ASGI app (no
HTTP client per operation), and the event loop is handed back after each one, so the
requests that arrive meanwhile are served between two operations, never after the whole
batch. The archive is served without credentials, like the pre-signed
link Mailchimp gives, from ``/mailchimp-api-batch/{id}-response.tar.gz``; fetching it is
counted as a call (route ``RESULTS_ROUTE``).
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import tarfile
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message

from connector.emulator.common.http import Handlers, checked_body
from connector.emulator.common.values import now_iso
from connector.emulator.mailchimp.context import Context
from connector.emulator.mailchimp.problems import (
    ProblemError,
    json_response,
    no_content,
    not_found,
)
from connector.emulator.mailchimp.serialize import collection, filter_fields, page_params

__all__ = ["MAX_PENDING", "RESULTS_ROUTE", "BatchHandlers"]

MAX_PENDING = 500
RESULTS_ROUTE = "/mailchimp-api-batch/{name}"
RESULTS_PER_FILE = 1000  # results per JSON file of the archive (several files, as Mailchimp)


@dataclass
class BatchJob:
    id: str
    operations: list[dict[str, Any]]
    submitted_at: str
    status: str = "pending"
    finished: int = 0
    errored: int = 0
    completed_at: str = ""
    results: list[dict[str, Any]] = field(default_factory=list)
    archive: bytes | None = None
    task: asyncio.Task[None] | None = None


class BatchHandlers(Handlers[Context]):
    """The batch endpoints; ``app`` (the routes behind the gateway) is set once built."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.app: ASGIApp | None = None
        self.jobs: dict[str, BatchJob] = {}
        self._ids = itertools.count(1)

    def _root(self) -> str:
        return self.ctx.base_url.removesuffix("/3.0")

    def _json(self, job: BatchJob) -> dict[str, Any]:
        url = ""
        if job.status == "finished":
            url = f"{self._root()}/mailchimp-api-batch/{job.id}-response.tar.gz"
        return {
            "id": job.id,
            "status": job.status,
            "total_operations": len(job.operations),
            "finished_operations": job.finished,
            "errored_operations": job.errored,
            "submitted_at": job.submitted_at,
            "completed_at": job.completed_at,
            "response_body_url": url,
            "_links": [
                {"rel": "self", "href": f"{self.ctx.base_url}/batches/{job.id}", "method": "GET"}
            ],
        }

    async def start(self, request: Request) -> Response:
        """``POST /batches`` (the body passed the contract check: ``contract.py``)."""
        body = checked_body(request)
        pending = sum(1 for j in self.jobs.values() if j.status != "finished")
        if pending >= MAX_PENDING:
            raise ProblemError(
                429,
                "Too Many Requests",
                f"You have more than {MAX_PENDING} pending batches. Please wait for "
                "some of them to finish before submitting more.",
            )
        job = BatchJob(
            id=f"{next(self._ids):04d}{uuid.uuid4().hex[:6]}",
            operations=list(body["operations"]),
            submitted_at=now_iso(),
        )
        self.jobs[job.id] = job
        job.task = asyncio.get_running_loop().create_task(self._run(job))
        return json_response(filter_fields(self._json(job), request))

    async def status(self, request: Request) -> Response:
        job = self.jobs.get(request.path_params["batch_id"])
        if job is None:
            raise not_found()
        return json_response(filter_fields(self._json(job), request))

    async def listing(self, request: Request) -> Response:
        page = page_params(request)
        count, offset = page
        jobs = list(self.jobs.values())
        payload = collection("batches", jobs, offset, count, self._json)
        return json_response(filter_fields(payload, request))

    async def delete(self, request: Request) -> Response:
        job = self.jobs.pop(request.path_params["batch_id"], None)
        if job is None:
            raise not_found()
        if job.task is not None:
            job.task.cancel()
        return no_content()

    async def results(self, request: Request) -> Response:
        """The archive behind ``response_body_url`` (no credentials needed)."""
        name = request.path_params["name"]
        job = self.jobs.get(name.removesuffix("-response.tar.gz"))
        if job is None or job.archive is None or not name.endswith("-response.tar.gz"):
            return Response(
                b"<Error><Code>NoSuchKey</Code></Error>", 404, media_type="application/xml"
            )
        return Response(job.archive, media_type="application/x-tar")

    # -- processing ----------------------------------------------------------------------

    async def _run(self, job: BatchJob) -> None:
        """pending → started → finished over about ``import_delay_s``; operations run one
        after another while started, each followed by a turn of the event loop (requests
        that arrived meanwhile go first: a batch never holds up other calls)."""
        delay = self.ctx.options.import_delay_s
        begun = time.monotonic()
        await asyncio.sleep(delay / 4)
        job.status = "started"
        for operation in job.operations:
            status, text = await self._dispatch(operation)
            result = {
                "status_code": status,
                "operation_id": operation.get("operation_id"),
                "response": text,
            }
            job.results.append(result)
            job.finished += 1
            job.errored += status >= 400
            await asyncio.sleep(0)
        await asyncio.sleep(max(0.0, delay - (time.monotonic() - begun)))
        job.archive = _archive(job.id, job.results)
        job.completed_at = now_iso()
        job.status = "finished"

    async def _dispatch(self, operation: dict[str, Any]) -> tuple[int, str]:
        """One operation through the routes (one call of their ASGI app): its status and
        answer body (text)."""
        assert self.app is not None
        params = operation.get("params") or {}
        query = urlencode({k: v for k, v in params.items() if v is not None})
        body = str(operation.get("body") or "").encode("utf-8")
        path = "/3.0/" + str(operation["path"]).lstrip("/")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": str(operation["method"]).upper(),
            "scheme": "http",
            "server": ("batch", 80),
            "client": None,
            "root_path": "",
            "path": path,
            "raw_path": path.encode("utf-8"),
            "query_string": query.encode("ascii"),
            "headers": [
                (b"host", b"batch"),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode("ascii")),
            ],
        }
        sent = False
        status = 500
        chunks: list[bytes] = []

        async def receive() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, b"".join(chunks).decode("utf-8")


def _archive(batch_id: str, results: list[dict[str, Any]]) -> bytes:
    """The gzipped tar of the results: JSON files of up to ``RESULTS_PER_FILE`` each."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for index, start in enumerate(range(0, max(len(results), 1), RESULTS_PER_FILE)):
            data = json.dumps(results[start : start + RESULTS_PER_FILE]).encode("utf-8")
            info = tarfile.TarInfo(f"{batch_id}-response/{index}.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
