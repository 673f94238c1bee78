"""The Mailchimp Marketing API's request-body contract, for the endpoints segsync writes to.

Written from the API reference (mailchimp.com/developer/marketing/api): required fields,
enums and limits of each body, as JSON Schema, checked with ``jsonschema`` before a
handler runs. A refusal is the API's own shape: 400 "Invalid Resource" with one
``errors[{field, message}]`` entry per problem. Every refusal is also recorded in
``MailchimpState.contract_violations``, so a test can assert a whole sync sent nothing the
real API would refuse.

One rule is not expressible as plain JSON Schema and is checked by hand: every member of a
batch ``POST /lists/{id}`` needs ``status`` or ``status_if_new`` ("Required fields were not
provided: status" otherwise — the reference marks ``status`` required, the API definition
also accepts ``status_if_new``).
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

__all__ = ["SCHEMAS", "body_problems"]

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

_VALIDATORS = {key: Draft202012Validator(schema) for key, schema in SCHEMAS.items()}


def _field(path: Any) -> str:
    """Mailchimp's field path style: ``members.item:3.status``."""
    parts = [f"item:{p}" if isinstance(p, int) else str(p) for p in path]
    return ".".join(parts)


def body_problems(method: str, route: str, body: Any) -> list[dict[str, str]]:
    """Field errors ``[{field, message}]`` for a request body; empty when it conforms."""
    validator = _VALIDATORS.get((method, route))
    if validator is None:
        return []
    problems = []
    for error in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path)):
        where = _field(error.absolute_path)
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else error.message
            where = f"{where}.{missing}" if where else missing
            message = f"Required fields were not provided: {missing}"
        elif error.validator == "maxItems" and route.endswith("{segment_id}"):
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
        problems.append({"field": where, "message": message})
    if (method, route) == ("POST", "/lists/{list_id}") and isinstance(body, dict):
        for index, member in enumerate(body.get("members") or []):
            if isinstance(member, dict) and not {"status", "status_if_new"} & member.keys():
                problems.append(
                    {
                        "field": f"members.item:{index}.status",
                        "message": "Required fields were not provided: status",
                    }
                )
    return problems
