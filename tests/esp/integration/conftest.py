"""The adapters against the emulator over real loopback HTTP (``connector.emulator``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connector.emulator import EmulatorOptions, run_emulator
from connector.emulator.server import Emulator
from connector.esp.klaviyo.adapter import KlaviyoAdapter
from connector.esp.mailchimp.adapter import MailchimpAdapter
from connector.settings import RetrySettings

AUDIENCE = "demo-audience"

#: generous attempts, tiny waits: fault-injection tests stay fast
PATIENT = RetrySettings(
    max_attempts=12, max_seconds=30.0, initial_backoff_seconds=0.01, max_backoff_seconds=0.1
)


# Tests change emulator behaviour mid-run through ``emu.options`` (read per request).


@pytest.fixture
def mailchimp_emulator() -> Iterator[Emulator[Any]]:
    options = EmulatorOptions(latency_ms=0, seed=1, merge_fields=("STATE", "STAGE"))
    with run_emulator("mailchimp", options) as emu:
        yield emu


@pytest.fixture
def klaviyo_emulator() -> Iterator[Emulator[Any]]:
    with run_emulator("klaviyo", EmulatorOptions(latency_ms=0, seed=1, import_delay_s=0.05)) as emu:
        yield emu


@pytest.fixture
def make_mailchimp(
    mailchimp_emulator: Emulator[Any],
) -> Iterator[Callable[..., MailchimpAdapter]]:
    made: list[MailchimpAdapter] = []

    def make(**options: Any) -> MailchimpAdapter:
        settings: dict[str, Any] = {
            "api_key": mailchimp_emulator.api_key,
            "audience_id": AUDIENCE,
            "base_url": mailchimp_emulator.base_url,
            "timeout_seconds": 5.0,
            "retry": PATIENT,
        }
        settings.update(options)
        adapter = MailchimpAdapter(**settings)
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        adapter.close()


@pytest.fixture
def make_klaviyo(klaviyo_emulator: Emulator[Any]) -> Iterator[Callable[..., KlaviyoAdapter]]:
    made: list[KlaviyoAdapter] = []

    def make(**options: Any) -> KlaviyoAdapter:
        settings: dict[str, Any] = {
            "api_key": klaviyo_emulator.api_key,
            "base_url": klaviyo_emulator.base_url,
            "timeout_seconds": 5.0,
            "retry": PATIENT,
            "job_poll_seconds": 0.02,
        }
        settings.update(options)
        adapter = KlaviyoAdapter(**settings)
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        adapter.close()
