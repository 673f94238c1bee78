"""Klaviyo's entry in the registry (``connector.esp.registry.ESPS``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from connector.esp.klaviyo.configuration import KlaviyoSettings
from connector.esp.klaviyo.destination import KlaviyoDestination
from connector.esp.sections import EspSettings
from connector.esp.spec import EspSpec

if TYPE_CHECKING:
    from connector.esp.base import EspAdapter
    from connector.esp.emulated import EspEmulator
    from connector.plan.capabilities import Capabilities
    from connector.plan.model import NativeSegment

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


# capabilities, native segments and their display load when planning or syncing (they bring
# the planner's models), not with the registry: validating destinations.yaml needs only
# the destination model


def capabilities(destination: KlaviyoDestination) -> Capabilities:
    """The destination's native-segment capabilities (``capabilities.py``)."""
    from connector.esp.klaviyo.capabilities import capabilities as build  # noqa: PLC0415  (as above)

    return build(destination)


def render_native(native: NativeSegment, part_ids: Mapping[str, str] | None) -> dict[str, Any]:
    """The native segment as the API's JSON (``native.py``)."""
    from connector.esp.klaviyo.native import render_native as render  # noqa: PLC0415  (as above)

    return render(native, part_ids)


def native_lines(name: str, definition: Mapping[str, Any]) -> list[str]:
    """``segsync plan``'s lines for a rendered native segment (``display.py``)."""
    from connector.esp.klaviyo.display import native_lines as lines  # noqa: PLC0415  (as above)

    return lines(name, definition)


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
