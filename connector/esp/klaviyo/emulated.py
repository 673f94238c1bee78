"""Klaviyo's emulator (``connector/emulator/klaviyo/``) for the demo and
``segsync emulator klaviyo``; loaded through ``factory.SPEC.emulator``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import SecretStr

from connector.definitions.destinations import EspDestination
from connector.emulator import EmulatorOptions
from connector.emulator.server import Emulator, ServedByName
from connector.esp.emulated import EspEmulator
from connector.esp.klaviyo.configuration import KlaviyoSettings

__all__ = ["EMULATOR"]


class KlaviyoEmulator(ServedByName, EspEmulator):
    esp = "klaviyo"

    def demo_options(self, destinations: Sequence[EspDestination]) -> EmulatorOptions:
        del destinations  # lists and properties are created by the sync itself
        return EmulatorOptions()

    def section(self, emulator: Emulator[Any]) -> KlaviyoSettings:
        return KlaviyoSettings(api_key=SecretStr(emulator.api_key), base_url=emulator.base_url)

    def group_size(self, destination: EspDestination, emulator: Emulator[Any], name: str) -> int:
        del destination  # one account per key
        found = emulator.state.find_list(name)
        return len(emulator.state.list_emails(found.id)) if found else 0

    def native_sizes(
        self, destination: EspDestination, emulator: Emulator[Any], natives: Iterable[str]
    ) -> tuple[dict[str, int], int]:
        del destination
        wanted = set(natives)
        sizes: dict[str, int] = {}
        for segment in emulator.state.segments.values():
            if segment.name in wanted:
                sizes[segment.name] = len(emulator.state.segment_emails(segment.id))
        return sizes, len(emulator.state.profiles)


EMULATOR = KlaviyoEmulator()
