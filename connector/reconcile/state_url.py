"""Where the state store lives: ``SEGSYNC_STATE_URL``, or the SQLite shorthand.

    sqlite:///relative/path.db       (relative to the working directory)
    sqlite:////absolute/path.db
    sqlite:///:memory:               (tests)
    postgresql://user@host:5432/db   (also postgres://, postgresql+psycopg://); tables go to
                                     the first schema of the search path, e.g.
                                     ?options=-csearch_path%3Dsegsync

``SEGSYNC_STATE_PATH`` (default ``state/segsync.db``) is the same as ``sqlite:///PATH``; the
URL wins when both are set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from connector.errors import ConfigError
from connector.settings import Settings

__all__ = ["StateUrl", "parse_state_url", "state_url_of"]

_SETTING = "SEGSYNC_STATE_URL"


@dataclass(frozen=True)
class StateUrl:
    kind: Literal["sqlite", "postgresql"]
    path: Path | None = None  # SQLite file (None = in memory)
    dsn: str = ""  # PostgreSQL connection string, as given minus the driver suffix

    def display(self) -> str:
        """The location without a password, for messages."""
        if self.kind == "sqlite":
            return str(self.path) if self.path is not None else "sqlite:///:memory:"
        parts = urlsplit(self.dsn)
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        if parts.username:
            netloc = f"{parts.username}@{netloc}"
        return f"postgresql://{netloc}{parts.path}"

    @property
    def setting(self) -> str:
        """The setting a user changes to point elsewhere."""
        return _SETTING if self.kind == "postgresql" else "SEGSYNC_STATE_URL/SEGSYNC_STATE_PATH"


def parse_state_url(url: str) -> StateUrl:
    """Parse ``SEGSYNC_STATE_URL``; anything else than sqlite/postgresql is a ``ConfigError``."""
    scheme, sep, rest = url.partition("://")
    base = scheme.split("+", 1)[0].lower()
    if sep and base == "sqlite":
        if not rest.startswith("/"):
            raise ConfigError(
                f"invalid state URL '{url}': use sqlite:///relative/path.db or "
                "sqlite:////absolute/path.db (three or four slashes)",
                file=_SETTING,
            )
        target = rest[1:]
        return StateUrl("sqlite", path=None if target in ("", ":memory:") else Path(target))
    if sep and base in ("postgresql", "postgres"):
        return StateUrl("postgresql", dsn=f"postgresql://{rest}")
    shown = f"'{scheme}://…'" if sep else "this value"
    raise ConfigError(
        f"unsupported state URL {shown}: use sqlite:///path.db or postgresql://user@host/db",
        file=_SETTING,
    )


def state_url_of(settings: Settings) -> StateUrl:
    """The state store of these settings (the URL, else the SQLite path)."""
    if settings.state_url:
        return parse_state_url(settings.state_url)
    return StateUrl("sqlite", path=settings.state_path)
