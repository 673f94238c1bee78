"""Mailchimp's entry in the registry (``connector.esp.registry.ESPS``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from connector.esp.mailchimp.configuration import MailchimpSettings
from connector.esp.mailchimp.destination import MailchimpDestination
from connector.esp.sections import EspSettings
from connector.esp.spec import EspSpec

if TYPE_CHECKING:
    from connector.esp.base import EspAdapter
    from connector.esp.emulated import EspEmulator
    from connector.plan.capabilities import Capabilities
    from connector.plan.model import NativeSegment

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


# capabilities, native segments and their display load when planning or syncing (they bring
# the planner's models), not with the registry: validating destinations.yaml needs only
# the destination model


def capabilities(destination: MailchimpDestination) -> Capabilities:
    """The destination's native-segment capabilities (``capabilities.py``)."""
    from connector.esp.mailchimp.capabilities import capabilities as build  # noqa: PLC0415  (as above)

    return build(destination)


def render_native(native: NativeSegment, part_ids: Mapping[str, str] | None) -> dict[str, Any]:
    """The native segment as the API's JSON (``native.py``)."""
    from connector.esp.mailchimp.native import render_native as render  # noqa: PLC0415  (as above)

    return render(native, part_ids)


def native_lines(name: str, definition: Mapping[str, Any]) -> list[str]:
    """``segsync plan``'s lines for a rendered native segment (``display.py``)."""
    from connector.esp.mailchimp.display import native_lines as lines  # noqa: PLC0415  (as above)

    return lines(name, definition)


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
