"""A SQLite state file that cannot be used gets one message naming it and what to do —
before anything else happens — and segsync never leaves files with a broken mode."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from connector.errors import StateError
from connector.reconcile.state import StateStore


def filled(path: Path, members: int = 3000) -> None:
    store = StateStore(path)
    store.start_run("r1", "cli", "x")
    store.start_part("r1", "s", "mc", "segsync:s", desired=members)
    store.confirm_batch(
        "r1", "mc", "segsync:s", "add", [f"u{i}@example.com" for i in range(members)], []
    )
    store.close()


def modes(folder: Path) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}


def open_and_check(path: Path) -> None:
    store = StateStore(path)
    try:
        store.check()
    finally:
        store.close()


def test_damaged_pages_are_reported_with_the_file_and_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    filled(path)
    size = path.stat().st_size
    with path.open("r+b") as file:  # scribble over pages in the middle of the members table
        file.seek(size // 2)
        file.write(os.urandom(8192))
    with pytest.raises(StateError) as caught:
        open_and_check(path)
    message = str(caught.value)
    assert str(path) in message and "damaged" in message and "move it aside" in message
    assert "\n" not in message


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not sqlite" * 500)
    with pytest.raises(StateError, match=r"state\.db is damaged \(file is not a database\)"):
        open_and_check(path)


def test_a_truncated_file_is_an_empty_store(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    filled(path)
    path.write_bytes(b"")
    for leftover in ("state.db-wal", "state.db-shm"):
        (tmp_path / leftover).unlink(missing_ok=True)
    store = StateStore(path)
    assert store.confirmed("mc", "segsync:s") == set()
    store.close()


@pytest.mark.parametrize(
    ("target", "mode", "expected"),
    [
        ("state.db", 0o444, r"state\.db is read-only: make it writable \(chmod u\+w"),
        ("state.db", 0o000, r"cannot read the state store file .*state\.db"),
        ("state.db-shm", 0o444, r"state\.db-shm is read-only"),
        (".", 0o555, r"state directory .* is not writable"),
    ],
)
def test_permissions_are_checked_before_sqlite_touches_anything(
    tmp_path: Path, target: str, mode: int, expected: str
) -> None:
    folder = tmp_path / "state"
    path = folder / "state.db"
    filled(path)
    (folder / "state.db-shm").touch()
    (folder / target).chmod(mode)
    before = modes(folder)
    try:
        with pytest.raises(StateError, match=expected):
            StateStore(path)
        assert modes(folder) == before  # nothing created, no mode changed
    finally:
        (folder / target).chmod(0o755 if target == "." else 0o644)
    StateStore(path).close()  # fixed: it opens again
