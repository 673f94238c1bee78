"""Klaviyo's entry in the registry (``connector.esp.registry.ESPS``)."""

from __future__ import annotations

from typing import Any

from connector.esp.base import EspAdapter
from connector.esp.emulated import EspEmulator
from connector.esp.klaviyo.capabilities import capabilities
from connector.esp.klaviyo.destination import KlaviyoDestination
from connector.esp.klaviyo.display import native_lines
from connector.esp.klaviyo.native import render_native
from connector.esp.spec import EspSpec
from connector.settings import Settings

__all__ = ["SPEC"]


def adapter(destination: KlaviyoDestination, settings: Settings, **options: Any) -> EspAdapter:
    """A Klaviyo adapter with the settings' key, base URL, timeouts, concurrency and retry
    budget (the account is the key's); ``options`` go to the constructor."""
    del destination  # one account per key: nothing in the destination selects it
    # the SDK (~0.2 s to import) loads only when a command talks to Klaviyo
    from connector.esp.klaviyo.adapter import KlaviyoAdapter  # noqa: PLC0415

    return KlaviyoAdapter.from_settings(settings.klaviyo, retry=settings.retry, **options)


def emulator() -> EspEmulator:
    """The hooks of Klaviyo's emulator (``connector/emulator/klaviyo/``)."""
    # the emulator's web stack loads only for the demo and `segsync emulator`
    from connector.esp.klaviyo.emulated import EMULATOR  # noqa: PLC0415

    return EMULATOR


SPEC = EspSpec(
    name="klaviyo",
    destination=KlaviyoDestination,
    capabilities=capabilities,
    render_native=render_native,
    native_lines=native_lines,
    adapter=adapter,
    emulator=emulator,
)
