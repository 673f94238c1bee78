"""The HTTP client under both SDKs: one pooled ``httpx.Client`` per adapter.

Every request an SDK makes ends in ``EspHttpClient.send``, which

1. waits for the account's gate (concurrency slot, and for Klaviyo the endpoint's rate
   window) — shared with every other thread and adapter of the same account;
2. sends with keep-alive connections and explicit timeouts;
3. counts the call as ``(method, route template, status)`` for metrics and benchmarks;
4. turns timeouts and connection failures into ``RetriableEspError`` and hands the response
   to the adapter's ``check`` (its ``validate_response``), which raises the error tree.

Once the run's ``stop`` event is set (SIGTERM), ``send`` raises ``StopRequestedError`` instead of
sending: a run stops between any two calls, not after its remaining look-ups.

The route template (``/lists/{list_id}/segments/{segment_id}``) is set by the adapter around
each SDK call (``with route("...")``), because the SDKs only pass finished URLs down; error
messages name the template, never the URL, so neither emails in query strings nor keys
reach a message. Authentication is the client's ``auth``: the key lives nowhere else.
"""

from __future__ import annotations

import contextvars
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx

from connector.errors import ConfigError, RetriableEspError, StopRequestedError
from connector.esp.ratelimit import RateWindow, SlotGate
from connector.esp.status import retry_after_seconds

__all__ = ["Check", "EspHttpClient", "RequestGate", "current_route", "route"]

log = logging.getLogger("segsync.esp.http")

_ROUTE: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "segsync_esp_route", default=None
)

#: ``check(response, method, route)`` raises the adapter's error for a failed response
Check = Callable[[httpx.Response, str, str], None]


@contextmanager
def route(template: str) -> Iterator[None]:
    """Name the route template of the SDK call made inside this block."""
    token = _ROUTE.set(template)
    try:
        yield
    finally:
        _ROUTE.reset(token)


def current_route(default: str) -> str:
    """The route template set by ``route``, else ``default``."""
    return _ROUTE.get() or default


class RequestGate:
    """The per-account admission of one request: an optional rate window, then a slot.

    The gates are in-process (``ratelimit.py``) or shared by every process of one budget
    store (``budget/``); a shared window's token must be sent by its deadline, so one that
    went stale while its request waited for a slot is taken again (holding the slot)."""

    def __init__(
        self,
        concurrency: SlotGate,
        limiter_for: Callable[[str, str], RateWindow | None] | None = None,
    ) -> None:
        self.concurrency = concurrency
        self._limiter_for = limiter_for

    def limiter(self, method: str, route_template: str) -> RateWindow | None:
        return self._limiter_for(method, route_template) if self._limiter_for else None

    @contextmanager
    def admit(self, method: str, route_template: str) -> Iterator[None]:
        limiter = self.limiter(method, route_template)
        # wait for the window before taking a slot, so waiting holds no connection
        deadline = limiter.take() if limiter is not None else math.inf
        with self.concurrency.slot():
            if limiter is not None and limiter.expired(deadline):
                limiter.take()
            yield

    def rate_limited(self, method: str, route_template: str, retry_after: float | None) -> None:
        limiter = self.limiter(method, route_template)
        if limiter is not None:
            limiter.pause(retry_after if retry_after is not None else 1.0)


class EspHttpClient:
    """One ``httpx.Client`` (pooled, keep-alive, timeouts) with gates, counts and checks."""

    def __init__(
        self,
        *,
        esp: str,
        auth: httpx.Auth,
        timeout_seconds: float,
        max_connections: int,
        gate: RequestGate,
        check: Check,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.esp = esp
        self.gate = gate
        self.check = check
        self.calls: Counter[tuple[str, str, int]] = Counter()
        self._calls_lock = threading.Lock()
        #: set by the run on SIGTERM: no request is sent after it
        self.stop: threading.Event | None = None
        #: the ``RateLimit-*`` headers of the latest response that had any (``doctor``)
        self.rate_headers: dict[str, str] = {}
        self.client = httpx.Client(
            auth=auth,
            timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 10.0)),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            transport=transport,
            follow_redirects=False,
        )

    def _count(self, method: str, route_template: str, status: int) -> None:
        with self._calls_lock:
            self.calls[(method, route_template, status)] += 1

    def send(
        self,
        method: str,
        url: str,
        *,
        params: Any = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """Send one request (no retry here) and return a successful response, or raise."""
        method = method.upper()
        template = current_route(httpx.URL(url).path)
        started = time.monotonic()
        self._check_stop()
        try:
            with self.gate.admit(method, template):
                self._check_stop()  # admission may have waited for a slot or a rate window
                response = self.client.request(
                    method, url, params=params, headers=headers, content=content
                )
        except httpx.UnsupportedProtocol:
            raise ConfigError(f"{self.esp}: the base URL is not an http(s) URL") from None
        except httpx.TimeoutException as exc:
            self._count(method, template, 0)
            raise RetriableEspError(
                f"request timed out ({type(exc).__name__})",
                esp=self.esp,
                method=method,
                path=template,
            ) from None
        except httpx.TransportError as exc:
            self._count(method, template, 0)
            # `from None`: the httpx error holds the request, whose headers hold the key
            raise RetriableEspError(
                f"connection failed ({type(exc).__name__}: {exc})",
                esp=self.esp,
                method=method,
                path=template,
            ) from None
        self._count(method, template, response.status_code)
        limits = {
            k.lower(): v for k, v in response.headers.items() if k.lower().startswith("ratelimit")
        }
        if limits:
            self.rate_headers = limits
        log.debug(
            "%s %s %s -> %d in %.3fs",
            self.esp,
            method,
            template,
            response.status_code,
            time.monotonic() - started,
        )
        if response.status_code == 429:
            self.gate.rate_limited(method, template, retry_after_seconds(response))
        self.check(response, method, template)
        return response

    def _check_stop(self) -> None:
        if self.stop is not None and self.stop.is_set():
            raise StopRequestedError(f"{self.esp}: stopped before the next request")

    def close(self) -> None:
        self.client.close()
