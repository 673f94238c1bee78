"""Adapters by ESP name, and one adapter from a destination plus the settings.

The registry is a plain dict (``ADAPTERS``). It lives here rather than in ``base.py`` so
that ``base`` imports no adapter and the adapters can import ``base``.
"""

from __future__ import annotations

from typing import Any

from connector.definitions.destinations import (
    Destination,
    KlaviyoDestination,
    MailchimpDestination,
)
from connector.esp.base import EspAdapter
from connector.esp.klaviyo.adapter import KlaviyoAdapter
from connector.esp.mailchimp.adapter import MailchimpAdapter
from connector.settings import Settings

__all__ = ["ADAPTERS", "adapter_for"]

ADAPTERS: dict[str, type[MailchimpAdapter] | type[KlaviyoAdapter]] = {
    "mailchimp": MailchimpAdapter,
    "klaviyo": KlaviyoAdapter,
}


def adapter_for(destination: Destination, settings: Settings, **options: Any) -> EspAdapter:
    """The adapter for a destination (``config/destinations.yaml``) with the settings' key,
    base URL, timeouts, concurrency and retry budget. ``options`` go to the constructor
    (``transport=``, ``sleep=``/``clock=`` in tests)."""
    if isinstance(destination, MailchimpDestination):
        return MailchimpAdapter.from_settings(
            settings.mailchimp, audience_id=destination.audience, retry=settings.retry, **options
        )
    if isinstance(destination, KlaviyoDestination):
        return KlaviyoAdapter.from_settings(settings.klaviyo, retry=settings.retry, **options)
    raise TypeError(f"no ESP adapter for {type(destination).__name__}")
