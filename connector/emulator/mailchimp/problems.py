"""Mailchimp's responses: JSON bodies and ``application/problem+json`` errors.

Error bodies follow the Marketing API's problem documents (``type, title, status, detail,
instance`` and, for validation failures, ``errors: [{field, message}]``) with the titles
of its error glossary. Handlers and the helpers they call raise ``ProblemError``; the app's
one exception handler renders it.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.responses import Response

from connector.emulator.common.http import ApiError
from connector.emulator.common.http import json_response as _json

__all__ = [
    "INVALID_RESOURCE_DETAIL",
    "ProblemError",
    "bad_request",
    "invalid_resource",
    "json_response",
    "no_content",
    "not_found",
    "problem",
]

ERROR_DOCS = "https://mailchimp.com/developer/marketing/docs/errors/"
INVALID_RESOURCE_DETAIL = (
    "The resource submitted could not be validated. "
    "For field-specific details, see the 'errors' array."
)
_JSON = "application/json; charset=utf-8"


def json_response(payload: Any, status: int = 200) -> Response:
    """A successful JSON answer."""
    return _json(payload, status, _JSON)


def no_content() -> Response:
    """204, as Mailchimp sends it: JSON content type, empty body."""
    return Response(b"", status_code=204, headers={"content-type": _JSON})


class ProblemError(ApiError):
    """An ``application/problem+json`` refusal."""

    media_type = "application/problem+json; charset=utf-8"

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        instance = str(uuid.uuid4())
        body: dict[str, Any] = {
            "type": ERROR_DOCS,
            "title": title,
            "status": status,
            "detail": detail,
            "instance": instance,
        }
        if errors is not None:
            body["errors"] = errors
        super().__init__(status, body, {"x-request-id": instance, **(headers or {})})


def problem(status: int, title: str, detail: str, **extra: Any) -> Response:
    """An ``application/problem+json`` answer (the gateway's refusals)."""
    return ProblemError(status, title, detail, **extra).response()


def not_found(detail: str = "The requested resource could not be found.") -> ProblemError:
    """404 Resource Not Found."""
    return ProblemError(404, "Resource Not Found", detail)


def invalid_resource(
    errors: list[dict[str, str]], detail: str = INVALID_RESOURCE_DETAIL
) -> ProblemError:
    """400 Invalid Resource with field errors (the JSON-schema check failed)."""
    return ProblemError(400, "Invalid Resource", detail, errors=errors)


def bad_request(detail: str, title: str = "Invalid Resource") -> ProblemError:
    """400 without field errors."""
    return ProblemError(400, title, detail)
