"""Mailchimp's entry in the registry (``connector.esp.registry.ESPS``)."""

from __future__ import annotations

from typing import Any

from connector.esp.base import EspAdapter
from connector.esp.emulated import EspEmulator
from connector.esp.mailchimp.capabilities import capabilities
from connector.esp.mailchimp.configuration import MailchimpSettings
from connector.esp.mailchimp.destination import MailchimpDestination
from connector.esp.mailchimp.display import native_lines
from connector.esp.mailchimp.native import render_native
from connector.esp.sections import EspSettings
from connector.esp.spec import EspSpec

__all__ = ["SPEC"]


def _section(settings: EspSettings) -> MailchimpSettings:
    section = settings.esp_section("mailchimp")
    assert isinstance(section, MailchimpSettings), section
    return section


def adapter(destination: MailchimpDestination, settings: EspSettings, **options: Any) -> EspAdapter:
    """A Mailchimp adapter for the destination's audience with the settings' key, base URL,
    timeouts, concurrency and retry budget; ``options`` go to the constructor."""
    # the SDK (~0.1 s to import) loads only when a command talks to Mailchimp
    from connector.esp.mailchimp.adapter import MailchimpAdapter  # noqa: PLC0415

    return MailchimpAdapter.from_settings(
        _section(settings), audience_id=destination.audience, retry=settings.retry, **options
    )


def emulator() -> EspEmulator:
    """The hooks of Mailchimp's emulator (``connector/emulator/mailchimp/``)."""
    # the emulator's web stack loads only for the demo and `segsync emulator`
    from connector.esp.mailchimp.emulated import EMULATOR  # noqa: PLC0415

    return EMULATOR


SPEC = EspSpec(
    name="mailchimp",
    destination=MailchimpDestination,
    settings=MailchimpSettings,
    capabilities=capabilities,
    render_native=render_native,
    native_lines=native_lines,
    adapter=adapter,
    typed_fields=True,
    emulator=emulator,
)
