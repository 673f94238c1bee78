"""The mailchimp-marketing SDK's ``ApiClient``, sending through our ``EspHttpClient``.

The SDK calls module-level ``requests`` functions (no connection reuse) and carries the key
itself. Here ``request`` is overridden to go through the shared ``EspHttpClient``, and the SDK is
built without a key: authentication is that client's ``httpx.BasicAuth``.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
from mailchimp_marketing.api_client import ApiClient

from connector.esp.http_client import EspHttpClient

__all__ = ["HttpxApiClient", "SdkResponse", "body_of", "response_fields"]

_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
_FIELDS: contextvars.ContextVar[str | None] = contextvars.ContextVar("fields", default=None)


@contextmanager
def response_fields(names: Sequence[str]) -> Iterator[None]:
    """Ask Mailchimp for only these response fields (its ``fields`` query parameter), for
    SDK methods that do not expose it: batch answers otherwise echo every member in full."""
    token = _FIELDS.set(",".join(names))
    try:
        yield
    finally:
        _FIELDS.reset(token)


class SdkResponse:
    """What the SDK's ``call_api`` reads: ``headers``, ``json()``, ``text``, ``ok``,
    ``status_code``. Only successful responses get here (the HTTP client raises otherwise)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.headers = response.headers
        self.status_code = response.status_code
        self.ok = response.is_success

    @property
    def text(self) -> str:
        return self.response.text

    def json(self) -> Any:
        return self.response.json()


class HttpxApiClient(ApiClient):  # type: ignore[misc]  # the SDK is untyped
    """``ApiClient`` whose ``request`` uses the adapter's ``EspHttpClient``."""

    def __init__(self, http: EspHttpClient, host: str) -> None:
        super().__init__({})  # no api_key: the SDK never holds it
        self.http = http
        self.host = host.rstrip("/")
        # call_api replaces the text "server" anywhere in the URL when this is set
        self.server = ""

    def request(
        self,
        method: str,
        url: str,
        query_params: Any = None,
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> SdkResponse:
        content = None
        if method.upper() in _WITH_BODY and body is not None:
            content = json.dumps(body).encode("utf-8")
        params = list(query_params or [])
        fields = _FIELDS.get()
        if fields:
            params.append(("fields", fields))
        response = self.http.send(
            method, url, params=params or None, headers=headers, content=content
        )
        return SdkResponse(response)


def body_of(result: Any) -> dict[str, Any]:
    """The JSON object an SDK call returned (the SDK hands back the response when the body
    is empty or not JSON)."""
    if isinstance(result, dict):
        return result
    if isinstance(result, SdkResponse) and result.response.content:
        try:
            data = result.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    return {}
