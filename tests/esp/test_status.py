"""HTTP status → error class, Retry-After parsing, and error messages of both ESPs."""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest

from connector.errors import (
    EspAuthError,
    EspError,
    EspNotFoundError,
    EspValidationError,
    FatalEspError,
    RateLimitedError,
    RetriableEspError,
)
from connector.esp.klaviyo import errors as klaviyo_errors
from connector.esp.mailchimp import errors as mailchimp_errors
from connector.esp.status import error_for_status, retry_after_seconds


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (301, FatalEspError),
        (400, EspValidationError),
        (401, EspAuthError),
        (403, EspAuthError),
        (404, EspNotFoundError),
        (408, RetriableEspError),
        (410, FatalEspError),
        (413, FatalEspError),
        (422, EspValidationError),
        (429, RateLimitedError),
        (500, RetriableEspError),
        (502, RetriableEspError),
        (503, RetriableEspError),
        (504, RetriableEspError),
        (524, RetriableEspError),
    ],
)
def test_status_table(status: int, error_class: type[EspError]) -> None:
    error = error_for_status(status, "m", esp="x", method="GET", path="/p")
    assert type(error) is error_class
    assert str(error) == f"x HTTP {status}: m (GET /p)"


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "30"})) == 30.0
    assert retry_after_seconds(httpx.Response(429)) is None
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "soon"})) is None
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    seconds = retry_after_seconds(httpx.Response(429, headers={"Retry-After": when}))
    assert seconds is not None and 100 < seconds <= 120


def test_mailchimp_message_has_title_detail_and_field_errors() -> None:
    response = httpx.Response(
        400,
        json={
            "title": "Invalid Resource",
            "status": 400,
            "detail": "The resource submitted could not be validated.",
            "errors": [{"field": "members.item:0.status", "message": "not an accepted value"}],
        },
    )
    with pytest.raises(EspValidationError) as caught:
        mailchimp_errors.validate_response(response, "POST", "/lists/{list_id}")
    assert caught.value.detail == (
        "Invalid Resource: The resource submitted could not be validated. "
        "(members.item:0.status: not an accepted value)"
    )


def test_klaviyo_message_lists_every_error() -> None:
    response = httpx.Response(
        400,
        json={
            "errors": [
                {"title": "Invalid input.", "detail": "bad email", "source": {"pointer": "/a"}},
                {"title": "Invalid input.", "source": {"parameter": "filter"}},
            ]
        },
    )
    with pytest.raises(EspValidationError) as caught:
        klaviyo_errors.validate_response(response, "GET", "/api/profiles")
    assert caught.value.detail == "Invalid input.: bad email (/a); Invalid input. (filter)"


@pytest.mark.parametrize(
    ("message", "code", "permanent"),
    [
        (
            "x@y.com is already a list member. Use PUT to insert or update list members.",
            "already_member",
            False,
        ),
        (
            "x@y.com is in a compliance state due to unsubscribe, bounce, or compliance review "
            "and cannot be subscribed.",
            "compliance_state",
            True,
        ),
        ("Member In Compliance State", "compliance_state", True),
        ("x@y looks fake or invalid, please enter a real email address.", "invalid_email", True),
        ("x@y.com was permanently deleted and cannot be re-imported.", "permanently_deleted", True),
        ("Email address is not a list member", "not_in_audience", False),
        ("x@y.com has signed up to a lot of lists very recently", "esp_error", False),
    ],
)
def test_mailchimp_member_errors_are_classified(message: str, code: str, permanent: bool) -> None:
    error = mailchimp_errors.member_error("X@Y.com", message, "ERROR_GENERIC")
    assert (error.email, error.code, error.permanent) == ("x@y.com", code, permanent)
    assert error.reason == message
