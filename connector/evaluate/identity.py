"""Who a member is to an ESP (a normalised email) and whether they are held out."""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal

import numpy as np

__all__ = ["held_out_mask", "is_held_out", "normalise_email"]

# Pragmatic: one @, no spaces, a dot in the domain. ESPs reject the rest anyway.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def normalise_email(raw: object) -> str | None:
    """The email trimmed and lower-cased, or ``None`` when missing or not a valid address."""
    if not isinstance(raw, str):
        return None
    email = raw.strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        return None
    return email


def is_held_out(segment: str, profile_id: object, holdout: float) -> bool:
    """docs/design.md, Semantics: sha256 of ``"<segment>:<profile_id>"``, first 8 bytes big-endian,
    modulo 10000, below ``holdout * 100``."""
    if holdout <= 0:
        return False
    digest = hashlib.sha256(f"{segment}:{profile_id}".encode()).digest()
    # decimal, not float: 0.07 * 100 is 7.000000000000001, which would hold out bucket 7
    return int.from_bytes(digest[:8], "big") % 10000 < Decimal(str(holdout)) * 100


def held_out_mask(
    segment: str, profile_ids: np.ndarray, rows: np.ndarray, holdout: float
) -> np.ndarray:
    """Which of the selected ``rows`` (a boolean mask over ``profile_ids``) are held out."""
    held = np.zeros(len(profile_ids), dtype=bool)
    if holdout > 0:
        for row in np.flatnonzero(rows):
            held[row] = is_held_out(segment, profile_ids[row], holdout)
    return held
