"""The demo's last step: sync the demo segments into the built-in Mailchimp and Klaviyo
emulators (in this process, on loopback) and report what each ESP now holds.

The emulators live only as long as the command, so the demo uses its own state file
(``<state dir>/demo-emulator.db``, started fresh each time) and never touches the state of
real ESP accounts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, assert_never

from connector.definitions.destinations import (
    Destination,
    KlaviyoDestination,
    MailchimpDestination,
)
from connector.definitions.loader import Definitions
from connector.emulator import EmulatorOptions, run_emulator
from connector.reconcile.executor import Progress
from connector.reconcile.runner import SyncOptions, run_sync
from connector.reconcile.summary import RunSummary
from connector.settings import KlaviyoSettings, MailchimpSettings, Settings

__all__ = ["EspHolding", "sync_demo"]


@dataclass
class EspHolding:
    """What one destination holds after the sync: members per tag/list and native segment."""

    destination: str
    esp: str
    group_kind: str
    groups: dict[str, int] = field(default_factory=dict)
    segments: dict[str, int] = field(default_factory=dict)
    contacts: int = 0


@contextmanager
def _emulators(defs: Definitions) -> Iterator[dict[str, Any]]:
    audiences = sorted(
        {d.audience for d in defs.destinations.values() if isinstance(d, MailchimpDestination)}
    )
    merge_fields = sorted(
        {
            tag
            for d in defs.destinations.values()
            if isinstance(d, MailchimpDestination)
            for tag in [*d.fields.values(), *d.traits]  # the demo's traits are text
        }
    )
    with ExitStack() as stack:
        running: dict[str, Any] = {
            "mailchimp": stack.enter_context(
                run_emulator(
                    "mailchimp",
                    EmulatorOptions(
                        audiences=tuple(audiences) or ("demo-audience",),
                        merge_fields=tuple(merge_fields),
                    ),
                )
            ),
            "klaviyo": stack.enter_context(run_emulator("klaviyo", EmulatorOptions())),
        }
        yield running


def _group_size(destination: Destination, emu: Any, name: str) -> int:
    match destination:
        case MailchimpDestination():
            return len(emu.state.tag_members(destination.audience, name))
        case KlaviyoDestination():
            found = emu.state.find_list(name)
            return len(emu.state.list_emails(found.id)) if found else 0
        case _:
            assert_never(destination)


def _native_sizes(
    destination: Destination, emu: Any, natives: Iterable[str]
) -> tuple[dict[str, int], int]:
    """Members per written native segment, and the contacts the account holds."""
    sizes: dict[str, int] = {}
    match destination:
        case MailchimpDestination():
            for native in natives:
                if emu.state.find_segment(destination.audience, native) is not None:
                    sizes[native] = len(emu.state.segment_members(destination.audience, native))
            return sizes, len(emu.state.emails(destination.audience))
        case KlaviyoDestination():
            wanted = set(natives)
            for segment in emu.state.segments.values():
                if segment.name in wanted:
                    sizes[segment.name] = len(emu.state.segment_emails(segment.id))
            return sizes, len(emu.state.profiles)
        case _:
            assert_never(destination)


def _holdings(
    defs: Definitions, summary: RunSummary, emulators: dict[str, Any]
) -> list[EspHolding]:
    holdings: dict[str, EspHolding] = {}
    for part in summary.parts:
        destination = defs.destinations[part.destination]
        holding = holdings.setdefault(
            part.destination,
            EspHolding(part.destination, destination.esp, destination.group_kind),
        )
        holding.groups[part.part] = _group_size(destination, emulators[destination.esp], part.part)
    for name, holding in holdings.items():
        destination = defs.destinations[name]
        sizes, contacts = _native_sizes(
            destination, emulators[destination.esp], summary.segments_written
        )
        holding.segments.update(sizes)
        if summary.segments_written:
            holding.contacts = contacts
    return list(holdings.values())


def sync_demo(
    settings: Settings, defs: Definitions, *, as_of: datetime, progress: Progress | None = None
) -> tuple[RunSummary, list[EspHolding]]:
    """Sync every demo segment into fresh in-process emulators."""
    state_path = settings.state_path.parent / "demo-emulator.db"
    for suffix in ("", "-wal", "-shm"):
        state_path.with_name(state_path.name + suffix).unlink(missing_ok=True)
    with _emulators(defs) as emulators:
        mailchimp, klaviyo = emulators["mailchimp"], emulators["klaviyo"]
        demo_settings = settings.model_copy(
            update={
                "state_path": state_path,
                "state_url": None,
                "mailchimp": MailchimpSettings(
                    api_key=mailchimp.api_key, base_url=mailchimp.base_url
                ),
                "klaviyo": KlaviyoSettings(api_key=klaviyo.api_key, base_url=klaviyo.base_url),
            }
        )
        summary = run_sync(
            demo_settings,
            defs,
            options=SyncOptions(as_of=as_of, trigger="demo"),
            progress=progress,
        )
        return summary, _holdings(defs, summary, emulators)
