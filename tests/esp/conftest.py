"""Fixtures shared by the ESP adapter tests: fake keys, a fake clock, fast retry budgets,
and a check that no API key leaks into errors or logs."""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Iterator

import pytest

from connector.esp.ratelimit import reset_shared_gates
from connector.settings import RetrySettings

# Fake keys, shaped like real ones, so a leak would be recognisable
MAILCHIMP_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0-us7"
KLAVIYO_KEY = "pk_9c8b7a6d5e4f3a2b1c0d9e8f7a6b5c4d3e"

FAST_RETRY = RetrySettings(
    max_attempts=4, max_seconds=120.0, initial_backoff_seconds=0.5, max_backoff_seconds=4.0
)


class FakeClock:
    """Monotonic time that only moves when something sleeps; records every sleep."""

    def __init__(self) -> None:
        self.t = 1_000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self.t

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.t += seconds


@pytest.fixture(autouse=True)
def _fresh_gates() -> Iterator[None]:
    """Shared per-account gates must not leak between tests."""
    reset_shared_gates()
    yield
    reset_shared_gates()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleeps() -> list[float]:
    """``sleep=sleeps.append``: retries record their waits instead of waiting."""
    return []


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Capture every log record, DEBUG and up, from every logger (httpx, httpcore too)."""
    caplog.set_level(logging.DEBUG)
    return caplog


def assert_key_absent(key: str, *texts: object) -> None:
    """Neither the key, its distinctive part, nor a Basic credential made of it appears."""
    secret_part = key.split("-", maxsplit=1)[0][-20:]
    basic = [base64.b64encode(f"{user}:{key}".encode()).decode() for user in ("segsync", "user")]
    for text in texts:
        rendered = str(text)
        assert key not in rendered
        assert secret_part not in rendered
        assert not any(credential in rendered for credential in basic)
