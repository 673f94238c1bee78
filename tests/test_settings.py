"""Settings: environment names of the README's table, nesting, .env, secrets dir, no leaks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from connector.errors import ConfigError
from connector.settings import load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.startswith("SEGSYNC_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("SEGSYNC_SECRETS_DIR", str(tmp_path / "no-secrets"))
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    settings = load_settings()
    assert settings.config_dir == Path("config")
    assert settings.source_url == "duckdb:///data/customers.duckdb"
    assert settings.state_path == Path("state/segsync.db")
    assert settings.http.bind == "127.0.0.1:8080"
    assert settings.klaviyo.base_url == "https://a.klaviyo.com"
    assert settings.mailchimp.api_key is None
    assert settings.guards.max_removal_percent == 20


def test_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "SEGSYNC_CONFIG_DIR": "conf",
        "SEGSYNC_SOURCE_URL": "postgresql://u@h/db",
        "SEGSYNC_STATE_PATH": "/tmp/s.db",
        "SEGSYNC_MAILCHIMP__API_KEY": "abc123-us6",
        "SEGSYNC_MAILCHIMP__BASE_URL": "http://127.0.0.1:1/3.0",
        "SEGSYNC_KLAVIYO__API_KEY": "pk_live_secret",
        "SEGSYNC_KLAVIYO__BASE_URL": "http://127.0.0.1:2",
        "SEGSYNC_HTTP__BIND": "0.0.0.0:9000",
        "SEGSYNC_HTTP__TOKEN": "t0k3n-v4lue",
        "SEGSYNC_GUARDS__MAX_REMOVAL_PERCENT": "5",
        "SEGSYNC_STORE__PROFILES_TABLE": "crm.v_profiles",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    s = load_settings()
    assert s.config_dir == Path("conf")
    assert s.source_url == "postgresql://u@h/db"
    assert s.mailchimp.api_key is not None
    assert s.mailchimp.api_key.get_secret_value() == "abc123-us6"
    assert s.mailchimp.base_url == "http://127.0.0.1:1/3.0"
    assert s.klaviyo.base_url == "http://127.0.0.1:2"
    assert s.http.bind == "0.0.0.0:9000"
    assert s.guards.max_removal_percent == 5
    assert s.store.profiles_table == "crm.v_profiles"
    dumped = f"{s!r} {s} {s.model_dump()}"
    for secret in ("abc123-us6", "pk_live_secret", "t0k3n-v4lue"):
        assert secret not in dumped


def test_cli_override_beats_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGSYNC_CONFIG_DIR", "from-env")
    assert load_settings(config_dir=Path("from-flag")).config_dir == Path("from-flag")
    assert load_settings(config_dir=None).config_dir == Path("from-env")


def test_dotenv_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SEGSYNC_KLAVIYO__API_KEY=pk_from_dotenv\n")
    key = load_settings().klaviyo.api_key
    assert key is not None and key.get_secret_value() == "pk_from_dotenv"


def test_secrets_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "segsync_mailchimp__api_key").write_text("from-secret-us2")
    monkeypatch.setenv("SEGSYNC_SECRETS_DIR", str(secrets))
    key = load_settings().mailchimp.api_key
    assert key is not None and key.get_secret_value() == "from-secret-us2"


def test_environment_beats_secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "segsync_mailchimp__api_key").write_text("from-secret-us2")
    monkeypatch.setenv("SEGSYNC_SECRETS_DIR", str(secrets))
    monkeypatch.setenv("SEGSYNC_MAILCHIMP__API_KEY", "from-env-us3")
    key = load_settings().mailchimp.api_key
    assert key is not None and key.get_secret_value() == "from-env-us3"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("SEGSYNC_GUARDS__MAX_REMOVAL_PERCENT", "lots", "SEGSYNC_GUARDS__MAX_REMOVAL_PERCENT"),
        ("SEGSYNC_GUARDS__MAX_STALENESS", "7days", "invalid duration '7days'"),
        ("SEGSYNC_DEFAULT_SCHEDULE", "hourly", "SEGSYNC_DEFAULT_SCHEDULE"),
        ("SEGSYNC_MAILCHIMP__MAX_CONNECTIONS", "50", "less than or equal to 10"),
    ],
)
def test_bad_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert expected in str(info.value)


def test_bad_secret_value_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGSYNC_MAILCHIMP", '{"api_key": "sekrit-us1", "max_connections": "x"}')
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "sekrit" not in str(info.value)
