"""Mailchimp's emulator (``connector/emulator/mailchimp/``) for the demo and
``segsync emulator mailchimp``; loaded through ``factory.SPEC.emulator``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import SecretStr

from connector.definitions.destinations import EspDestination
from connector.emulator import EmulatorOptions
from connector.emulator.server import Emulator, ServedByName
from connector.esp.emulated import EspEmulator
from connector.esp.mailchimp.configuration import MailchimpSettings
from connector.esp.mailchimp.destination import MailchimpDestination

__all__ = ["EMULATOR"]


def _mailchimp(destination: EspDestination) -> MailchimpDestination:
    assert isinstance(destination, MailchimpDestination), destination
    return destination


class MailchimpEmulator(ServedByName, EspEmulator):
    esp = "mailchimp"

    def demo_options(self, destinations: Sequence[EspDestination]) -> EmulatorOptions:
        mailchimp = [_mailchimp(d) for d in destinations]
        audiences = sorted({d.audience for d in mailchimp})
        # the demo's traits are text
        merge_fields = sorted({tag for d in mailchimp for tag in [*d.fields.values(), *d.traits]})
        return EmulatorOptions(
            audiences=tuple(audiences) or ("demo-audience",), merge_fields=tuple(merge_fields)
        )

    def section(self, emulator: Emulator[Any]) -> MailchimpSettings:
        return MailchimpSettings(api_key=SecretStr(emulator.api_key), base_url=emulator.base_url)

    def group_size(self, destination: EspDestination, emulator: Emulator[Any], name: str) -> int:
        return len(emulator.state.tag_members(_mailchimp(destination).audience, name))

    def native_sizes(
        self, destination: EspDestination, emulator: Emulator[Any], natives: Iterable[str]
    ) -> tuple[dict[str, int], int]:
        audience = _mailchimp(destination).audience
        sizes: dict[str, int] = {}
        for native in natives:
            if emulator.state.find_segment(audience, native) is not None:
                sizes[native] = len(emulator.state.segment_members(audience, native))
        return sizes, len(emulator.state.emails(audience))


EMULATOR = MailchimpEmulator()
