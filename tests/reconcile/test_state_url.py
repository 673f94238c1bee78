"""SEGSYNC_STATE_URL: SQLite and PostgreSQL locations, the path shorthand, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.errors import ConfigError
from connector.reconcile.state_url import StateUrl, parse_state_url, state_url_of
from connector.settings import load_settings


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///state/s.db", StateUrl("sqlite", path=Path("state/s.db"))),
        ("sqlite:////var/lib/s.db", StateUrl("sqlite", path=Path("/var/lib/s.db"))),
        ("sqlite:///:memory:", StateUrl("sqlite")),
        ("postgres://u@h/db", StateUrl("postgresql", dsn="postgresql://u@h/db")),
        ("postgresql+psycopg://u@h/db", StateUrl("postgresql", dsn="postgresql://u@h/db")),
    ],
)
def test_urls(url: str, expected: StateUrl) -> None:
    assert parse_state_url(url) == expected


@pytest.mark.parametrize("url", ["mysql://u:pw@h/db", "state.db", "sqlite://relative.db"])
def test_bad_urls_name_the_setting_and_never_a_password(url: str) -> None:
    with pytest.raises(ConfigError, match="SEGSYNC_STATE_URL") as caught:
        parse_state_url(url)
    assert "pw" not in str(caught.value)


def test_display_hides_the_password() -> None:
    url = parse_state_url("postgresql://segsync:s3cret@db.internal:5433/state?sslmode=require")
    assert url.display() == "postgresql://segsync@db.internal:5433/state"


def test_the_url_wins_over_the_path_shorthand(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGSYNC_STATE_PATH", "a/b.db")
    assert state_url_of(load_settings()) == StateUrl("sqlite", path=Path("a/b.db"))
    monkeypatch.setenv("SEGSYNC_STATE_URL", "sqlite:///c/d.db")
    assert state_url_of(load_settings()) == StateUrl("sqlite", path=Path("c/d.db"))
