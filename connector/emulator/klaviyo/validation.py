"""Request bodies checked against Klaviyo's published OpenAPI document.

``openapi_subset.json`` (beside this module) holds the request-body schema of every
operation the emulator implements, extracted from Klaviyo's stable OpenAPI spec by
``scripts/extract_klaviyo_openapi.py`` and converted to JSON Schema. A body that breaks
it is a body the real API refuses: the emulator answers it with a JSON:API 400 whose
``source.pointer`` names the offending member, and records it in
``KlaviyoState.contract_violations`` so a test can assert a whole sync sent none. (The
schemas accept any segment condition shape, so segment definitions get a second,
stricter check in ``definitions``.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from starlette.requests import Request

from connector.emulator.klaviyo.jsonapi import JsonApiError, error, invalid

__all__ = ["BODY_OPERATIONS", "body_problems", "contract_subset", "read_body"]

#: the handlers' names for bodies → the OpenAPI operation that defines them
BODY_OPERATIONS: dict[str, str] = {
    "list-create": "POST /api/lists",
    "list-members-add": "POST /api/lists/{id}/relationships/profiles",
    "list-members-delete": "DELETE /api/lists/{id}/relationships/profiles",
    "profile-import": "POST /api/profile-bulk-import-jobs",
    "profile-upsert": "POST /api/profile-import",
    "profile-update": "PATCH /api/profiles/{id}",
    "segment-create": "POST /api/segments",
    "segment-update": "PATCH /api/segments/{id}",
    "subscribe": "POST /api/profile-subscription-bulk-create-jobs",
    "unsubscribe": "POST /api/profile-subscription-bulk-delete-jobs",
}


@cache
def contract_subset() -> dict[str, Any]:
    """The kept part of Klaviyo's OpenAPI document: body schemas and rate limits."""
    text = resources.files("connector.emulator.klaviyo").joinpath("openapi_subset.json")
    loaded: dict[str, Any] = json.loads(text.read_text(encoding="utf-8"))
    return loaded


@cache
def _validator(operation: str) -> Any:
    subset = contract_subset()
    schema = {"$defs": subset["$defs"], **subset["operations"][operation]["schema"]}
    return Draft202012Validator(schema)


def body_problems(model: str, body: Any) -> list[tuple[str, str]]:
    """``(pointer, message)`` for every way ``body`` breaks the operation's schema."""
    validator = _validator(BODY_OPERATIONS[model])
    found = []
    for problem in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path)):
        best = _deepest(problem)
        path = tuple(best.absolute_path)
        if best.validator == "required" and "'" in best.message:
            path = (*path, best.message.split("'")[1])  # point at the missing member
        found.append((_pointer(path), best.message[:300]))
    return found


def _deepest(problem: Any) -> Any:
    """Within an anyOf, the alternative whose discriminating ``type`` matched (then the
    one with the fewest problems) says what is wrong, at its deepest problem."""
    while problem.context:
        branches: dict[Any, list[Any]] = {}
        for item in problem.context:
            branches.setdefault(item.relative_schema_path[0], []).append(item)

        def score(errors: list[Any]) -> tuple[bool, int]:
            wrong_kind = any(
                e.validator == "enum" and list(e.relative_path)[-1:] == ["type"] for e in errors
            )
            return wrong_kind, len(errors)

        chosen = min(branches.values(), key=score)
        problem = max(chosen, key=lambda e: len(e.absolute_path) + (e.validator == "required"))
    return problem


def _pointer(location: tuple[Any, ...]) -> str:
    return "/" + "/".join(str(part) for part in location)


async def read_body(
    request: Request,
    model: str,
    *,
    max_bytes: int | None = None,
    precheck: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """The JSON body if it conforms to the OpenAPI schema of ``model``'s operation; else
    raises the API's 400 (413 if too big). ``precheck`` (which raises too) runs first: cheap
    limits first (validating 10,001 profiles only to refuse their number would be slow)."""
    raw = await request.body()
    if max_bytes is not None and len(raw) > max_bytes:
        raise JsonApiError(
            413,
            [
                error(
                    413,
                    "request_entity_too_large",
                    "Request entity too large.",
                    f"The request body exceeds the maximum size of {max_bytes // (1024 * 1024)}MB.",
                )
            ],
        )
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise invalid("JSON parse error: the request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.")
    if precheck is not None:
        precheck(body)
    problems = body_problems(model, body)
    if problems:
        violations = getattr(request.app.state, "contract_violations", None)
        if isinstance(violations, list):
            violations.extend(
                f"{BODY_OPERATIONS[model]}: {pointer}: {message}" for pointer, message in problems
            )
        items = [
            error(400, "invalid", "Invalid input.", message, pointer=pointer)
            for pointer, message in problems[:10]
        ]
        raise JsonApiError(400, items)
    return body
