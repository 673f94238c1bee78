"""Config reloading: what counts as a change, what is checked, and the file watcher."""

from __future__ import annotations

import os
import threading
from datetime import datetime
from pathlib import Path

import pytest

from connector.daemon.reload import ConfigWatcher, config_fingerprint, load_checked
from connector.errors import ConfigError
from connector.settings import Settings, load_settings
from tests.conftest import make_store, write_config
from tests.daemon.conftest import CA, DESTINATIONS, wait_for

NOW = datetime(2026, 5, 1, 12)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SEGSYNC_SECRETS_DIR", str(tmp_path / "none"))
    store = tmp_path / "customers.duckdb"
    make_store([("p1", "a@b.example", True, "CA", 30, 1.0, False, NOW, None, None)],
               path=store).close()  # fmt: skip
    write_config(tmp_path / "config", {"ca": CA}, destinations=DESTINATIONS)
    return load_settings(config_dir=tmp_path / "config", source_url=f"duckdb:///{store}")


def test_fingerprint_follows_yaml_contents_only(tmp_path: Path) -> None:
    root = write_config(tmp_path / "c", {"ca": CA}, destinations=DESTINATIONS)
    first = config_fingerprint(root)
    (root / "notes.txt").write_text("not config")
    assert config_fingerprint(root) == first
    (root / "segments" / "ca.yaml").write_text(CA + "\n# a comment\n")
    assert config_fingerprint(root) != first
    assert config_fingerprint(tmp_path / "missing") == ""


def test_fingerprint_sees_a_configmap_update(tmp_path: Path) -> None:
    """Kubernetes mounts ``segments -> ..data/segments`` and swaps ``..data`` atomically."""
    root = tmp_path / "cm"
    for version, text in (("..v1", CA), ("..v2", CA.replace("CA}", "NY}"))):
        write_config(root / version, {"ca": text}, destinations=DESTINATIONS)
    (root / "..data").symlink_to("..v1")
    (root / "segments").symlink_to("..data/segments")
    (root / "destinations.yaml").symlink_to("..data/destinations.yaml")
    before = config_fingerprint(root)
    (root / "..data_tmp").symlink_to("..v2")
    os.replace(root / "..data_tmp", root / "..data")
    assert config_fingerprint(root) != before


def test_load_checked_checks_against_the_store(settings: Settings) -> None:
    defs, checked = load_checked(settings)
    assert checked and list(defs.segments) == ["ca"]
    (settings.config_dir / "segments" / "ca.yaml").write_text(CA.replace("region", "regoin"))
    with pytest.raises(ConfigError) as caught:
        load_checked(settings)
    (issue,) = caught.value.issues
    assert "ca.yaml line 4" in str(issue) and "did you mean 'region'" in str(issue)


def test_load_checked_without_the_store_checks_the_files_only(settings: Settings) -> None:
    (settings.config_dir / "segments" / "ca.yaml").write_text(CA.replace("region", "regoin"))
    offline = settings.model_copy(update={"source_url": "duckdb:///nowhere/x.duckdb"})
    defs, checked = load_checked(offline)  # the unknown column cannot be known here
    assert not checked and list(defs.segments) == ["ca"]
    (settings.config_dir / "segments" / "ca.yaml").write_text("name: ca\nrule: [\n")
    with pytest.raises(ConfigError, match=r"ca\.yaml line"):
        load_checked(offline)


def test_watcher_calls_back_on_changes(tmp_path: Path) -> None:
    root = write_config(tmp_path / "c", {"ca": CA}, destinations=DESTINATIONS)
    seen = threading.Event()
    watcher = ConfigWatcher(root, seen.set, debounce_ms=50)
    watcher.start()
    try:
        writes = 0

        def touched() -> bool:
            nonlocal writes
            writes += 1  # rewrite until noticed: the watch may start a moment late
            (root / "segments" / "ca.yaml").write_text(CA + f"# {writes}\n")
            return seen.wait(0.5)

        wait_for("a change notification", touched, timeout=20)
    finally:
        watcher.stop()
    assert not watcher.thread.is_alive()
