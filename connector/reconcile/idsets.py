"""Sets of profile ids stored compactly in the state store.

Integer ids: sorted, delta-encoded as little-endian int64, zlib-compressed (consecutive
ids cost about a byte each). Text ids: sorted, NUL-separated UTF-8, zlib-compressed. The
first byte says which, so decoding gives back the ids' own type.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

import numpy as np

__all__ = ["decode_ids", "encode_ids"]

_INT, _TEXT = b"i", b"s"


def encode_ids(ids: Iterable[object]) -> bytes:
    values = list(ids)
    if all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in values):
        array = np.unique(np.asarray(values, dtype=np.int64))
        deltas = np.diff(array, prepend=np.int64(0)).astype("<i8")
        return _INT + zlib.compress(deltas.tobytes(), 6)
    text = "\0".join(sorted({str(v) for v in values}))
    return _TEXT + zlib.compress(text.encode(), 6)


def decode_ids(blob: bytes) -> np.ndarray:
    """The ids, sorted: an int64 array or an object array of str."""
    if not blob:
        return np.zeros(0, dtype=np.int64)
    kind, body = blob[:1], zlib.decompress(blob[1:])
    if kind == _INT:
        return np.cumsum(np.frombuffer(body, dtype="<i8")).astype(np.int64)
    if not body:
        return np.zeros(0, dtype=object)
    return np.asarray(body.decode().split("\0"), dtype=object)
