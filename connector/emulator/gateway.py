"""The ASGI layer in front of each emulator's routes: what a real API gateway does.

Per request, in order: match the route template, take a concurrency slot (Mailchimp),
wait the injected latency, check credentials and headers, count the rate-limit windows
(Klaviyo), draw a fault, run the handler, count the call. 429/5xx faults answer before
the handler runs, so they never change state; timeouts and resets strike before or after
the handler (``fault_phase``), and "after" means the change happened but the response is
lost.

A reset closes the TCP connection with SO_LINGER 0 (the client sees a reset, no response).
That needs the connection's transport, which uvicorn's h11 protocol exposes on the bound
``receive`` callable; without it the request fails with uvicorn's plain 500 instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connector.emulator.calls import NO_RESPONSE, CallLog
from connector.emulator.common.http import RoutingAnswers
from connector.emulator.concurrency import InFlightLimiter
from connector.emulator.faults import Fault, FaultInjector
from connector.emulator.options import EmulatorOptions
from connector.emulator.ratelimit import RateLimit, RateLimiter

__all__ = ["Flavor", "Gateway"]


class Flavor(RoutingAnswers, Protocol):
    """What differs between the Mailchimp and Klaviyo gateways (and their apps' answers to
    unknown paths and methods)."""

    def concurrency_key(self, headers: Headers) -> str | None:
        """The key whose simultaneous requests are limited; None: no limit."""
        ...

    def too_many_connections(self) -> Response:
        """The answer to a request over the concurrency limit."""
        ...

    def check(self, method: str, route: str, headers: Headers) -> Response | None:
        """Credentials and required headers; a Response refuses the request."""
        ...

    def rate_limit(self, method: str, route: str) -> RateLimit | None:
        """The fixed-window limits of this endpoint; None: unlimited."""
        ...

    def throttled(self, retry_after: int) -> Response:
        """The answer to a request over a rate limit."""
        ...

    def fault_response(self, fault: Fault) -> Response:
        """The answer for an injected 429 or 5xx."""
        ...


class _Replay:
    """A ``receive`` that hands the buffered body to the app, then waits for disconnect."""

    def __init__(self, body: bytes, receive: Receive) -> None:
        self._body: bytes | None = body
        self._receive = receive

    async def __call__(self) -> Message:
        if self._body is not None:
            body, self._body = self._body, None
            return {"type": "http.request", "body": body, "more_body": False}
        return await self._receive()


async def _swallow(message: Message) -> None:
    """A ``send`` that drops the response: the handler ran, the client never hears."""


class _Exchange:
    """One request's bookkeeping: its status, its concurrency slot, whether it is counted."""

    def __init__(self, gateway: Gateway, method: str, route: str, path: str, send: Send) -> None:
        self.gateway = gateway
        self.method = method
        self.route = route
        self.path = path
        self._send = send
        self.status = NO_RESPONSE
        self.slot: str | None = None
        self._recorded = False

    def record(self) -> None:
        """Count the call once (status 0 when no response was sent)."""
        if not self._recorded:
            self._recorded = True
            self.gateway.calls.record(self.method, self.route, self.path, self.status)

    def finish(self) -> None:
        """Count the call and free the concurrency slot."""
        self.record()
        if self.slot is not None:
            self.gateway.in_flight.release(self.slot)
            self.slot = None

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            # Before the first byte goes out (an empty body is complete with the headers):
            # a client holding its answer always finds the call counted and its slot free.
            self.finish()
        await self._send(message)


class Gateway:
    """Wraps the routes' ASGI app with limits, faults and call counting."""

    def __init__(
        self,
        app: ASGIApp,
        routes: Sequence[BaseRoute],
        flavor: Flavor,
        options: EmulatorOptions,
        calls: CallLog,
        faults: FaultInjector,
        key: str,
    ) -> None:
        self.app = app
        self.routes = list(routes)
        self.flavor = flavor
        self.options = options
        self.calls = calls
        self.faults = faults
        self.key = key
        self.in_flight = InFlightLimiter()
        self.rate_limiter = RateLimiter(options)
        self.closing = asyncio.Event()
        """Set (from the server's loop) when the emulator stops: held requests let go."""

    def route_template(self, scope: Scope) -> str | None:
        """The template of the route matching the request, even for a wrong method."""
        partial: str | None = None
        for route in self.routes:
            match, _ = route.matches(scope)
            path = getattr(route, "path", None)
            if match is Match.FULL and isinstance(path, str):
                return path
            if match is Match.PARTIAL and partial is None and isinstance(path, str):
                partial = path
        return partial

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = self.route_template(scope)
        exchange = _Exchange(self, scope["method"], route or scope["path"], scope["path"], send)
        try:
            body = await _read_body(receive)
            if body is None:  # the client left before sending its body
                return
            await self._handle(scope, receive, _Replay(body, receive), route, exchange)
        finally:
            exchange.finish()

    async def _handle(
        self,
        scope: Scope,
        receive: Receive,
        replay: _Replay,
        route: str | None,
        exchange: _Exchange,
    ) -> None:
        respond = exchange.send
        if route is None:
            await self.flavor.not_found()(scope, replay, respond)
            return
        headers = Headers(scope=scope)
        wanted = self.flavor.concurrency_key(headers)
        if wanted is not None:
            if not self.in_flight.acquire(wanted, self.options.max_connections):
                await self.flavor.too_many_connections()(scope, replay, respond)
                return
            exchange.slot = wanted
        if self.options.latency_ms > 0:
            await asyncio.sleep(self.options.latency_ms / 1000)
        refusal = self._admit(exchange.method, route, headers)
        if refusal is not None:
            await refusal(scope, replay, respond)
            return
        fault = self.faults.draw(exchange.method, route)
        if fault is None:
            await self.app(scope, replay, respond)
        elif fault.kind in ("429", "5xx"):
            await self.flavor.fault_response(fault)(scope, replay, respond)
        else:
            if fault.phase == "after":
                await self.app(scope, replay, _swallow)
            await self._drop(fault, receive, exchange.record)

    def _admit(self, method: str, route: str, headers: Headers) -> Response | None:
        refusal = self.flavor.check(method, route, headers)
        if refusal is not None:
            return refusal
        limit = self.flavor.rate_limit(method, route)
        if limit is not None:
            retry_after = self.rate_limiter.hit(self.key, f"{method} {route}", limit)
            if retry_after is not None:
                return self.flavor.throttled(retry_after)
        return None

    async def _drop(self, fault: Fault, receive: Receive, record: Callable[[], None]) -> None:
        """Never answer: hold until the client gives up (timeout) or cut the line (reset).

        The call is counted first, so a client that saw the failure finds it counted; a
        held request keeps its concurrency slot, as on Mailchimp.
        """
        record()
        if fault.kind == "timeout":
            disconnected = await self._hold(receive)
            if disconnected:
                return
        await _reset(receive)

    async def _hold(self, receive: Receive) -> bool:
        """Wait for the client's disconnect, the hold limit or shutdown; True if it left."""
        waiter = asyncio.ensure_future(receive())
        closing = asyncio.ensure_future(self.closing.wait())
        try:
            await asyncio.wait(
                {waiter, closing},
                timeout=self.options.timeout_hold_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
            return waiter.done() and waiter.result().get("type") == "http.disconnect"
        finally:
            for task in (waiter, closing):
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None when the client disconnected first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _reset(receive: Receive) -> None:
    """Abort the connection with an RST and no response."""
    cycle: Any = getattr(receive, "__self__", None)
    transport: Any = getattr(cycle, "transport", None)
    if transport is None:  # not uvicorn's h11 cycle: let the server answer 500
        raise ConnectionAbortedError("emulator fault: connection reset")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    # Let connection_lost run so uvicorn marks the cycle disconnected and sends nothing.
    for _ in range(3):
        if getattr(cycle, "disconnected", True):
            break
        await asyncio.sleep(0)
