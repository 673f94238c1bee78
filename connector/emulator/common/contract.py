"""Request bodies checked against an ESP's published contract before a handler runs.

A ``Contract`` holds a JSON Schema per operation (``"METHOD /route"``); ``guard`` puts the
ESP's check (parse, validate, refuse in its own error shape) in front of every route whose
operation has one, and keeps the accepted body for the handler (``checked_body``). Every
refusal is also recorded in the state's ``contract_violations``, so a test can assert a
whole sync sent nothing the real API would refuse.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from jsonschema import Draft202012Validator, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = ["Contract", "Problem", "guard", "record"]

#: where (the path into the body, a missing member included) and the schema's complaint
Problem = tuple[tuple[str | int, ...], ValidationError]
Check = Callable[[Request, str], Awaitable[dict[str, Any]]]


class Contract:
    """The body schemas of an API's operations."""

    def __init__(self, schemas: Mapping[str, Any], defs: Mapping[str, Any] | None = None) -> None:
        self._validators = {
            operation: Draft202012Validator({"$defs": dict(defs or {}), **schema})
            for operation, schema in schemas.items()
        }

    def __contains__(self, operation: object) -> bool:
        return operation in self._validators

    def problems(self, operation: str, body: Any) -> list[Problem]:
        """Every way ``body`` breaks the operation's schema, in body order; inside an
        ``anyOf``, the alternative meant (see ``_deepest``) at its deepest problem."""
        found: list[Problem] = []
        errors = self._validators[operation].iter_errors(body)
        for error in sorted(errors, key=lambda e: list(e.absolute_path)):
            best = _deepest(error)
            path: tuple[str | int, ...] = tuple(best.absolute_path)
            if best.validator == "required" and "'" in best.message:
                path = (*path, best.message.split("'")[1])  # point at the missing member
            found.append((path, best))
        return found


def _deepest(problem: ValidationError) -> ValidationError:
    """Within an anyOf, the alternative whose discriminating ``type`` matched (then the
    one with the fewest problems) says what is wrong, at its deepest problem."""
    while problem.context:
        branches: dict[Any, list[ValidationError]] = {}
        for item in problem.context:
            branches.setdefault(item.relative_schema_path[0], []).append(item)

        def score(errors: list[ValidationError]) -> tuple[bool, int]:
            wrong_kind = any(
                e.validator == "enum" and list(e.relative_path)[-1:] == ["type"] for e in errors
            )
            return wrong_kind, len(errors)

        chosen = min(branches.values(), key=score)
        problem = max(chosen, key=lambda e: len(e.absolute_path) + (e.validator == "required"))
    return problem


class _Recorder(Protocol):
    contract_violations: list[str]
    lock: Any


def record(state: _Recorder, operation: str, lines: Iterable[str]) -> None:
    """Note refused bodies as ``"METHOD /route: where: message"``."""
    with state.lock:
        state.contract_violations.extend(f"{operation}: {line}" for line in lines)


def guard(routes: Sequence[Route], operations: Contract, check: Check) -> list[Route]:
    """``routes`` with ``check(request, operation)`` in front of each one whose operation
    the contract covers; the body it returns is the handler's ``checked_body``."""

    def wrap(route: Route) -> Route:
        method = next(iter(route.methods or {"GET"} - {"HEAD"}))
        operation = f"{method} {route.path}"
        if operation not in operations:
            return route
        endpoint: Callable[[Request], Awaitable[Response]] = route.endpoint

        async def checked(request: Request) -> Response:
            request.state.body = await check(request, operation)
            return await endpoint(request)

        return Route(route.path, checked, methods=list(route.methods or ()))

    return [wrap(route) for route in routes]
