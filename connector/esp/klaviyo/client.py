"""The klaviyo-api SDK, sending through our ``EspHttpClient``.

The SDK's REST client is a urllib3 pool without timeouts whose default retry honours
Retry-After, stacked under the SDK's own retry (one GET became 12 requests). Here
``api_client.rest_client`` is replaced by ``HttpxRestClient``, the SDK's retry is set to a
single attempt, and the SDK is given a placeholder key: the real key is only the
transport's ``KlaviyoKeyAuth``. Responses come back as plain dicts
(``USE_DICTIONARY_FOR_RESPONSE_DATA``), so new response fields never break parsing.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any

import httpx
from klaviyo_api import KlaviyoAPI
from openapi_client.api_arg_options import USE_DICTIONARY_FOR_RESPONSE_DATA

from connector.esp.http_client import EspHttpClient

__all__ = ["HttpxRestClient", "KlaviyoKeyAuth", "RestResponse", "build_sdk"]

_PLACEHOLDER_KEY = "set-by-transport"


class KlaviyoKeyAuth(httpx.Auth):
    """``Authorization: Klaviyo-API-Key <key>`` on every request."""

    def __init__(self, api_key: str) -> None:
        self._header = f"Klaviyo-API-Key {api_key}"

    def __repr__(self) -> str:
        return "KlaviyoKeyAuth(***)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request


class RestResponse:
    """What the SDK reads from its REST client's answer."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.status = response.status_code
        self.reason = response.reason_phrase
        self.data: bytes | None = response.content

    def read(self) -> bytes | None:
        return self.data

    def getheaders(self) -> httpx.Headers:
        return self.response.headers

    def getheader(self, name: str, default: str | None = None) -> str | None:
        value: str | None = self.response.headers.get(name, default)
        return value


class HttpxRestClient:
    """Stands in for ``openapi_client.rest.RESTClientObject``."""

    def __init__(self, http: EspHttpClient) -> None:
        self.http = http

    def request(
        self,
        method: str,
        url: str,
        headers: dict[str, str] | None = None,
        body: Any = None,
        post_params: Any = None,
        _request_timeout: Any = None,  # the HTTP client's timeouts apply
    ) -> RestResponse:
        sent = {k: v for k, v in (headers or {}).items() if k.lower() != "authorization"}
        content: bytes | None
        if body is None:
            content = None
        elif isinstance(body, bytes):
            content = body
        elif isinstance(body, str):
            content = body.encode("utf-8")
        else:
            content = json.dumps(body).encode("utf-8")
        return RestResponse(self.http.send(method, url, headers=sent, content=content))


def build_sdk(http: EspHttpClient, base_url: str) -> KlaviyoAPI:
    """A ``KlaviyoAPI`` whose every request goes through ``http``, attempted once."""
    sdk = KlaviyoAPI(
        _PLACEHOLDER_KEY,
        max_delay=1,
        max_retries=1,  # one attempt: our tenacity policy is the only retry
        test_host=base_url.rstrip("/"),
        options={USE_DICTIONARY_FOR_RESPONSE_DATA: True},
    )
    sdk.api_client.rest_client = HttpxRestClient(http)
    return sdk
