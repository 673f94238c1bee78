"""Customer store URLs, SQLAlchemy style.

duckdb:///relative/path.duckdb     (relative to the working directory)
duckdb:////absolute/path.duckdb
duckdb:///:memory:                 (tests)
postgresql://user@host:5432/db     (also postgres://, postgresql+psycopg://)
spark://local?warehouse=DIR        (Spark in-process, managed tables under DIR)
spark://HOST:7077                  (a standalone Spark cluster)
sc://HOST:15002                    (Spark Connect, e.g. Databricks)

Every kind names the sqlglot dialect its queries are rendered in (``StoreUrl.dialect``).
Any other scheme is a ``ConfigError`` that lists the supported ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from connector.errors import ConfigError

__all__ = ["DIALECTS", "SCHEMES", "StoreUrl", "parse_store_url"]

#: store kind -> the sqlglot dialect its SQL is written in
DIALECTS = {"duckdb": "duckdb", "postgresql": "postgres", "spark": "spark", "sc": "spark"}
#: the schemes ``parse_store_url`` accepts, as shown in errors
SCHEMES = ("duckdb", "postgresql", "spark", "sc")
_EXAMPLES = (
    "duckdb:///path.duckdb, postgresql://user@host/db, spark://local?warehouse=DIR, "
    "spark://HOST:7077 or sc://HOST:15002"
)


@dataclass(frozen=True)
class StoreUrl:
    kind: str  # "duckdb" | "postgresql" | "spark" | "sc"
    path: Path | None = None  # duckdb file (None = in memory)
    dsn: str = ""  # postgresql connection string / spark master URL (as given, minus driver)

    @property
    def dialect(self) -> str:
        """The sqlglot dialect of this store's SQL."""
        return DIALECTS[self.kind]

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
        if self.kind in ("spark", "sc"):
            query = f"?{parts.query}" if parts.query and self.kind == "spark" else ""
            return f"{self.kind}://{netloc}{parts.path}{query}"
        return f"postgresql://{netloc}{parts.path}"


def parse_store_url(url: str) -> StoreUrl:
    """Parse ``SEGSYNC_SOURCE_URL``; an unknown scheme is a ``ConfigError``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError(
            f"invalid store URL '{url}': expected {_EXAMPLES}",
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
    if base in ("spark", "sc"):
        if not urlsplit(f"{base}://{rest}").hostname:
            raise ConfigError(
                f"invalid store URL '{url}': use spark://local?warehouse=DIR, "
                "spark://HOST:7077 or sc://HOST:15002",
                file="SEGSYNC_SOURCE_URL",
            )
        return StoreUrl(base, dsn=f"{base}://{rest}")
    raise ConfigError(
        f"unsupported store '{scheme}://': segsync reads "
        + ", ".join(f"{s}://" for s in SCHEMES)
        + f" stores (e.g. {_EXAMPLES})",
        file="SEGSYNC_SOURCE_URL",
    )
