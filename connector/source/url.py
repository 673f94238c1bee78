"""Customer store URLs, SQLAlchemy style.

duckdb:///relative/path.duckdb     (relative to the working directory)
duckdb:////absolute/path.duckdb
duckdb:///:memory:                 (tests)
postgresql://user@host:5432/db     (also postgres://, postgresql+psycopg://)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from connector.errors import ConfigError

__all__ = ["StoreUrl", "parse_store_url"]


@dataclass(frozen=True)
class StoreUrl:
    kind: str  # "duckdb" | "postgresql"
    path: Path | None = None  # duckdb file (None = in memory)
    dsn: str = ""  # postgresql connection string (as given, minus the driver suffix)

    def display(self) -> str:
        """The URL without a password, for messages."""
        if self.kind == "duckdb":
            return f"duckdb:///{self.path}" if self.path else "duckdb:///:memory:"
        parts = urlsplit(self.dsn)
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        if parts.username:
            netloc = f"{parts.username}@{netloc}"
        return f"postgresql://{netloc}{parts.path}"


def parse_store_url(url: str) -> StoreUrl:
    """Parse ``SEGSYNC_SOURCE_URL``; an unknown scheme is a ``ConfigError``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError(
            f"invalid store URL '{url}': expected duckdb:///path.duckdb or postgresql://host/db",
            file="SEGSYNC_SOURCE_URL",
        )
    base = scheme.split("+", 1)[0].lower()
    if base == "duckdb":
        if not rest.startswith("/"):
            raise ConfigError(
                f"invalid store URL '{url}': use duckdb:///relative/path or "
                "duckdb:////absolute/path (three or four slashes)",
                file="SEGSYNC_SOURCE_URL",
            )
        target = rest[1:]
        if target in ("", ":memory:"):
            return StoreUrl("duckdb")
        return StoreUrl("duckdb", path=Path(target))
    if base in ("postgresql", "postgres"):
        return StoreUrl("postgresql", dsn=f"postgresql://{rest}")
    raise ConfigError(
        f"unsupported store '{scheme}': segsync reads duckdb:// and postgresql:// stores",
        file="SEGSYNC_SOURCE_URL",
    )
