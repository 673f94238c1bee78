"""Who a member is to an ESP (a normalised email) and whether they are held out."""

from __future__ import annotations

import hashlib
import math
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


def _first_bucket_kept(holdout: float) -> int:
    """The lowest whole bucket not held out: a bucket (a whole number) is below
    ``holdout * 100`` (taken exactly, as ``is_held_out`` does) when it is below this."""
    return math.ceil(Decimal(str(holdout)) * 100)


def held_out_mask(
    segment: str, profile_ids: np.ndarray, rows: np.ndarray, holdout: float
) -> np.ndarray:
    """Which of the selected ``rows`` (a boolean mask over ``profile_ids``) are held out:
    ``is_held_out`` of each, with the digests taken in one pass and the buckets compared
    as one array."""
    held = np.zeros(len(profile_ids), dtype=bool)
    selected = np.flatnonzero(rows)
    if holdout <= 0 or not len(selected):
        return held
    sha256 = hashlib.sha256
    # the same text as is_held_out's (the f-string formats each id alike)
    digests = b"".join(
        [
            sha256(f"{segment}:{profile_id}".encode()).digest()
            for profile_id in profile_ids[selected]
        ]
    )
    # each digest's first 8 bytes, big-endian
    first = np.frombuffer(digests, dtype=">u8").reshape(len(selected), 4)[:, 0]
    held[selected] = first % 10000 < _first_bucket_kept(holdout)
    return held
