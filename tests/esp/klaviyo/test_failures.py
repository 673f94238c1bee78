"""Klaviyo adapter: status → error class, one request per attempt, Retry-After, no key leaks."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import respx

from connector.errors import (
    EspAuthError,
    EspError,
    EspNotFoundError,
    EspValidationError,
    FatalEspError,
    RateLimitedError,
    RetriableEspError,
)
from connector.esp import Contact, EspObject
from connector.esp.klaviyo.adapter import KlaviyoAdapter
from connector.settings import RetrySettings
from tests.esp.conftest import KLAVIYO_KEY, FakeClock, assert_key_absent
from tests.esp.klaviyo.conftest import FakeKlaviyo, jsonapi_error

ONE_ATTEMPT = RetrySettings(max_attempts=1)
LIST = EspObject("L1", "segsync:vip", "list")


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, EspValidationError),
        (401, EspAuthError),
        (403, EspAuthError),
        (404, EspNotFoundError),
        (405, FatalEspError),
        (409, FatalEspError),
        (422, EspValidationError),
        (429, RateLimitedError),
        (500, RetriableEspError),
        (503, RetriableEspError),
        (504, RetriableEspError),
    ],
)
def test_status_codes_map_to_the_error_tree(
    make_klaviyo: Callable[..., KlaviyoAdapter],
    kl_router: respx.Router,
    status: int,
    error_class: type[EspError],
) -> None:
    kl_router.get("/api/lists").mock(
        return_value=jsonapi_error(status, "Some title.", "Some detail.", "/data/attributes")
    )
    with pytest.raises(error_class) as caught:
        make_klaviyo(retry=ONE_ATTEMPT).check()
    assert type(caught.value) is error_class
    assert "Some title.: Some detail. (/data/attributes)" in str(caught.value)
    assert caught.value.path == "/api/lists"


@pytest.mark.parametrize("status", [429, 503, 504])
def test_the_sdk_never_retries_on_its_own(
    make_klaviyo: Callable[..., KlaviyoAdapter], kl_router: respx.Router, status: int
) -> None:
    route = kl_router.get("/api/lists").mock(
        return_value=jsonapi_error(status, "Busy.", "Try later.")
    )
    with pytest.raises(RetriableEspError):
        make_klaviyo(retry=ONE_ATTEMPT).check()
    assert route.call_count == 1
    route.reset()
    with pytest.raises(RetriableEspError):
        make_klaviyo(retry=RetrySettings(max_attempts=3, initial_backoff_seconds=0)).check()
    assert route.call_count == 3  # our attempts, one request each


def test_429_retry_after_is_honoured_and_pauses_the_endpoint(
    klaviyo: KlaviyoAdapter, kl_router: respx.Router, clock: FakeClock
) -> None:
    limited = jsonapi_error(429, "Throttled.", "Request was throttled.")
    limited.headers["Retry-After"] = "5"
    route = kl_router.post("/api/lists/L1/relationships/profiles").mock(
        side_effect=[limited, httpx.Response(204)]
    )
    klaviyo.remember_ids({"a@example.com": "P1"})
    assert klaviyo.add_members(LIST, ["a@example.com"]).applied == ["a@example.com"]
    assert route.call_count == 2
    assert clock.sleeps[0] == 5.0  # the retry policy's wait
    assert sum(clock.sleeps) == pytest.approx(5.0)  # the paused window adds no second wait


def test_validation_and_auth_errors_are_not_retried(
    klaviyo: KlaviyoAdapter, kl_router: respx.Router, clock: FakeClock
) -> None:
    route = kl_router.delete("/api/lists/L1/relationships/profiles").mock(
        return_value=jsonapi_error(403, "You do not have permission.", "Missing scope lists:write")
    )
    klaviyo.remember_ids({"a@example.com": "P1"})
    with pytest.raises(EspAuthError, match="Missing scope lists:write"):
        klaviyo.remove_members(LIST, ["a@example.com"])
    assert route.call_count == 1
    assert clock.sleeps == []


def test_a_body_the_sdk_rejects_is_a_validation_error_without_a_request(
    klaviyo: KlaviyoAdapter, account: FakeKlaviyo, kl_router: respx.Router
) -> None:
    with pytest.raises(EspValidationError, match="rejected the request body"):
        klaviyo.upsert_segment("segsync:bad", {"condition_groups": "not a list"}, "S1")
    assert not kl_router.routes["update_segment"].called


def test_an_import_job_that_never_finishes_is_retriable(
    make_klaviyo: Callable[..., KlaviyoAdapter], account: FakeKlaviyo
) -> None:
    account.polls_until_complete = 10**6
    adapter = make_klaviyo(job_timeout_seconds=30.0, retry=ONE_ATTEMPT)
    with pytest.raises(RetriableEspError, match="still processing"):
        adapter.ensure_contacts([Contact("new@example.com", True)], create_new=True)


def test_connection_failures_are_retried(
    klaviyo: KlaviyoAdapter, kl_router: respx.Router, clock: FakeClock
) -> None:
    route = kl_router.get("/api/lists").mock(
        side_effect=[
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            httpx.ConnectTimeout("timed out"),
            httpx.Response(200, json={"data": [], "links": {"self": "x"}}),
        ]
    )
    klaviyo.check()
    assert route.call_count == 3
    assert klaviyo.calls[("GET", "/api/lists", 0)] == 2


def test_the_key_never_reaches_errors_reprs_or_logs(
    klaviyo: KlaviyoAdapter,
    account: FakeKlaviyo,
    kl_router: respx.Router,
    all_logs: pytest.LogCaptureFixture,
) -> None:
    kl_router.routes["lists"].mock(
        side_effect=[
            httpx.ConnectError("reset"),
            jsonapi_error(401, "Incorrect authentication credentials."),
        ]
    )
    errors: list[BaseException] = []
    try:
        klaviyo.check()
    except EspError as exc:
        errors.append(exc)
    account.add_profile("a@example.com")
    klaviyo.ensure_contacts([Contact("a@example.com", True, {"x": 1})], create_new=True)
    texts: list[object] = [
        repr(klaviyo),
        repr(klaviyo._http.client),
        repr(klaviyo._http.client.auth),
    ]
    for error in errors:
        texts += [str(error), repr(error), error.args, error.__cause__]
    texts += [r.getMessage() for r in all_logs.records] + [repr(r.args) for r in all_logs.records]
    assert errors and any("retrying" in r.getMessage() for r in all_logs.records)
    assert_key_absent(KLAVIYO_KEY, *texts)
