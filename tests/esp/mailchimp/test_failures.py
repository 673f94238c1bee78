"""Mailchimp adapter: status → error class, retries, the connection cap, and no key leaks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx
import pytest
import respx
from mailchimp_marketing.api_client import ApiClientError

from connector.errors import (
    ConfigError,
    EspAuthError,
    EspError,
    EspNotFoundError,
    EspValidationError,
    FatalEspError,
    RateLimitedError,
    RetriableEspError,
)
from connector.esp import Contact, EspObject
from connector.esp.mailchimp.adapter import MailchimpAdapter
from connector.esp.mailchimp.errors import from_api_client_error
from connector.settings import RetrySettings
from tests.esp.conftest import MAILCHIMP_KEY, assert_key_absent
from tests.esp.mailchimp.conftest import AUDIENCE, FakeAudience, problem

TAG = EspObject("4021", "segsync:vip", "tag")
ONE_ATTEMPT = RetrySettings(max_attempts=1)


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
        (502, RetriableEspError),
        (503, RetriableEspError),
        (504, RetriableEspError),
    ],
)
def test_status_codes_map_to_the_error_tree(
    make_mailchimp: Callable[..., MailchimpAdapter],
    mc_router: respx.Router,
    status: int,
    error_class: type[EspError],
) -> None:
    mc_router.get(f"/lists/{AUDIENCE}").mock(
        return_value=problem(status, "Some Title", "Some detail.")
    )
    adapter = make_mailchimp(retry=ONE_ATTEMPT)
    with pytest.raises(error_class) as caught:
        adapter.check()
    assert type(caught.value) is error_class
    assert caught.value.status == status
    assert "Some Title: Some detail." in str(caught.value)
    assert caught.value.path == "/lists/{list_id}"


@pytest.mark.parametrize(("status", "error_class"), [(403, EspAuthError), (429, RateLimitedError)])
def test_bodiless_403_and_429_are_errors_not_successes(
    make_mailchimp: Callable[..., MailchimpAdapter],
    mc_router: respx.Router,
    status: int,
    error_class: type[EspError],
) -> None:
    mc_router.get(f"/lists/{AUDIENCE}").respond(status)
    adapter = make_mailchimp(retry=ONE_ATTEMPT)
    with pytest.raises(error_class, match="without a body"):
        adapter.check()


def test_api_client_error_text_gives_title_and_detail() -> None:
    error = ApiClientError(
        text={"title": "Invalid Resource", "detail": "Blank email", "status": 400},
        status_code=400,
    )
    mapped = from_api_client_error(error, "POST", "/lists/{list_id}")
    assert isinstance(mapped, EspValidationError)
    assert (
        str(mapped) == "mailchimp HTTP 400: Invalid Resource: Blank email (POST /lists/{list_id})"
    )
    raw = ApiClientError(
        text='{"title": "Forbidden", "detail": "no access", "status": 403}', status_code=403
    )
    assert isinstance(from_api_client_error(raw), EspAuthError)


def test_429_retry_after_is_honoured(
    mailchimp: MailchimpAdapter, mc_router: respx.Router, sleeps: list[float]
) -> None:
    route = mc_router.get(f"/lists/{AUDIENCE}").mock(
        side_effect=[
            problem(
                429,
                "Too Many Requests",
                "You have exceeded the limit of 10 simultaneous connections.",
            ),
            httpx.Response(429, headers={"Retry-After": "7"}),
            httpx.Response(200, json={"id": AUDIENCE}),
        ]
    )
    mailchimp.check()
    assert route.call_count == 3
    assert sleeps[1] == 7.0
    assert 0 <= sleeps[0] <= 4.0  # backoff with jitter when no Retry-After was sent
    assert mailchimp.calls[("GET", "/lists/{list_id}", 429)] == 2


def test_5xx_and_connection_failures_are_retried(
    mailchimp: MailchimpAdapter, mc_router: respx.Router, sleeps: list[float]
) -> None:
    route = mc_router.post(f"/lists/{AUDIENCE}/segments/{TAG.id}").mock(
        side_effect=[
            httpx.ConnectError("connection reset by peer"),
            httpx.ReadTimeout("timed out"),
            problem(503, "Service Unavailable", "try later"),
            httpx.Response(200, json={"members_added": [], "errors": []}),
        ]
    )
    assert mailchimp.add_members(TAG, ["a@example.com"]).applied == ["a@example.com"]
    assert route.call_count == 4
    assert len(sleeps) == 3
    assert mailchimp.calls[("POST", "/lists/{list_id}/segments/{segment_id}", 0)] == 2


def test_other_4xx_are_not_retried(
    mailchimp: MailchimpAdapter, mc_router: respx.Router, sleeps: list[float]
) -> None:
    route = mc_router.post(f"/lists/{AUDIENCE}/segments/{TAG.id}").mock(
        return_value=problem(400, "Invalid Resource", "Maximum allowed member items exceeded")
    )
    with pytest.raises(EspValidationError, match="Maximum allowed member items exceeded"):
        mailchimp.add_members(TAG, ["a@example.com"])
    assert route.call_count == 1
    assert sleeps == []


def test_the_retry_budget_bounds_attempts_and_reraises_the_last_error(
    mailchimp: MailchimpAdapter, mc_router: respx.Router, sleeps: list[float]
) -> None:
    route = mc_router.get(f"/lists/{AUDIENCE}").mock(
        return_value=problem(502, "Bad Gateway", "upstream")
    )
    with pytest.raises(RetriableEspError, match="Bad Gateway"):
        mailchimp.check()
    assert route.call_count == 4  # FAST_RETRY.max_attempts
    assert len(sleeps) == 3


def test_connections_per_account_are_capped_across_threads(
    make_mailchimp: Callable[..., MailchimpAdapter], mc_router: respx.Router
) -> None:
    in_flight = 0
    peak = 0
    lock = threading.Lock()

    def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.01)
        with lock:
            in_flight -= 1
        return httpx.Response(200, json={"members_added": [], "errors": []})

    mc_router.post(f"/lists/{AUDIENCE}/segments/{TAG.id}").mock(side_effect=slow)
    # two adapters on one account share the cap of the first
    first, second = make_mailchimp(max_connections=3), make_mailchimp(max_connections=3)
    threads = [
        threading.Thread(target=(first if i % 2 else second).add_members, args=(TAG, ["a@x.io"]))
        for i in range(12)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == 3


def test_a_key_without_data_centre_and_no_base_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="data-centre suffix") as caught:
        MailchimpAdapter(api_key="0f1e2d3c4b5a69788796a5b4c3d2e1f0", audience_id=AUDIENCE)
    assert "0f1e2d3c4b5a6978" not in str(caught.value)
    adapter = MailchimpAdapter(
        api_key="0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        audience_id=AUDIENCE,
        base_url="http://127.0.0.1:8090/3.0/",
    )
    assert adapter.base_url == "http://127.0.0.1:8090/3.0"
    adapter.close()


def test_the_key_never_reaches_errors_reprs_or_logs(
    mailchimp: MailchimpAdapter,
    mc_router: respx.Router,
    audience: FakeAudience,
    all_logs: pytest.LogCaptureFixture,
) -> None:
    errors: list[BaseException] = []
    mc_router.get(f"/lists/{AUDIENCE}").mock(
        side_effect=[
            httpx.ConnectError("reset"),
            problem(401, "API Key Invalid", "Your API key may be invalid."),
        ]
    )
    mc_router.post(f"/lists/{AUDIENCE}/segments/{TAG.id}").mock(
        return_value=problem(503, "Service Unavailable", "later")
    )
    for call in (mailchimp.check, lambda: mailchimp.add_members(TAG, ["a@example.com"])):
        try:
            call()
        except EspError as exc:
            errors.append(exc)
    mailchimp.ensure_contacts([Contact("x@example.com", False, {"A": 1})], create_new=True)
    assert len(errors) == 2
    texts: list[object] = [
        repr(mailchimp),
        repr(mailchimp._http.client),
        repr(mailchimp._http.client.auth),
    ]
    for error in errors:
        texts += [str(error), repr(error), error.__cause__, error.__context__, error.args]
    texts += [r.getMessage() for r in all_logs.records]
    texts += [repr(r.args) for r in all_logs.records]
    assert any("retrying" in r.getMessage() for r in all_logs.records)
    assert_key_absent(MAILCHIMP_KEY, *texts)
