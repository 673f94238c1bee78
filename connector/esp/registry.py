"""The ESPs segsync knows, by ``esp:`` name: one line per ESP package.

Everything outside ``connector/esp/<name>/`` reaches an ESP through here: its destination
model (``destination_models()``, which the definitions loader and the JSON Schema take), its
capabilities (for the split planner), its native-segment JSON and plan display, its adapter
and its emulator. Adding an ESP is one package and one line in ``ESPS``
(docs/adding-an-esp.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from connector.definitions.destinations import Destination, DestinationModels, EspDestination
from connector.esp.klaviyo import factory as klaviyo
from connector.esp.mailchimp import factory as mailchimp
from connector.esp.sections import EspSettings
from connector.esp.spec import EspSpec

if TYPE_CHECKING:  # (see spec.py: they load with what uses them)
    from connector.esp.base import EspAdapter
    from connector.plan.capabilities import Capabilities
    from connector.plan.model import NativeSegment

__all__ = [
    "ESPS",
    "adapter_for",
    "capabilities_for",
    "destination_models",
    "render_native",
    "spec_for",
]

ESPS: dict[str, EspSpec] = {spec.name: spec for spec in (mailchimp.SPEC, klaviyo.SPEC)}


def destination_models() -> DestinationModels:
    """Every ESP's destination model: what ``load_definitions`` validates
    ``destinations.yaml`` with and the JSON Schema describes."""
    return _models(tuple(spec.destination for spec in ESPS.values()))


@cache
def _models(models: tuple[type[EspDestination], ...]) -> DestinationModels:
    return DestinationModels(models)


def spec_for(destination: Destination) -> EspSpec:
    """The spec of a destination's ESP (a destination is only ever built by its ESP's
    model, so its ``esp`` names a registered spec)."""
    return ESPS[destination.esp]


def capabilities_for(destination: Destination) -> Capabilities:
    """The capability model of a destination (its ``max_conditions`` setting applied)."""
    return spec_for(destination).capabilities(destination)


def render_native(
    esp: str, native: NativeSegment, part_ids: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The native segment's definition JSON for ``esp``, as its API takes it."""
    return ESPS[esp].render_native(native, part_ids)


def adapter_for(destination: Destination, settings: EspSettings, **options: Any) -> EspAdapter:
    """The adapter for a destination (``config/destinations.yaml``) with the settings' key,
    base URL, timeouts, concurrency and retry budget. ``options`` go to the constructor
    (``transport=``, ``sleep=``/``clock=`` in tests)."""
    return spec_for(destination).adapter(destination, settings, **options)
