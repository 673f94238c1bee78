"""Klaviyo's entry in the registry (``connector.esp.registry.ESPS``)."""

from __future__ import annotations

from typing import Any

from connector.definitions.destinations import KlaviyoDestination
from connector.esp.base import EspAdapter
from connector.esp.klaviyo.capabilities import capabilities
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


SPEC = EspSpec(
    name="klaviyo",
    capabilities=capabilities,
    render_native=render_native,
    native_lines=native_lines,
    adapter=adapter,
)
