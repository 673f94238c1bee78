"""Config reloading: notice changes in the config directory and load them safely.

``ConfigWatcher`` runs ``watchfiles`` on the config directory in a thread and calls back on
any change (any file: a Kubernetes ConfigMap swaps a ``..data`` symlink rather than
writing ``*.yaml``). The daemon also polls ``config_fingerprint`` every few seconds as a
safety net for file systems without change notifications (or set
``WATCHFILES_FORCE_POLLING=true``).

``load_checked`` is what ``segsync validate`` checks: the YAML, references and splits,
and every name and type against the customer store's schema — so a change that
``validate`` would reject never replaces good definitions. When the store cannot be
opened the schema check is skipped (the store being down says nothing about the change);
the next sync reports it.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path

from watchfiles import watch

from connector.daemon.logging import get_logger
from connector.definitions.checks import raise_for_schema
from connector.definitions.loader import Definitions, load_definitions
from connector.errors import ConfigError, DependencyError
from connector.esp.registry import capabilities_for, destination_models
from connector.plan.split import plan_splits
from connector.settings import Settings
from connector.source import open_store
from connector.source.schema import StoreSchema

__all__ = ["ConfigWatcher", "config_fingerprint", "load_checked"]

_SUFFIXES = (".yaml", ".yml")
log = get_logger("reload")


def config_fingerprint(config_dir: Path) -> str:
    """A digest of every YAML file under ``config_dir`` (paths and contents).

    Symlinked folders are followed (a ConfigMap's ``segments -> ..data/segments``);
    hidden ``..*`` folders are skipped, they are reached through those links.
    """
    if not config_dir.is_dir():
        return ""
    found: list[Path] = []
    for folder, dirs, files in os.walk(config_dir, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".."))
        found += [Path(folder, f) for f in files if f.endswith(_SUFFIXES)]
    digest = hashlib.sha256()
    for path in sorted(found):
        try:
            content = path.read_bytes()
        except OSError:
            content = b"<unreadable>"
        digest.update(str(path.relative_to(config_dir)).encode() + b"\0" + content + b"\0")
    return digest.hexdigest()


def _schema(settings: Settings) -> StoreSchema | None:
    try:
        with open_store(settings.source_url, settings.store) as store:
            return store.discover()
    except (ConfigError, DependencyError):
        return None


def load_checked(settings: Settings) -> tuple[Definitions, bool]:
    """Load and check the config directory like ``segsync validate``.

    Returns the definitions and whether they were checked against the store (False when
    it could not be opened). Raises ``ConfigError`` with every located issue.
    """
    defs = load_definitions(settings.config_dir, destination_models())
    schema = _schema(settings)
    if schema is not None:
        raise_for_schema(defs, schema)
    plan_splits(defs, schema=schema, capabilities=capabilities_for)
    return defs, schema is not None


class ConfigWatcher:
    """Calls ``on_change()`` (in its own thread) after files under ``path`` change."""

    def __init__(
        self, path: Path, on_change: Callable[[], None], *, debounce_ms: int = 400
    ) -> None:
        self.path = path
        self.on_change = on_change
        self.debounce_ms = debounce_ms
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="segsync-config-watch", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=5)

    def _run(self) -> None:
        try:
            for _changes in watch(
                self.path,
                debounce=self.debounce_ms,
                step=50,
                stop_event=self.stop_event,
                raise_interrupt=False,
                rust_timeout=1000,
            ):
                self.on_change()
        except Exception as exc:  # e.g. out of inotify watches: the daemon's polling remains
            log.warning("config watching stopped; polling only", error=str(exc))
