"""The handlers' side of both emulators: refusals are raised (``ApiError``, in the ESP's
own error shape) and one exception handler answers them; the app around the routes maps
Starlette's 404 and 405 to the ESP's answers through its gateway flavour."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from connector.emulator.options import EmulatorOptions

__all__ = [
    "ApiError",
    "Context",
    "Handlers",
    "build_starlette",
    "checked_body",
    "json_response",
    "serialized",
]

StateT = TypeVar("StateT")
ContextT = TypeVar("ContextT")


def json_response(
    payload: Any, status: int, media_type: str, headers: dict[str, str] | None = None
) -> Response:
    """A compact JSON answer."""
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return Response(body, status_code=status, media_type=media_type, headers=headers)


class ApiError(Exception):
    """A refusal, raised where the API would refuse; the app's handler renders it."""

    media_type: ClassVar[str] = "application/json"

    def __init__(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.payload = payload
        self.headers = headers

    def response(self) -> Response:
        return json_response(self.payload, self.status, self.media_type, self.headers)


async def _answer(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


@dataclass
class Context(Generic[StateT]):
    """Shared by the handlers of one emulator."""

    state: StateT
    options: EmulatorOptions
    base_url: str


class Handlers(Generic[ContextT]):
    """A group of handlers bound to one emulator's context."""

    def __init__(self, ctx: ContextT) -> None:
        self.ctx = ctx


class RoutingAnswers(Protocol):
    """The ESP's answers for a path no route knows and a method a route does not take."""

    def not_found(self) -> Response: ...

    def method_not_allowed(self, method: str, allow: str) -> Response: ...


def build_starlette(routes: Sequence[BaseRoute], answers: RoutingAnswers) -> Starlette:
    """The routes as an app: ``ApiError`` answered in the ESP's shape, and so are unknown
    paths and methods."""

    async def http_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, HTTPException) and exc.status_code == 405:
            return answers.method_not_allowed(request.method, (exc.headers or {}).get("Allow", ""))
        return answers.not_found()

    return Starlette(
        routes=list(routes),
        exception_handlers={404: http_error, 405: http_error, ApiError: _answer},
    )


def serialized(routes: Sequence[Route], lock: Any) -> list[Route]:
    """Every handler runs holding the state's lock: tests seed and inspect the state from
    their own thread while the server's thread serves. (The handlers await nothing slow:
    the gateway has read the body.)"""

    def wrap(route: Route) -> Route:
        endpoint: Callable[[Request], Awaitable[Response]] = route.endpoint

        async def locked(request: Request) -> Response:
            with lock:
                return await endpoint(request)

        return Route(route.path, locked, methods=list(route.methods or ()))

    return [wrap(route) for route in routes]


def checked_body(request: Request) -> dict[str, Any]:
    """The JSON body the contract check read and accepted (``contract.guard``)."""
    body: dict[str, Any] = request.state.body
    return body
