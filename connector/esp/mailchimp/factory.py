"""Mailchimp's entry in the registry (``connector.esp.registry.ESPS``)."""

from __future__ import annotations

from typing import Any

from connector.definitions.destinations import MailchimpDestination
from connector.esp.base import EspAdapter
from connector.esp.mailchimp.capabilities import capabilities
from connector.esp.mailchimp.display import native_lines
from connector.esp.mailchimp.native import render_native
from connector.esp.spec import EspSpec
from connector.settings import Settings

__all__ = ["SPEC"]


def adapter(destination: MailchimpDestination, settings: Settings, **options: Any) -> EspAdapter:
    """A Mailchimp adapter for the destination's audience with the settings' key, base URL,
    timeouts, concurrency and retry budget; ``options`` go to the constructor."""
    # the SDK (~0.1 s to import) loads only when a command talks to Mailchimp
    from connector.esp.mailchimp.adapter import MailchimpAdapter  # noqa: PLC0415

    return MailchimpAdapter.from_settings(
        settings.mailchimp, audience_id=destination.audience, retry=settings.retry, **options
    )


SPEC = EspSpec(
    name="mailchimp",
    capabilities=capabilities,
    render_native=render_native,
    native_lines=native_lines,
    adapter=adapter,
    typed_fields=True,
)
