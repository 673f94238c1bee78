"""The shared HTTP client over real loopback HTTP: keep-alive reuse, timeouts, resets."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from connector.errors import ConfigError, RetriableEspError
from connector.esp import Contact
from connector.esp.klaviyo.adapter import KlaviyoAdapter
from connector.esp.mailchimp.adapter import MailchimpAdapter
from connector.settings import RetrySettings
from tests.esp.conftest import KLAVIYO_KEY, MAILCHIMP_KEY


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def log_message(self, *args: object) -> None:
        pass

    def _reply(self) -> None:
        server: _Server = self.server  # type: ignore[assignment]
        server.ports.add(self.client_address[1])
        if "slow" in self.path:
            time.sleep(0.3)
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps({"id": "x", "data": [], "links": {"self": "x"}}).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)

    do_GET = do_POST = _reply  # noqa: N815


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    ports: set[int]


@pytest.fixture
def server() -> Iterator[_Server]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.ports = set()
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_mailchimp_reuses_one_keep_alive_connection(
    server: _Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the SDK's own transport (module-level `requests`) must never be used
    monkeypatch.setattr(requests, "get", lambda *a, **k: pytest.fail("requests.get used"))
    monkeypatch.setattr(requests, "post", lambda *a, **k: pytest.fail("requests.post used"))
    base = f"http://127.0.0.1:{server.server_address[1]}/3.0"
    with MailchimpAdapter(api_key=MAILCHIMP_KEY, audience_id="aud", base_url=base) as adapter:
        for _ in range(5):
            adapter.check()
        adapter.ensure_contacts([Contact("a@example.com", True)], create_new=True)
    assert len(server.ports) == 1
    assert sum(adapter.calls.values()) == 6


def test_klaviyo_reuses_one_keep_alive_connection(server: _Server) -> None:
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with KlaviyoAdapter(api_key=KLAVIYO_KEY, base_url=base) as adapter:
        for _ in range(5):
            adapter.check()
    assert len(server.ports) == 1


def test_a_read_timeout_is_retriable(server: _Server) -> None:
    base = f"http://127.0.0.1:{server.server_address[1]}/slow"
    adapter = MailchimpAdapter(
        api_key=MAILCHIMP_KEY,
        audience_id="aud",
        base_url=base,
        timeout_seconds=0.1,
        retry=RetrySettings(max_attempts=1),
    )
    with pytest.raises(RetriableEspError, match="timed out"):
        adapter.check()
    assert adapter.calls[("GET", "/lists/{list_id}", 0)] == 1
    adapter.close()


def test_a_refused_connection_is_retriable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    adapter = KlaviyoAdapter(
        api_key=KLAVIYO_KEY,
        base_url=f"http://127.0.0.1:{port}",
        retry=RetrySettings(max_attempts=2, initial_backoff_seconds=0),
    )
    with pytest.raises(RetriableEspError, match="connection failed"):
        adapter.check()
    assert adapter.calls[("GET", "/api/lists", 0)] == 2
    adapter.close()


@pytest.mark.parametrize("esp", ["mailchimp", "klaviyo"])
def test_a_base_url_that_is_not_http_is_a_config_error(esp: str) -> None:
    adapter: MailchimpAdapter | KlaviyoAdapter
    if esp == "mailchimp":
        adapter = MailchimpAdapter(
            api_key=MAILCHIMP_KEY, audience_id="aud", base_url="ftp://127.0.0.1/3.0"
        )
    else:
        adapter = KlaviyoAdapter(api_key=KLAVIYO_KEY, base_url="ftp://127.0.0.1")
    with pytest.raises(ConfigError, match="not an http"):
        adapter.check()
    adapter.close()
