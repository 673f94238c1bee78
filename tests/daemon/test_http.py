"""The HTTP layer against a stand-in daemon: routes, status codes, the token check.

The real server (uvicorn on a loopback port) answers; httpx asks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from connector.daemon.http import HttpServer, TriggerError, build_app, parse_bind
from connector.daemon.redact import Redactor
from connector.errors import ConfigError

TOKEN = "trigger-token-0123456789"


class FakeDaemon:
    def __init__(self, token: str | None = TOKEN) -> None:
        self.redactor = Redactor([TOKEN])
        self.token = SecretStr(token) if token else None
        self.ready = True
        self.is_alive = True
        self.triggered: list[str | None] = []

    def alive(self) -> bool:
        return self.is_alive

    def readiness(self) -> tuple[bool, dict[str, str]]:
        return self.ready, {"config": "ok", "store": "ok" if self.ready else "unreachable"}

    def metrics_text(self) -> bytes:
        return b"# HELP segsync_runs_total x\nsegsync_runs_total 1.0\n"

    def status_html(self) -> str:
        return f"<html><body>status {TOKEN} of someone@example.com</body></html>"

    def trigger(self, name: str | None) -> dict[str, Any]:
        if name == "missing":
            raise TriggerError(404, "unknown segment 'missing'")
        if name == "empty":
            raise TriggerError(422, "segment 'empty' has no destinations: nothing to sync")
        self.triggered.append(name)
        return {"job_id": "j1", "segments": [name] if name else ["a", "b"], "state": "queued"}

    def job(self, job_id: str) -> dict[str, Any] | None:
        return {"job_id": job_id, "state": "done", "status": "ok"} if job_id == "j1" else None


@pytest.fixture
def daemon() -> FakeDaemon:
    return FakeDaemon()


@pytest.fixture
def client() -> Iterator[Any]:
    servers: list[HttpServer] = []
    clients: list[httpx.Client] = []

    def serve(daemon: FakeDaemon) -> httpx.Client:
        server = HttpServer(build_app(daemon), "127.0.0.1:0")
        server.start()
        servers.append(server)
        clients.append(httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10))
        return clients[-1]

    yield serve
    for http in clients:
        http.close()
    for server in servers:
        server.stop()


def test_a_busy_port_is_a_config_error() -> None:
    first = HttpServer(build_app(FakeDaemon()), "127.0.0.1:0")
    first.sock.listen()
    try:
        with pytest.raises(ConfigError, match="cannot listen on"):
            HttpServer(build_app(FakeDaemon()), f"127.0.0.1:{first.port}")
    finally:
        first.sock.close()


def test_probes_and_metrics(daemon: FakeDaemon, client: Any) -> None:
    http = client(daemon)
    assert http.get("/healthz").json() == {"status": "alive"}
    assert http.get("/readyz").status_code == 200
    daemon.ready, daemon.is_alive = False, False
    not_ready = http.get("/readyz")
    assert not_ready.status_code == 503 and not_ready.json()["checks"]["store"] == "unreachable"
    assert http.get("/healthz").status_code == 503
    metrics = http.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "segsync_runs_total 1.0" in metrics.text


def test_status_page_is_html(daemon: FakeDaemon, client: Any) -> None:
    page = client(daemon).get("/")
    assert page.headers["content-type"].startswith("text/html")
    assert page.text.startswith("<html>")  # the page renders its own escaping (status_page)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": f"Bearer {TOKEN}x"}, 401),
        ({"Authorization": f"Basic {TOKEN}"}, 401),
        ({"Authorization": TOKEN}, 401),
        ({"Authorization": f"Bearer {TOKEN}"}, 202),
        ({"Authorization": f"bearer {TOKEN}"}, 202),
    ],
)
def test_trigger_needs_the_bearer_token(
    daemon: FakeDaemon, client: Any, headers: dict[str, str], status: int
) -> None:
    http = client(daemon)
    for path in ("/sync", "/sync/a"):
        answer = http.post(path, headers=headers)
        assert answer.status_code == status, (path, answer.text)
        assert TOKEN not in answer.text
        if status == 401:
            assert answer.headers["www-authenticate"].startswith("Bearer")
            assert "token" in answer.json()["error"]
        else:
            assert answer.json()["job_id"] == "j1"
            assert answer.headers["location"] == "/jobs/j1"
    assert daemon.triggered == ([None, "a"] if status == 202 else [])


def test_trigger_answers(daemon: FakeDaemon, client: Any) -> None:
    http = client(daemon)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert http.post("/sync/missing", headers=auth).status_code == 404
    assert http.post("/sync/missing").status_code == 401  # the token is checked first
    empty = http.post("/sync/empty", headers=auth)
    assert empty.status_code == 422 and "no destinations" in empty.json()["error"]
    assert http.get("/sync").status_code == 405
    assert http.get("/jobs/j1").json()["status"] == "ok"
    assert http.get("/jobs/nope").status_code == 404


def test_trigger_is_disabled_without_a_configured_token(client: Any) -> None:
    daemon = FakeDaemon(token=None)
    answer = client(daemon).post("/sync", headers={"Authorization": "Bearer anything"})
    assert answer.status_code == 403
    assert "SEGSYNC_HTTP__TOKEN" in answer.json()["error"]
    assert daemon.triggered == []


@pytest.mark.parametrize(
    ("bind", "expected"),
    [
        ("127.0.0.1:8080", ("127.0.0.1", 8080)),
        ("[::1]:0", ("::1", 0)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),
    ],
)
def test_parse_bind(bind: str, expected: tuple[str, int]) -> None:
    assert parse_bind(bind) == expected


@pytest.mark.parametrize("bind", ["8080", "localhost", ":8080", "host:http", "h:70000"])
def test_parse_bind_rejects(bind: str) -> None:
    with pytest.raises(ConfigError, match="SEGSYNC_HTTP__BIND"):
        parse_bind(bind)
