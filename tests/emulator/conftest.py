"""Emulators on loopback for the emulator's own tests, with ready httpx clients.

Each test gets fresh emulators (state, counters, fault sequence). Klaviyo runs on a fake
clock so job progress and rate-limit windows move only when a test says so.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from connector.emulator import Emulator, EmulatorOptions, run_emulator
from connector.emulator.klaviyo.account import KlaviyoState
from connector.emulator.mailchimp.account import MailchimpState

KLAVIYO_REVISION = "2026-10-15"
# Building an SSL context (loading the CA bundle) costs more than an emulator start; the
# clients only speak plain HTTP to loopback, so they all share one.
SSL_CONTEXT = httpx.create_ssl_context()


class FakeClock:
    """A monotonic clock that moves only when told."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def mailchimp() -> Iterator[Emulator[MailchimpState]]:
    with run_emulator("mailchimp", EmulatorOptions(seed=1)) as emu:
        yield emu


@pytest.fixture
def mc(mailchimp: Emulator[MailchimpState]) -> Iterator[httpx.Client]:
    """An authenticated client for the Mailchimp emulator (base URL ends in /3.0)."""
    with httpx.Client(
        base_url=mailchimp.base_url,
        auth=("anyuser", mailchimp.api_key),
        timeout=10,
        verify=SSL_CONTEXT,
    ) as client:
        yield client


@pytest.fixture
def klaviyo(clock: FakeClock) -> Iterator[Emulator[KlaviyoState]]:
    with run_emulator("klaviyo", EmulatorOptions(seed=1, clock=clock, import_delay_s=10)) as emu:
        yield emu


def klaviyo_headers(key: str) -> dict[str, str]:
    return {
        "Authorization": f"Klaviyo-API-Key {key}",
        "revision": KLAVIYO_REVISION,
        "Content-Type": "application/vnd.api+json",
        "Accept": "application/vnd.api+json",
    }


@pytest.fixture
def kl(klaviyo: Emulator[KlaviyoState]) -> Iterator[httpx.Client]:
    """An authenticated client for the Klaviyo emulator."""
    with httpx.Client(
        base_url=klaviyo.base_url,
        headers=klaviyo_headers(klaviyo.api_key),
        timeout=10,
        verify=SSL_CONTEXT,
    ) as client:
        yield client
