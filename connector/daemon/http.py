"""The daemon's HTTP interface (starlette, served by uvicorn in a thread).

    GET  /healthz          200 while the scheduling loop turns (liveness); 503 if it stalled
    GET  /readyz           200 when the definitions are loaded and the customer store and the
                           state store answer; 503 otherwise, or while shutting down
    GET  /metrics          Prometheus text format (see ``prometheus.py``)
    GET  /                 the status page (HTML, no scripts)
    POST /sync             queue a sync of every scheduled segment   } bearer token
    POST /sync/{name}      queue a sync of one segment               } required
    GET  /jobs/{job_id}    a queued, running or finished job (state, run id, outcome)

Trigger answers: 202 with the job (queued; it starts as soon as its ESP accounts are free,
an identical job still waiting is returned instead of a second one), 401 without the
right token, 403 when no token is configured (the endpoint is then disabled), 404 for an
unknown segment, 422 for a segment with nothing to sync, 503 while shutting down.
Tokens are compared in constant time. Every JSON body passes the redactor.
"""

from __future__ import annotations

import asyncio
import hmac
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

import uvicorn
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from connector.daemon.prometheus import CONTENT_TYPE_LATEST
from connector.daemon.redact import Redactor
from connector.errors import ConfigError

__all__ = ["DaemonApi", "HttpServer", "TriggerError", "build_app", "parse_bind"]


class TriggerError(Exception):
    """A sync request the daemon will not queue; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class DaemonApi(Protocol):
    """What the HTTP layer needs from the daemon."""

    redactor: Redactor
    token: SecretStr | None

    def alive(self) -> bool: ...
    def readiness(self) -> tuple[bool, dict[str, str]]: ...
    def metrics_text(self) -> bytes: ...
    def status_html(self) -> str: ...
    def trigger(self, name: str | None) -> dict[str, Any]: ...
    def job(self, job_id: str) -> dict[str, Any] | None: ...


def _json(api: DaemonApi, body: dict[str, Any], status: int = 200, **kw: Any) -> JSONResponse:
    return JSONResponse(api.redactor.value(body), status_code=status, **kw)


def _refuse_unauthorised(api: DaemonApi, request: Request) -> JSONResponse | None:
    if api.token is None:
        return _json(
            api,
            {"error": "the sync trigger is disabled: set SEGSYNC_HTTP__TOKEN to enable it"},
            403,
        )
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = api.token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
        return _json(
            api,
            {"error": "missing or wrong token: send the header 'Authorization: Bearer <token>'"},
            401,
            headers={"WWW-Authenticate": 'Bearer realm="segsync"'},
        )
    return None


def build_app(api: DaemonApi) -> Starlette:
    """The ASGI app. Blocking handlers are plain functions (starlette runs them in threads)."""

    def healthz(request: Request) -> Response:
        if api.alive():
            return _json(api, {"status": "alive"})
        return _json(api, {"status": "stalled: the scheduling loop stopped turning"}, 503)

    def readyz(request: Request) -> Response:
        ready, checks = api.readiness()
        return _json(api, {"ready": ready, "checks": checks}, 200 if ready else 503)

    def metrics(request: Request) -> Response:
        return Response(api.metrics_text(), media_type=CONTENT_TYPE_LATEST)

    def status_page(request: Request) -> Response:
        return HTMLResponse(api.status_html())

    def sync(request: Request) -> Response:
        refused = _refuse_unauthorised(api, request)
        if refused is not None:
            return refused
        name = request.path_params.get("name")
        try:
            job = api.trigger(name)
        except TriggerError as exc:
            return _json(api, {"error": exc.message}, exc.status)
        return _json(api, job, 202, headers={"Location": f"/jobs/{job['job_id']}"})

    def job(request: Request) -> Response:
        found = api.job(request.path_params["job_id"])
        if found is None:
            return _json(api, {"error": "unknown job (only recent jobs are kept)"}, 404)
        return _json(api, found)

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/", status_page, methods=["GET"]),
            Route("/sync", sync, methods=["POST"]),
            Route("/sync/{name}", sync, methods=["POST"]),
            Route("/jobs/{job_id}", job, methods=["GET"]),
        ]
    )


def parse_bind(bind: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:8080`` for IPv6) → (host, port); ``ConfigError`` otherwise."""
    host, sep, port = bind.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(
            f"invalid HTTP bind '{bind}': use host:port, e.g. 127.0.0.1:8080 or 0.0.0.0:8080",
            file="SEGSYNC_HTTP__BIND",
        )
    return host, int(port)


@dataclass
class HttpServer:
    """uvicorn on a socket bound at construction (so a busy port fails at once)."""

    app: Starlette
    bind: str

    def __post_init__(self) -> None:
        host, port = parse_bind(self.bind)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((host, port))
        except OSError as exc:
            self.sock.close()
            raise ConfigError(
                f"cannot listen on {self.bind}: {exc.strerror}", file="SEGSYNC_HTTP__BIND"
            ) from None
        self.host, self.port = host, self.sock.getsockname()[1]
        self.server = uvicorn.Server(
            uvicorn.Config(
                app=self.app,
                http="h11",
                ws="none",
                lifespan="off",
                log_config=None,
                log_level="warning",
                access_log=False,
                proxy_headers=False,
                server_header=False,
                timeout_graceful_shutdown=2,
            )
        )
        self.thread = threading.Thread(
            target=lambda: asyncio.run(self.server.serve(sockets=[self.sock])),
            name="segsync-http",
            daemon=True,
        )

    def start(self, timeout: float = 10.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise ConfigError(f"the HTTP server on {self.bind} did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread.ident is not None:  # started
            self.thread.join(timeout=5)
        self.sock.close()
