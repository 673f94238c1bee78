"""The one retry policy: what it retries, how long it waits, when it gives up."""

from __future__ import annotations

import pytest

from connector.errors import (
    EspAuthError,
    EspValidationError,
    RateLimitedError,
    RetriableEspError,
)
from connector.esp.retry import RetryPolicy
from connector.settings import RetrySettings


class Flaky:
    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def policy(sleeps: list[float], **settings: float) -> RetryPolicy:
    return RetryPolicy(RetrySettings(**settings), sleep=sleeps.append)  # type: ignore[arg-type]


def test_retriable_errors_are_retried_until_success(sleeps: list[float]) -> None:
    fn = Flaky(RetriableEspError("503"), RetriableEspError("reset"))
    assert policy(sleeps).call(fn) == "ok"
    assert fn.calls == 3 and len(sleeps) == 2


@pytest.mark.parametrize(
    "error", [EspValidationError("bad"), EspAuthError("key"), ValueError("bug")]
)
def test_other_errors_are_raised_at_once(sleeps: list[float], error: Exception) -> None:
    fn = Flaky(error)
    with pytest.raises(type(error)):
        policy(sleeps).call(fn)
    assert fn.calls == 1 and sleeps == []


def test_retry_after_is_waited_exactly(sleeps: list[float]) -> None:
    fn = Flaky(RateLimitedError("429", retry_after=12.5), RateLimitedError("429", retry_after=0))
    policy(sleeps).call(fn)
    assert sleeps == [12.5, 0.0]


def test_backoff_is_exponential_with_full_jitter_and_capped(sleeps: list[float]) -> None:
    fn = Flaky(*[RetriableEspError("x") for _ in range(7)])
    policy(sleeps, max_attempts=8, initial_backoff_seconds=1, max_backoff_seconds=10).call(fn)
    caps = [1, 2, 4, 8, 10, 10, 10]
    assert len(sleeps) == 7
    assert all(0 <= wait <= cap for wait, cap in zip(sleeps, caps, strict=True))


def test_attempts_are_bounded_and_the_last_error_is_reraised(sleeps: list[float]) -> None:
    errors = [RetriableEspError(f"failure {i}") for i in range(10)]
    fn = Flaky(*errors)
    with pytest.raises(RetriableEspError, match="failure 2"):
        policy(sleeps, max_attempts=3).call(fn)
    assert fn.calls == 3 and len(sleeps) == 2


def test_a_wait_past_the_time_budget_is_not_taken(sleeps: list[float]) -> None:
    fn = Flaky(RateLimitedError("daily cap", retry_after=3_600))
    with pytest.raises(RateLimitedError, match="daily cap"):
        policy(sleeps, max_seconds=300).call(fn)
    assert fn.calls == 1 and sleeps == []
