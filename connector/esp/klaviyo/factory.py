"""Klaviyo's entry in the registry (``connector.esp.registry.ESPS``)."""

from __future__ import annotations

from typing import Any

from connector.esp.base import EspAdapter
from connector.esp.emulated import EspEmulator
from connector.esp.klaviyo.capabilities import capabilities
from connector.esp.klaviyo.configuration import KlaviyoSettings
from connector.esp.klaviyo.destination import KlaviyoDestination
from connector.esp.klaviyo.display import native_lines
from connector.esp.klaviyo.native import render_native
from connector.esp.sections import EspSettings
from connector.esp.spec import EspSpec

__all__ = ["SPEC"]


def _section(settings: EspSettings) -> KlaviyoSettings:
    section = settings.esp_section("klaviyo")
    assert isinstance(section, KlaviyoSettings), section
    return section


def adapter(destination: KlaviyoDestination, settings: EspSettings, **options: Any) -> EspAdapter:
    """A Klaviyo adapter with the settings' key, base URL, timeouts, concurrency and retry
    budget (the account is the key's); ``options`` go to the constructor."""
    del destination  # one account per key: nothing in the destination selects it
    # the SDK (~0.2 s to import) loads only when a command talks to Klaviyo
    from connector.esp.klaviyo.adapter import KlaviyoAdapter  # noqa: PLC0415

    return KlaviyoAdapter.from_settings(_section(settings), retry=settings.retry, **options)


def emulator() -> EspEmulator:
    """The hooks of Klaviyo's emulator (``connector/emulator/klaviyo/``)."""
    # the emulator's web stack loads only for the demo and `segsync emulator`
    from connector.esp.klaviyo.emulated import EMULATOR  # noqa: PLC0415

    return EMULATOR


SPEC = EspSpec(
    name="klaviyo",
    destination=KlaviyoDestination,
    settings=KlaviyoSettings,
    capabilities=capabilities,
    render_native=render_native,
    native_lines=native_lines,
    adapter=adapter,
    emulator=emulator,
)
