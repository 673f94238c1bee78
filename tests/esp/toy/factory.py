"""The toy ESP's registry entry: flat segments of list memberships, nothing native."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.errors import ConfigError
from connector.esp.base import EspAdapter
from connector.esp.spec import EspSpec
from connector.plan.capabilities import Capabilities
from connector.plan.model import NativeSegment, part_id
from tests.esp.toy.configuration import ToySettings
from tests.esp.toy.destination import ToyDestination


def capabilities(destination: ToyDestination) -> Capabilities:
    return Capabilities(
        esp="toy",
        shape="flat",
        max_conditions=destination.max_conditions,
        group_kind=destination.group_kind,
    )


def render_native(native: NativeSegment, part_ids: Mapping[str, str] | None) -> dict[str, Any]:
    return {
        "match": native.match,
        "lists": [
            {"list": part_id(literal.part, part_ids), "member": literal.positive}
            for group in native.groups
            for literal in group
            if literal.kind == "part"
        ],
    }


def native_lines(name: str, definition: Mapping[str, Any]) -> list[str]:
    return [f"  toy segment {name}: {definition['match']} of {len(definition['lists'])} lists"]


def adapter(destination: ToyDestination, settings: Any, **options: Any) -> EspAdapter:
    raise ConfigError("the toy ESP has no API")


SPEC = EspSpec(
    name="toy",
    destination=ToyDestination,
    settings=ToySettings,
    capabilities=capabilities,
    render_native=render_native,
    native_lines=native_lines,
    adapter=adapter,
)
