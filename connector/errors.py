"""Every error segsync raises, branched by what the caller must do next.

    ConnectorError                    root; ``exit_code`` says how the CLI ends
    ├── ConfigError                   bad config or input (YAML, settings, data files,
    │                                 store URL, CLI values): fix it and run again — exit 1
    │   └── StateError                the state store is unreadable, read-only or damaged:
    │                                 fix or move the file (the message says which) — exit 1
    ├── GuardError                    a safety guard stopped the sync before writing — exit 3
    ├── DependencyError               the customer store or the state store cannot be
    │                                 reached: a dependency failed, not the config — exit 2
    ├── StateBusyError                another run holds the state store's lock — exit 5
    ├── StopRequestedError            a stop (SIGTERM) arrived: no further ESP call is made
    └── EspError                      the ESP failed us after retries — exit 2
        ├── RetriableEspError         429, 5xx, timeouts, connection errors: try again later
        │   └── RateLimitedError      429, with the ESP's Retry-After when it sent one
        └── FatalEspError             other 4xx: retrying will not help
            ├── EspAuthError          401/403: wrong or revoked API key
            ├── EspNotFoundError      404: the list/tag/segment/audience is gone
            └── EspValidationError    400/422: the ESP rejected the request body

``MemberError`` is not raised: it is the record of one member an ESP refused inside an
otherwise successful batch (quarantined, retried on later runs).

No message ever contains an API key: adapters build messages from the ESP's error body,
never from request headers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "ConfigError",
    "ConnectorError",
    "DependencyError",
    "EspAuthError",
    "EspError",
    "EspNotFoundError",
    "EspValidationError",
    "FatalEspError",
    "GuardError",
    "Issue",
    "Location",
    "MemberError",
    "RateLimitedError",
    "RetriableEspError",
    "StateBusyError",
    "StateError",
    "StopRequestedError",
]

EXIT_OK = 0
EXIT_CONFIG = 1
EXIT_DEPENDENCY = 2  # an ESP, the network, the customer store or the state store failed
EXIT_ESP = EXIT_DEPENDENCY
EXIT_GUARD = 3
EXIT_QUARANTINE = 4
EXIT_BUSY = 5


@dataclass(frozen=True, order=True)
class Location:
    """Where a problem is: a file, optionally a 1-based line and column, and a field path."""

    file: str = ""
    line: int | None = None
    column: int | None = None
    field: str = ""

    def __str__(self) -> str:
        parts = [self.file] if self.file else []
        if self.line is not None:
            parts.append(f"line {self.line}")
        where = " ".join(parts)
        if self.field:
            where = f"{where}: {self.field}" if where else self.field
        return where


@dataclass(frozen=True, order=True)
class Issue:
    """One located problem in the user's input."""

    location: Location
    message: str

    def __str__(self) -> str:
        where = str(self.location)
        return f"{where}: {self.message}" if where else self.message


class ConnectorError(Exception):
    """Root of segsync's errors."""

    exit_code = EXIT_ESP

    def problems(self) -> list[dict[str, object]]:
        """Each problem as data (``--json`` output): located ones carry file, line, field."""
        return [{"message": str(self)}]


class ConfigError(ConnectorError):
    """Invalid configuration or input. Carries every problem found, each located."""

    exit_code = EXIT_CONFIG

    def __init__(self, issues: list[Issue] | str, *, file: str | Path = "") -> None:
        if isinstance(issues, str):
            issues = [Issue(Location(file=str(file)), issues)]
        self.issues: list[Issue] = sorted(issues, key=_issue_sort_key)
        super().__init__("\n".join(str(i) for i in self.issues))

    def problems(self) -> list[dict[str, object]]:
        return [
            {
                "file": i.location.file or None,
                "line": i.location.line,
                "column": i.location.column,
                "field": i.location.field or None,
                "message": i.message,
            }
            for i in self.issues
        ]


def _issue_sort_key(issue: Issue) -> tuple[str, int, int, str]:
    loc = issue.location
    return (loc.file, loc.line or 0, loc.column or 0, issue.message)


class StateError(ConfigError):
    """The state store cannot be used as it is (unreadable, read-only, damaged, unreachable).

    Raised before any ESP write; the message names the file (never a password) and what to
    do about it."""


class StateBusyError(ConnectorError):
    """Another run holds the lock of this state store (``--wait`` waits for it instead)."""

    exit_code = EXIT_BUSY


class StopRequestedError(ConnectorError):
    """A stop was requested (SIGTERM, daemon shutdown): the next ESP call is not made."""

    exit_code = EXIT_OK


class GuardError(ConnectorError):
    """A guard (mass removal, empty or stale source, a stale plan) stopped the sync before
    any write. ``reasons`` are the individual findings, when there are several."""

    exit_code = EXIT_GUARD

    def __init__(self, message: str, *, reasons: list[str] | None = None) -> None:
        self.reasons = list(reasons or [])
        super().__init__(message)

    def problems(self) -> list[dict[str, object]]:
        return [{"message": r} for r in self.reasons] or super().problems()


class DependencyError(ConnectorError):
    """A store segsync depends on cannot be reached (server down, wrong host, refused):
    retrying later may work, changing the config will not necessarily help."""

    exit_code = EXIT_DEPENDENCY


class EspError(ConnectorError):
    """An ESP request failed for good (after retries, or not retriable)."""

    exit_code = EXIT_ESP

    def __init__(
        self,
        message: str,
        *,
        esp: str = "",
        status: int | None = None,
        method: str = "",
        path: str = "",
    ) -> None:
        self.esp = esp
        self.status = status
        self.method = method
        self.path = path
        self.detail = message
        prefix = f"{esp} " if esp else ""
        request = f" ({method} {path})" if method else ""
        code = f"HTTP {status}: " if status is not None else ""
        super().__init__(f"{prefix}{code}{message}{request}")


class RetriableEspError(EspError):
    """429, 5xx, timeout or connection failure: the same request may succeed later."""


class RateLimitedError(RetriableEspError):
    """429. ``retry_after`` is the ESP's Retry-After in seconds, when it sent one."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        esp: str = "",
        status: int | None = 429,
        method: str = "",
        path: str = "",
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, esp=esp, status=status, method=method, path=path)


class FatalEspError(EspError):
    """A 4xx other than 429: retrying the same request cannot succeed."""


class EspAuthError(FatalEspError):
    """401/403: the API key is wrong, revoked or lacks a scope."""


class EspNotFoundError(FatalEspError):
    """404: the audience, list, tag or segment does not exist (any more)."""


class EspValidationError(FatalEspError):
    """400/422: the ESP rejected the request body."""


@dataclass(frozen=True)
class MemberError:
    """One member the ESP refused inside a batch that otherwise succeeded."""

    email: str
    reason: str
    code: str = ""
    permanent: bool = False
    extra: dict[str, str] = field(default_factory=dict)
