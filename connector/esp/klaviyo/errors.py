"""Klaviyo's failures: the response check and bulk-import errors.

Klaviyo errors are JSON:API: ``{"errors": [{id, status, code, title, detail, source:
{pointer, parameter}}]}``; the message is ``title: detail (pointer)`` for each, the class
comes from the status (``status.py``). A 429 carries ``Retry-After`` in seconds.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from connector.errors import MemberError
from connector.esp.status import error_for_status, retry_after_seconds

__all__ = ["ESP", "import_error", "jsonapi_message", "validate_response"]

ESP = "klaviyo"

INVALID_EMAIL = "invalid_email"
IMPORT_ERROR = "import_error"
NOT_FOUND = "profile_not_found"

_INVALID_EMAIL = re.compile(r"email", re.I)
_INVALID = re.compile(r"invalid|not a valid|malformed", re.I)


def jsonapi_message(content: bytes, status: int) -> str:
    """``title: detail (pointer)`` for each JSON:API error, or the body text."""
    if not content:
        return f"HTTP {status} without a body"
    try:
        body: Any = json.loads(content)
    except ValueError:
        return " ".join(content.decode("utf-8", "replace").split()) or f"HTTP {status}"
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list) or not errors:
        return f"HTTP {status}: {json.dumps(body)[:300]}"
    parts = []
    for error in errors:
        if not isinstance(error, dict):
            continue
        title = str(error.get("title") or "").strip()
        detail = str(error.get("detail") or "").strip()
        text = f"{title}: {detail}" if title and detail and detail != title else title or detail
        source = error.get("source")
        where = (
            (source.get("pointer") or source.get("parameter")) if isinstance(source, dict) else None
        )
        parts.append(f"{text} ({where})" if where else text)
    return "; ".join(p for p in parts if p) or f"HTTP {status}"


def validate_response(response: httpx.Response, method: str, route: str) -> None:
    """Raise the error for a non-2xx Klaviyo response."""
    if response.is_success:
        return
    status = response.status_code
    raise error_for_status(
        status,
        jsonapi_message(response.content, status),
        esp=ESP,
        method=method,
        path=route,
        retry_after=retry_after_seconds(response),
    )


def import_error(email: str, attributes: dict[str, Any]) -> MemberError:
    """A ``MemberError`` for one ``import-error`` of a bulk profile import job."""
    code = str(attributes.get("code") or "")
    title = str(attributes.get("title") or "")
    detail = str(attributes.get("detail") or "")
    text = f"{code} {title} {detail}"
    invalid_email = bool(_INVALID_EMAIL.search(text) and _INVALID.search(text))
    reason = f"{title}: {detail}" if title and detail else title or detail or code
    return MemberError(
        email=email,
        reason=reason or "refused by Klaviyo's bulk import",
        code=INVALID_EMAIL if invalid_email else IMPORT_ERROR,
        permanent=invalid_email,
        extra={"esp_code": code} if code else {},
    )
