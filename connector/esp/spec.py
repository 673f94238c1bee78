"""One ESP as the rest of segsync sees it: a record of models and functions, found through
the registry.

Every ESP package (``connector/esp/<name>/``) builds one ``EspSpec`` in its ``factory.py``;
``connector/esp/registry.py`` maps ``esp:`` names to them. Outside the ESP packages nothing
asks "which ESP is this?": it asks the spec of ``destination.esp``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connector.definitions.destinations import EspDestination
from connector.esp.sections import EspSection

if TYPE_CHECKING:  # the adapter's base, the emulator's hooks and the planner's models load
    # with what uses them, not with the registry (preview validates destinations.yaml only)
    from connector.esp.base import EspAdapter
    from connector.esp.emulated import EspEmulator
    from connector.plan.capabilities import Capabilities
    from connector.plan.model import NativeSegment

__all__ = ["EspSpec"]


@dataclass(frozen=True)
class EspSpec:
    """What segsync needs from one ESP.

    The callables take that ESP's own destination model (``destination``), so their first
    parameter is typed ``Any`` here and precisely in the package.
    """

    #: the ``esp:`` value in ``config/destinations.yaml``
    name: str
    #: the model of its entries in ``config/destinations.yaml`` (``esp: Literal[name]``)
    destination: type[EspDestination]
    #: its account's settings: ``Settings.<name>``, from ``SEGSYNC_<NAME>__*``
    settings: type[EspSection]
    #: the destination's native-segment capabilities (limits as data)
    capabilities: Callable[[Any], Capabilities]
    #: the native segment as the exact JSON the ESP API takes (part ids, or placeholders)
    render_native: Callable[[NativeSegment, Mapping[str, str] | None], dict[str, Any]]
    #: ``segsync plan``'s lines for a rendered native segment (name, definition)
    native_lines: Callable[[str, Mapping[str, Any]], list[str]]
    #: an adapter for (destination, settings, **constructor options)
    adapter: Callable[..., EspAdapter]
    #: whether the ESP's fields have a type of their own a trait must fit (Mailchimp merge
    #: fields do; Klaviyo's custom properties are free-form)
    typed_fields: bool = False
    #: loads its emulator's hooks (demo, ``segsync emulator``); None: no emulator
    emulator: Callable[[], EspEmulator] | None = None

    def __post_init__(self) -> None:
        if self.destination.esp_name() != self.name:
            raise ValueError(
                f"{self.destination.__name__} is for esp '{self.destination.esp_name()}', "
                f"not '{self.name}'"
            )
