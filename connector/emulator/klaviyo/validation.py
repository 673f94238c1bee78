"""Request bodies checked against Klaviyo's published OpenAPI document.

``openapi_subset.json`` (beside this module) holds the request-body schema of every
operation the emulator implements and the rate limits of every operation it serves,
extracted from Klaviyo's stable OpenAPI spec by ``scripts/extract_klaviyo_openapi.py`` and
converted to JSON Schema. A body that breaks it is a body the real API refuses: the
emulator answers it with a JSON:API 400 whose ``source.pointer`` names the offending
member, and records it in ``KlaviyoState.contract_violations`` (``common.contract``).
Segment definitions get a second check for what a schema cannot say (``definitions``);
a bulk import's size and profile count, which the document states in prose, are checked
first (validating 10,001 profiles only to refuse their number would be slow).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from starlette.requests import Request

from connector.emulator.common.contract import Check, Contract, record
from connector.emulator.klaviyo.account import KlaviyoState
from connector.emulator.klaviyo.jsonapi import JsonApiError, error, invalid, refusal

__all__ = ["CONTRACT", "IMPORT_JOBS", "MAX_IMPORT_PROFILES", "checker", "contract_subset"]

IMPORT_JOBS = "POST /api/profile-bulk-import-jobs"
MAX_IMPORT_PROFILES = 10_000
MAX_IMPORT_BYTES = 5 * 1024 * 1024


@cache
def contract_subset() -> dict[str, Any]:
    """The kept part of Klaviyo's OpenAPI document: body schemas and rate limits."""
    text = resources.files("connector.emulator.klaviyo").joinpath("openapi_subset.json")
    loaded: dict[str, Any] = json.loads(text.read_text(encoding="utf-8"))
    return loaded


CONTRACT = Contract(
    {op: spec["schema"] for op, spec in contract_subset()["operations"].items()},
    contract_subset()["$defs"],
)


def _check_import_count(body: dict[str, Any]) -> None:
    """1 to 10,000 profiles per job (the model check reports the shape)."""
    try:
        entries = body["data"]["attributes"]["profiles"]["data"]
    except (KeyError, TypeError):
        return
    if not isinstance(entries, list):
        return
    where = "/data/attributes/profiles/data"
    if not entries:
        raise invalid("At least one profile is required.", pointer=where)
    if len(entries) > MAX_IMPORT_PROFILES:
        raise invalid(
            f"A maximum of {MAX_IMPORT_PROFILES} profiles can be imported per job "
            f"({len(entries)} given).",
            pointer=where,
        )


def checker(state: KlaviyoState) -> Check:
    """The check ``guard`` runs before a body-taking route: the body, or the API's 400
    (413 for a bulk import over 5 MB)."""

    async def check(request: Request, operation: str) -> dict[str, Any]:
        raw = await request.body()
        if operation == IMPORT_JOBS and len(raw) > MAX_IMPORT_BYTES:
            raise refusal(
                413,
                "request_entity_too_large",
                "Request entity too large.",
                f"The request body exceeds the maximum size of {MAX_IMPORT_BYTES // 2**20}MB.",
            )
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise invalid("JSON parse error: the request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise invalid("The request body must be a JSON object.")
        if operation == IMPORT_JOBS:
            _check_import_count(body)
        problems = [
            ("/" + "/".join(map(str, path)), problem.message[:300])
            for path, problem in CONTRACT.problems(operation, body)
        ]
        if problems:
            record(state, operation, (f"{pointer}: {message}" for pointer, message in problems))
            items = [
                error(400, "invalid", "Invalid input.", message, pointer=pointer)
                for pointer, message in problems[:10]
            ]
            raise JsonApiError(400, items)
        return body

    return check
