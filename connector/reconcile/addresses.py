"""Who each member is to an ESP: a valid email address — or why the member is not pushed.

The ESPs refuse addresses that break RFC 5321/6531 (a NUL byte, a zero-width space, markup,
a comma, an IDNA label that does not encode), and a refused address costs a quarantine entry
and a retry on every run; a profile whose ``profile_id`` is NULL or shared by several rows
cannot be told apart from the others. So, once per evaluation, before anything is pushed:

- every distinct address of a member is checked once, by ``email-validator`` (strict syntax, no
  DNS); the common plain-ASCII shape is accepted by a conservative pattern first, which only
  ever accepts what the library accepts (a property test holds it to that);
- rows with a NULL or duplicate ``profile_id`` are left out;
- what was left out is counted by reason, with a few examples naming the profile (never the
  address), for ``sync``, ``preview`` and ``audit`` to show.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from connector.evaluate.engine import Evaluation

__all__ = ["INVALID", "SPECIAL_TLDS", "Addresses", "Rejects", "check_email"]

INVALID = "invalid email"
NO_ID = "no profile_id"
DUPLICATE_ID = "duplicate profile_id"
MISSING = "no email"

#: a plain address: dot-atom local part of common characters, LDH labels, alphabetic TLD
_PLAIN = re.compile(
    r"[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
)
#: the last labels of email-validator's ``SPECIAL_USE_DOMAIN_NAMES`` (a test keeps them equal):
#: written out so that plain addresses are checked without importing the library
SPECIAL_TLDS = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})
_EXAMPLES = 5


def _plain(email: str) -> bool:
    if len(email) > 254 or not _PLAIN.fullmatch(email):
        return False
    local, _, domain = email.partition("@")
    return (
        len(local) <= 64
        and "--" not in domain  # IDNA (xn--) labels: the library decides
        and domain.rsplit(".", 1)[-1] not in SPECIAL_TLDS
    )


def check_email(raw: object) -> tuple[str | None, str]:
    """``(address, "")`` for a valid address (trimmed, lower-cased, domain normalised), or
    ``(None, why)``: ``"no email"`` when missing, else the library's reason."""
    if not isinstance(raw, str) or not raw.strip():
        return None, MISSING
    email = raw.strip().lower()
    if _plain(email):
        return email, ""
    # imported on first need: it compiles its RFC grammars on import (a third of the
    # imports of a `preview` whose addresses are all plain)
    from email_validator import EmailNotValidError, validate_email  # noqa: PLC0415

    try:
        checked = validate_email(email, check_deliverability=False, strict=True)
    except EmailNotValidError as exc:
        return None, str(exc)
    return checked.normalized.lower(), ""


@dataclass
class Rejects:
    """Members left out, by reason (``no email`` is counted apart: it is no address at all)."""

    counts: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(n for reason, n in self.counts.items() if reason != MISSING)

    def describe(self) -> str:
        """One line for terminal output, empty when nothing was rejected."""
        shown = {r: n for r, n in sorted(self.counts.items()) if r != MISSING}
        if not shown:
            return ""
        what = ", ".join(f"{n} {reason}" for reason, n in shown.items())
        line = f"not pushed (an ESP would refuse them): {what}"
        if self.examples:
            line += f"; e.g. {'; '.join(self.examples)}"
        return line

    def to_json(self) -> dict[str, Any]:
        return {"counts": dict(sorted(self.counts.items())), "examples": list(self.examples)}


class Addresses:
    """The ESP address of each row of one evaluation, checked once per distinct address."""

    def __init__(self, result: Evaluation) -> None:
        self.result = result
        self._checked: dict[object, tuple[str | None, str]] = {}
        counts = Counter(pid for pid in result.profile_ids.tolist() if pid is not None)
        self._duplicated = {pid for pid, n in counts.items() if n > 1}
        #: row -> (kind, detail), for the rows asked about and counted
        self._why: dict[int, tuple[str, str]] = {}

    def _check(self, row: int) -> tuple[str | None, str]:
        pid = self.result.profile_ids[row]
        if pid is None or (isinstance(pid, float) and np.isnan(pid)):
            return None, NO_ID
        if pid in self._duplicated:
            return None, DUPLICATE_ID
        raw = self.result.raw_emails[row]
        known = self._checked.get(raw)
        if known is None:
            known = self._checked[raw] = check_email(raw)
        return known

    def email(self, row: int, *, count: bool = True) -> str | None:
        """The row's address, or None (counted among the rejects unless ``count`` is off)."""
        email, why = self._check(row)
        if email is None and count:
            kind = why if why in (MISSING, NO_ID, DUPLICATE_ID) else INVALID
            self._why[row] = (kind, why)
        return email

    def emails(self, rows: Iterable[int]) -> np.ndarray:
        """An address per evaluation row (None where not pushed), checking only ``rows``."""
        out = np.full(len(self.result.profile_ids), None, dtype=object)
        for row in rows:
            out[row] = self.email(int(row))
        return out

    def rejects(self, rows: Iterable[int] | None = None) -> Rejects:
        """What was left out, among ``rows`` (default: every row asked about)."""
        chosen = self._why if rows is None else {r: self._why[r] for r in rows if r in self._why}
        report = Rejects(counts=dict(Counter(kind for kind, _ in chosen.values())))
        for row, (kind, why) in sorted(chosen.items()):
            if kind == MISSING or len(report.examples) >= _EXAMPLES:
                continue
            pid = self.result.profile_ids[row]
            who = "a profile with no profile_id" if kind == NO_ID else f"profile {pid}"
            report.examples.append(f"{who}: {kind}: {why}" if kind == INVALID else f"{who}: {kind}")
        return report
