"""Request bodies checked with the official SDK's own pydantic models.

The klaviyo-api package generates one model per request body from Klaviyo's OpenAPI
spec (``ListMembersAddQuery``, ``ProfileImportJobCreateQuery``, …). A body the SDK's
model rejects is a body the real API rejects, so the emulator answers it with a JSON:API
400 whose ``source.pointer`` names the offending member. (The generated models accept
unknown segment condition shapes, so segment definitions get a second, stricter check in
``definitions``.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from openapi_client.models.list_create_query import ListCreateQuery
from openapi_client.models.list_members_add_query import ListMembersAddQuery
from openapi_client.models.list_members_delete_query import ListMembersDeleteQuery
from openapi_client.models.profile_import_job_create_query import ProfileImportJobCreateQuery
from openapi_client.models.segment_create_query import SegmentCreateQuery
from openapi_client.models.segment_partial_update_query import SegmentPartialUpdateQuery
from openapi_client.models.subscription_create_job_create_query import (
    SubscriptionCreateJobCreateQuery,
)
from openapi_client.models.subscription_delete_job_create_query import (
    SubscriptionDeleteJobCreateQuery,
)
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from connector.emulator.klaviyo.jsonapi import error, errors_response, invalid

__all__ = ["BODY_MODELS", "read_body"]

BODY_MODELS: dict[str, Any] = {
    "list-create": ListCreateQuery,
    "list-members-add": ListMembersAddQuery,
    "list-members-delete": ListMembersDeleteQuery,
    "profile-import": ProfileImportJobCreateQuery,
    "segment-create": SegmentCreateQuery,
    "segment-update": SegmentPartialUpdateQuery,
    "subscribe": SubscriptionCreateJobCreateQuery,
    "unsubscribe": SubscriptionDeleteJobCreateQuery,
}


def _pointer(location: tuple[Any, ...]) -> str:
    return "/" + "/".join(str(part) for part in location)


async def read_body(
    request: Request,
    model: str,
    *,
    max_bytes: int | None = None,
    precheck: Callable[[dict[str, Any]], Response | None] | None = None,
) -> dict[str, Any] | Response:
    """The JSON body if the SDK's ``model`` accepts it, else the API's 400 (413 if too big).
    ``precheck`` runs before the model (cheap limits first: validating 10,001 profiles
    only to refuse their number would be slow)."""
    raw = await request.body()
    if max_bytes is not None and len(raw) > max_bytes:
        return errors_response(
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
        return invalid("JSON parse error: the request body is not valid JSON.")
    if not isinstance(body, dict):
        return invalid("The request body must be a JSON object.")
    if precheck is not None:
        refusal = precheck(body)
        if refusal is not None:
            return refusal
    try:
        BODY_MODELS[model].model_validate(body)
    except ValidationError as exc:
        items = [
            error(400, "invalid", "Invalid input.", e["msg"], pointer=_pointer(tuple(e["loc"])))
            for e in exc.errors(include_url=False)
        ]
        return errors_response(400, items)
    except (ValueError, TypeError) as exc:  # the generated oneOf wrappers raise these
        return invalid(str(exc) or "The request body is not valid for this endpoint.")
    return body
