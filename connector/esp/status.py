"""HTTP status → segsync error class, shared by both adapters' ``validate_response``.

    401, 403        EspAuthError        wrong/revoked key or missing scope
    404             EspNotFoundError    audience, tag, list or segment gone
    400, 422        EspValidationError  the ESP rejected the body
    429             RateLimitedError    with Retry-After seconds when sent
    408, 5xx        RetriableEspError   try again later
    other 4xx, 3xx  FatalEspError       retrying cannot help

Each adapter only builds the message from its ESP's error body (Mailchimp problem+json,
Klaviyo JSON:API errors); the class always comes from here.
"""

from __future__ import annotations

import email.utils
import time

import httpx

from connector.errors import (
    EspAuthError,
    EspError,
    EspNotFoundError,
    EspValidationError,
    FatalEspError,
    RateLimitedError,
    RetriableEspError,
)

__all__ = ["error_for_status", "retry_after_seconds"]

#: longest error body text put in a message (bodies can be large HTML pages)
MAX_MESSAGE = 500


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds (delta-seconds or an HTTP date), if any."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_for_status(
    status: int,
    message: str,
    *,
    esp: str,
    method: str,
    path: str,
    retry_after: float | None = None,
) -> EspError:
    """The error to raise for a failed response with this status."""
    message = message[:MAX_MESSAGE] or f"HTTP {status}"
    if status == 429:
        return RateLimitedError(
            message, retry_after=retry_after, esp=esp, status=status, method=method, path=path
        )
    cls: type[EspError]
    if status in (401, 403):
        cls = EspAuthError
    elif status == 404:
        cls = EspNotFoundError
    elif status in (400, 422):
        cls = EspValidationError
    elif status == 408 or status >= 500:
        cls = RetriableEspError
    else:
        cls = FatalEspError
    return cls(message, esp=esp, status=status, method=method, path=path)
