"""Mailchimp's responses: JSON bodies and ``application/problem+json`` errors.

Error bodies follow the Marketing API's problem documents (``type, title, status, detail,
instance`` and, for validation failures, ``errors: [{field, message}]``) with the titles
of its error glossary. Handlers and the helpers they call raise ``ProblemError``; the app's one
exception handler (``answer``) renders it.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

__all__ = [
    "ERROR_DOCS",
    "INVALID_RESOURCE_DETAIL",
    "ProblemError",
    "answer",
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
_PROBLEM = "application/problem+json; charset=utf-8"


def _dump(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode("utf-8")


def json_response(payload: Any, status: int = 200) -> Response:
    """A successful JSON answer."""
    return Response(_dump(payload), status_code=status, media_type=_JSON)


def no_content() -> Response:
    """204, as Mailchimp sends it: JSON content type, empty body."""
    return Response(b"", status_code=204, headers={"content-type": _JSON})


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An ``application/problem+json`` error."""
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
    all_headers = {"x-request-id": instance, **(headers or {})}
    return Response(_dump(body), status_code=status, media_type=_PROBLEM, headers=all_headers)


class ProblemError(Exception):
    """An error answer, raised where the API would refuse; ``answer`` renders it."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers

    def response(self) -> Response:
        return problem(
            self.status, self.title, self.detail, errors=self.errors, headers=self.headers
        )


async def answer(request: Request, exc: Exception) -> Response:
    """The app's exception handler for ``ProblemError``."""
    assert isinstance(exc, ProblemError)
    return exc.response()


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
