"""The one retry policy of both ESP adapters (tenacity).

Only ``RetriableEspError`` is retried (429, 5xx, timeouts, connection failures); every other
error is raised at once. Between attempts the policy waits the ESP's ``Retry-After`` when it
sent one, otherwise an exponential backoff with full jitter. It stops after
``RetrySettings.max_attempts`` attempts, or before a wait would take it past
``max_seconds``, and then re-raises the last error (never tenacity's ``RetryError``).

Sleeping is injectable (``sleep=``), so tests record the waits instead of waiting. Once the
run's ``stop`` event is set, a wait ends early and nothing is retried.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import tenacity

from connector.errors import RateLimitedError, RetriableEspError
from connector.esp.sections import RetrySettings

__all__ = ["RetryPolicy", "Sleep"]

T = TypeVar("T")
Sleep = Callable[[float], None]

log = logging.getLogger("segsync.esp.retry")


class _Wait(tenacity.wait.wait_base):
    """Retry-After when the ESP sent one, else exponential backoff with full jitter."""

    def __init__(self, settings: RetrySettings) -> None:
        self._backoff = tenacity.wait_random_exponential(
            multiplier=settings.initial_backoff_seconds, max=settings.max_backoff_seconds
        )

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            return max(0.0, error.retry_after)
        return float(self._backoff(retry_state))


class RetryPolicy:
    """``policy.call(fn)`` runs ``fn`` until it succeeds, fails for good, or the budget ends."""

    def __init__(self, settings: RetrySettings | None = None, *, sleep: Sleep = time.sleep):
        self.settings = settings or RetrySettings()
        self.sleep = sleep
        #: set by the run on SIGTERM: waits end early and nothing is retried
        self.stop: threading.Event | None = None

    def _wait(self, seconds: float) -> None:
        stop = self.stop
        if stop is None:
            self.sleep(seconds)
            return
        left = seconds
        while left > 0 and not stop.is_set():
            step = min(left, 0.1)
            self.sleep(step)
            left -= step

    def _not_stopped(self, _error: BaseException) -> bool:
        return self.stop is None or not self.stop.is_set()

    def _retrying(self) -> tenacity.Retrying:
        # a fresh Retrying per call: its statistics must not be shared between threads
        return tenacity.Retrying(
            sleep=self._wait,
            stop=(
                tenacity.stop_after_attempt(self.settings.max_attempts)
                | tenacity.stop_before_delay(self.settings.max_seconds)
            ),
            wait=_Wait(self.settings),
            retry=tenacity.retry_if_exception_type(RetriableEspError)
            & tenacity.retry_if_exception(self._not_stopped),
            before_sleep=_log_retry,
            reraise=True,
        )

    def call(self, fn: Callable[[], T]) -> T:
        """Call ``fn`` under the policy; the last error is re-raised unchanged."""
        return self._retrying()(fn)


def _log_retry(retry_state: tenacity.RetryCallState) -> None:
    outcome = retry_state.outcome
    error = outcome.exception() if outcome is not None else None
    wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
    # str(error) is built from the ESP's response body and the route: never a key
    log.warning(
        "retrying after %s (attempt %d, waiting %.2fs)", error, retry_state.attempt_number, wait
    )
