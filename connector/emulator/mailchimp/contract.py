"""The Mailchimp Marketing API's request-body contract, for the endpoints segsync writes to.

Written from the API reference (mailchimp.com/developer/marketing/api): required fields,
enums and limits of each body, as JSON Schema, checked with ``jsonschema`` before a
handler runs (``common.contract.guard``). A refusal is the API's own shape: 400 "Invalid
Resource" with one ``errors[{field, message}]`` entry per problem, recorded in
``MailchimpState.contract_violations``.

One rule is not expressible as plain JSON Schema and is checked by hand: every member of a
batch ``POST /lists/{id}`` needs ``status`` or ``status_if_new`` ("Required fields were not
provided: status" otherwise — the reference marks ``status`` required, the API definition
also accepts ``status_if_new``).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from connector.emulator.common.contract import Check, Contract, record
from connector.emulator.mailchimp.account import MailchimpState
from connector.emulator.mailchimp.problems import (
    INVALID_RESOURCE_DETAIL,
    ProblemError,
    bad_request,
    invalid_resource,
)

__all__ = ["CONTRACT", "SCHEMAS", "body_problems", "checker"]

STATUSES = ["subscribed", "unsubscribed", "cleaned", "pending", "transactional"]
MAX_BATCH = 500

_MEMBER_PROPERTIES: dict[str, Any] = {
    "email_address": {"type": "string"},
    "email_type": {"enum": ["html", "text"]},
    "status": {"enum": STATUSES},
    "status_if_new": {"enum": STATUSES},
    "merge_fields": {"type": "object"},
    "interests": {"type": "object", "additionalProperties": {"type": "boolean"}},
    "language": {"type": "string"},
    "vip": {"type": "boolean"},
    "location": {"type": "object"},
    "marketing_permissions": {"type": "array"},
    "ip_signup": {"type": "string"},
    "timestamp_signup": {"type": "string"},
    "ip_opt": {"type": "string"},
    "timestamp_opt": {"type": "string"},
    "tags": {"type": "array", "items": {"type": "string"}},
}
_EMAILS = {"type": "array", "items": {"type": "string"}, "maxItems": MAX_BATCH}
_CONDITIONS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "match": {"enum": ["any", "all"]},
        "conditions": {"type": "array", "items": {"type": "object"}},
    },
}

#: (method, route template without the /3.0 prefix) → the body's JSON Schema
SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/lists/{list_id}"): {
        "type": "object",
        "required": ["members"],
        "properties": {
            "members": {
                "type": "array",
                "maxItems": MAX_BATCH,
                "items": {
                    "type": "object",
                    "required": ["email_address"],
                    "properties": _MEMBER_PROPERTIES,
                },
            },
            "sync_tags": {"type": "boolean"},
            "update_existing": {"type": "boolean"},
        },
    },
    ("PUT", "/lists/{list_id}/members/{subscriber_hash}"): {
        "type": "object",
        "required": ["email_address", "status_if_new"],
        "properties": _MEMBER_PROPERTIES,
    },
    ("PATCH", "/lists/{list_id}/members/{subscriber_hash}"): {
        "type": "object",
        "properties": _MEMBER_PROPERTIES,
    },
    ("POST", "/lists/{list_id}/members/{subscriber_hash}/tags"): {
        "type": "object",
        "required": ["tags"],
        "properties": {
            "tags": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "status"],
                    "properties": {
                        "name": {"type": "string"},
                        "status": {"enum": ["active", "inactive"]},
                    },
                },
            },
            "is_syncing": {"type": "boolean"},
        },
    },
    ("POST", "/lists/{list_id}/segments"): {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "maxLength": 100},
            "static_segment": {"type": "array", "items": {"type": "string"}},
            "options": _CONDITIONS,
        },
    },
    ("PATCH", "/lists/{list_id}/segments/{segment_id}"): {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "maxLength": 100},
            "static_segment": {"type": "array", "items": {"type": "string"}},
            "options": _CONDITIONS,
        },
    },
    ("POST", "/lists/{list_id}/segments/{segment_id}"): {
        "type": "object",
        "properties": {"members_to_add": _EMAILS, "members_to_remove": _EMAILS},
    },
    ("POST", "/batches"): {
        "type": "object",
        "required": ["operations"],
        "properties": {
            "operations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["method", "path"],
                    "properties": {
                        "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE"]},
                        "path": {"type": "string"},
                        "params": {"type": "object"},
                        # the operation's JSON body, as a string (not an object)
                        "body": {"type": "string"},
                        "operation_id": {"type": "string"},
                    },
                },
            },
        },
    },
}

CONTRACT = Contract(
    {f"{method} /3.0{route}": schema for (method, route), schema in SCHEMAS.items()}
)


def _field(path: tuple[str | int, ...]) -> str:
    """Mailchimp's field path style: ``members.item:3.status``."""
    return ".".join(f"item:{p}" if isinstance(p, int) else str(p) for p in path)


def body_problems(operation: str, body: Any) -> list[dict[str, str]]:
    """Field errors ``[{field, message}]`` for a request body; empty when it conforms."""
    problems = []
    for path, error in CONTRACT.problems(operation, body):
        if error.validator == "required":
            message = f"Required fields were not provided: {path[-1]}"
        elif error.validator == "maxItems" and operation.endswith("{segment_id}"):
            message = "Maximum allowed member items exceeded"
        elif error.validator == "maxItems":
            found = len(error.instance) if isinstance(error.instance, list) else 0
            message = (
                f"Schema describes array, should have at most {error.validator_value} "
                f"elements (found {found})"
            )
        elif error.validator == "enum":
            message = f"Value is not one of: {', '.join(map(str, error.validator_value))}"
        else:
            message = error.message
        problems.append({"field": _field(path), "message": message})
    if operation == "POST /3.0/lists/{list_id}" and isinstance(body, dict):
        for index, member in enumerate(body.get("members") or []):
            if isinstance(member, dict) and not {"status", "status_if_new"} & member.keys():
                problems.append(
                    {
                        "field": f"members.item:{index}.status",
                        "message": "Required fields were not provided: status",
                    }
                )
    return problems


def checker(state: MailchimpState) -> Check:
    """The check ``guard`` runs before a body-taking route: the body, or the API's 400
    "Invalid Resource" (recorded in ``state.contract_violations``)."""

    async def check(request: Request, operation: str) -> dict[str, Any]:
        body = await read_json(request)
        problems = body_problems(operation, body)
        if problems:
            record(state, operation, (f"{p['field']}: {p['message']}" for p in problems))
            first = problems[0]["message"]
            own = first.startswith(("Required fields", "Maximum allowed"))
            raise invalid_resource(problems, detail=first if own else INVALID_RESOURCE_DETAIL)
        return body

    return check


async def read_json(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or the API's 400."""
    raw = await request.body()
    if not raw.strip():
        raise bad_request("The request body is empty.")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ProblemError(
            400, "JSON Parse Error", "We encountered an unspecified JSON parsing error."
        ) from None
    if not isinstance(body, dict):
        raise bad_request("Schema describes object, array found instead")
    return body
