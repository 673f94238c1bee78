"""Per-invocation state shared by the commands: global options and lazily built settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from connector.settings import Settings

__all__ = ["CliState", "state"]


@dataclass
class CliState:
    config_dir: Path | None = None
    log_flag: str | None = None  # the level -v/-q asked for, if any
    _settings: Settings | None = None

    def settings(self) -> Settings:
        """The settings, built on first use so `--help` never touches the environment."""
        if self._settings is None:
            # imported here: pydantic and the settings' models are no part of `--help`
            from connector.settings import load_settings  # noqa: PLC0415

            self._settings = load_settings(config_dir=self.config_dir)
        return self._settings

    def override(self, source_url: str) -> None:
        """Use another customer store for the rest of this invocation (``demo --store``)."""
        self._settings = self.settings().model_copy(update={"source_url": source_url})

    def reset(self) -> None:
        self.config_dir = None
        self.log_flag = None
        self._settings = None


state = CliState()
