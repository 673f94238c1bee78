"""The demo's last step: sync the demo segments into the built-in ESP emulators (in this
process, on loopback; one per ESP package with an emulator hook) and report what each ESP
now holds.

The emulators live only as long as the command, so the demo uses its own state file
(``<state dir>/demo-emulator.db``, started fresh each time) and never touches the state of
real ESP accounts.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connector.definitions.loader import Definitions
from connector.esp.emulated import EspEmulator
from connector.esp.registry import ESPS
from connector.reconcile.executor import Progress
from connector.reconcile.runner import SyncOptions, run_sync
from connector.reconcile.summary import RunSummary
from connector.settings import Settings

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


@dataclass
class _Running:
    """One ESP's emulator serving for the demo, with its hooks."""

    hooks: EspEmulator
    handle: Any


@contextmanager
def _emulators(defs: Definitions) -> Iterator[dict[str, _Running]]:
    """One emulator per ESP that has one, set up for the demo's destinations of that ESP."""
    with ExitStack() as stack:
        running: dict[str, _Running] = {}
        for name, spec in ESPS.items():
            if spec.emulator is None:
                continue
            hooks = spec.emulator()
            mine = [d for d in defs.destinations.values() if d.esp == name]
            handle = stack.enter_context(hooks.run(hooks.demo_options(mine)))
            running[name] = _Running(hooks, handle)
        yield running


def _holdings(
    defs: Definitions, summary: RunSummary, emulators: dict[str, _Running]
) -> list[EspHolding]:
    holdings: dict[str, EspHolding] = {}
    for part in summary.parts:
        destination = defs.destinations[part.destination]
        holding = holdings.setdefault(
            part.destination,
            EspHolding(part.destination, destination.esp, destination.group_kind),
        )
        emu = emulators[destination.esp]
        holding.groups[part.part] = emu.hooks.group_size(destination, emu.handle, part.part)
    for name, holding in holdings.items():
        destination = defs.destinations[name]
        emu = emulators[destination.esp]
        sizes, contacts = emu.hooks.native_sizes(destination, emu.handle, summary.segments_written)
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
        # each emulated ESP's section points at its emulator (a fresh section: the demo
        # never uses a real account's key or limits)
        demo_settings = settings.model_copy(
            update={
                "state_path": state_path,
                "state_url": None,
                **{name: emu.hooks.section(emu.handle) for name, emu in emulators.items()},
            }
        )
        summary = run_sync(
            demo_settings,
            defs,
            options=SyncOptions(as_of=as_of, trigger="demo"),
            progress=progress,
        )
        return summary, _holdings(defs, summary, emulators)
