"""How the demo and ``segsync emulator`` run one ESP's emulator.

An ESP package with an emulator (``connector/emulator/<name>/``) implements ``EspEmulator``
in its ``emulated.py`` and hands it to its ``EspSpec`` through a loader function, so the
emulator's web stack loads only when an emulator runs, never for a sync.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from connector.definitions.destinations import EspDestination
from connector.esp.sections import EspSection

if TYPE_CHECKING:  # types only: importing the emulator loads its web server
    from connector.emulator.options import EmulatorOptions
    from connector.emulator.server import Emulator

__all__ = ["EspEmulator"]


class EspEmulator(ABC):
    """One ESP's emulator as the demo and the ``emulator`` command use it."""

    @abstractmethod
    def run(self, options: EmulatorOptions) -> AbstractContextManager[Emulator[Any]]:
        """Serve the emulator in a background thread for a ``with`` block (the demo)."""

    @abstractmethod
    def serve(
        self,
        options: EmulatorOptions,
        *,
        host: str,
        port: int,
        access_log: bool,
        on_ready: Callable[[Emulator[Any]], None],
    ) -> None:
        """Serve in the foreground until Ctrl-C or SIGTERM (``segsync emulator <name>``)."""

    @abstractmethod
    def demo_options(self, destinations: Sequence[EspDestination]) -> EmulatorOptions:
        """The emulator's options for the demo's destinations of this ESP (what must exist
        at start, such as audiences or fields)."""

    @abstractmethod
    def section(self, emulator: Emulator[Any]) -> EspSection:
        """This ESP's settings section pointing at the emulator (its key and base URL)."""

    @abstractmethod
    def group_size(self, destination: EspDestination, emulator: Emulator[Any], name: str) -> int:
        """Members of the tag/list ``name`` in the emulator (0 when it does not exist)."""

    @abstractmethod
    def native_sizes(
        self, destination: EspDestination, emulator: Emulator[Any], natives: Iterable[str]
    ) -> tuple[dict[str, int], int]:
        """Members per native segment of ``natives`` the emulator holds, and its contacts."""
