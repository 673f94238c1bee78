"""Mailchimp's failures: the response check, the SDK's ``ApiClientError``, per-member errors.

Mailchimp errors are ``application/problem+json``: ``{type, title, status, detail,
instance, errors?: [{field, message}]}``. The message segsync shows is ``title: detail``
plus the field errors; the class comes from the status (``status.py``). Responses without
a body (a bare 403/429 under load) are errors too: the SDK would return them as if they
had succeeded.

Batch endpoints answer 200 and list refused members; ``member_error`` classifies them:
"already a list member" means present, "Member In Compliance State", invalid/fake
addresses and permanently deleted contacts are permanent (retrying never helps).
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from connector.errors import ConnectorError, MemberError
from connector.esp.status import error_for_status, retry_after_seconds

__all__ = [
    "ESP",
    "from_api_client_error",
    "member_error",
    "problem_message",
    "validate_response",
]

ESP = "mailchimp"

# Codes segsync gives member errors (stable, for quarantine reports)
ALREADY_MEMBER = "already_member"
COMPLIANCE = "compliance_state"
INVALID_EMAIL = "invalid_email"
DELETED = "permanently_deleted"
NOT_IN_AUDIENCE = "not_in_audience"
OTHER = "esp_error"

_RULES: list[tuple[str, re.Pattern[str], bool]] = [
    (
        ALREADY_MEMBER,
        re.compile(r"already a list member|member exists|contact_exists", re.I),
        False,
    ),
    (COMPLIANCE, re.compile(r"compliance state|compliance_state", re.I), True),
    (
        INVALID_EMAIL,
        re.compile(r"fake or invalid|invalid email|not a valid email|email.*is invalid", re.I),
        True,
    ),
    (DELETED, re.compile(r"permanently deleted|forgotten", re.I), True),
    (
        NOT_IN_AUDIENCE,
        re.compile(r"not (a )?(list )?member|do(es)? not (exist|belong)|not subscribed to", re.I),
        False,
    ),
]


def problem_message(body: Any, status: int | None = None) -> str:
    """``title: detail`` (and field errors) from a problem+json body, dict or text."""
    if isinstance(body, (bytes, str)):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        try:
            body = json.loads(text)
        except ValueError:
            text = " ".join(text.split())
            return text or (f"HTTP {status} without a body" if status else "no body")
    if not isinstance(body, dict):
        return str(body) if body else (f"HTTP {status} without a body" if status else "no body")
    title = str(body.get("title") or "").strip()
    detail = str(body.get("detail") or "").strip()
    message = f"{title}: {detail}" if title and detail else title or detail
    fields = [
        f"{e.get('field') or '?'}: {e.get('message') or ''}".strip()
        for e in body.get("errors") or []
        if isinstance(e, dict)
    ]
    if fields:
        message = f"{message} ({'; '.join(fields)})"
    return message or (f"HTTP {status}" if status else "error")


def validate_response(response: httpx.Response, method: str, route: str) -> None:
    """Raise the error for a non-2xx Mailchimp response (with or without a body)."""
    if response.is_success:
        return
    status = response.status_code
    message = (
        problem_message(response.content, status)
        if response.content
        else (f"HTTP {status} without a body")
    )
    raise error_for_status(
        status,
        message,
        esp=ESP,
        method=method,
        path=route,
        retry_after=retry_after_seconds(response),
    )


def from_api_client_error(error: Any, method: str = "", route: str = "") -> ConnectorError:
    """The segsync error for the SDK's ``ApiClientError`` (``.text``, ``.status_code``).

    The SDK wraps whatever our HTTP client raised (``EspError``, ``ConfigError``): those come
    back unchanged. Otherwise ``.text`` is the problem+json body of a failed response.
    """
    text = getattr(error, "text", None)
    if isinstance(text, ConnectorError):
        return text
    status = getattr(error, "status_code", None)
    if isinstance(text, BaseException):
        # the SDK wraps whatever `request` raised; never include its args (could be anything)
        return error_for_status(
            502, f"request failed ({type(text).__name__})", esp=ESP, method=method, path=route
        )
    message = problem_message(text, status)
    return error_for_status(
        int(status) if status else 502, message, esp=ESP, method=method, path=route
    )


def member_error(email: str, message: str, esp_code: str = "", **extra: str) -> MemberError:
    """A ``MemberError`` for one refused member, classified by Mailchimp's message/code."""
    text = f"{esp_code} {message}"
    code, permanent = next(
        ((c, p) for c, pattern, p in _RULES if pattern.search(text)), (OTHER, False)
    )
    details = {k: v for k, v in extra.items() if v}
    if esp_code:
        details["esp_code"] = esp_code
    return MemberError(
        email=email.strip().lower(),
        reason=message.strip() or esp_code or "refused by Mailchimp",
        code=code,
        permanent=permanent,
        extra=details,
    )
