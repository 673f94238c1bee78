"""Runtime settings: environment (``SEGSYNC_*``, nested with ``__``), ``.env``, secrets dir.

Precedence, highest first: explicit arguments (CLI flags such as ``--config``), environment
variables, the ``.env`` file in the working directory, files in the secrets directory
(``SEGSYNC_SECRETS_DIR``, default ``/run/secrets``; a file named
``segsync_mailchimp__api_key`` holds the Mailchimp key), then the defaults below.

``load_settings`` reads the common inputs itself (``connector.settings_sources``) and leaves
the rest to pydantic-settings, which it imports only then (~40 ms of start-up otherwise).

API keys are ``SecretStr``: they print as ``**********`` and never reach logs or errors.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, ValidationError

from connector.errors import ConfigError, Issue, Location
from connector.settings_sources import deep_update, plain_values
from connector.timespec import Duration, Schedule, parse_duration, parse_schedule

__all__ = ["ESP_SECTIONS", "Settings", "load_settings"]

DurationSetting = Annotated[
    Duration, BeforeValidator(lambda v: v if isinstance(v, Duration) else parse_duration(v))
]
ScheduleSetting = Annotated[
    Schedule, BeforeValidator(lambda v: v if isinstance(v, Schedule) else parse_schedule(v))
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class StoreLayout(_Section):
    """Table and column names of the customer store (point them at views of your schema)."""

    profiles_table: str = "profiles"
    events_table: str = "events"
    profile_id: str = "profile_id"
    email: str = "email"
    consent: str = "email_consent"
    event: str = "event"
    ts: str = "ts"
    latitude: str = "latitude"
    longitude: str = "longitude"


class _EspSection(_Section):
    """One ESP account's settings; what the redactor must know about its secrets."""

    api_key: SecretStr | None = None
    #: regular expressions of the ESP's key shapes, masked wherever they appear
    key_patterns: ClassVar[tuple[str, ...]] = ()
    #: HTTP Authorization schemes the ESP uses besides Bearer and Basic
    auth_schemes: ClassVar[tuple[str, ...]] = ()


class MailchimpSettings(_EspSection):
    # 32 hex digits and the data centre
    key_patterns: ClassVar[tuple[str, ...]] = (r"(?i)\b[0-9a-f]{32}-us\d{1,3}\b",)
    base_url: str | None = Field(
        default=None, description="default: https://<dc>.api.mailchimp.com/3.0 from the key"
    )
    max_connections: int = Field(default=10, ge=1, le=10)
    timeout_seconds: float = Field(default=120.0, gt=0)


class KlaviyoSettings(_EspSection):
    # private keys
    key_patterns: ClassVar[tuple[str, ...]] = (r"\bpk_[0-9A-Za-z]{16,}\b",)
    auth_schemes: ClassVar[tuple[str, ...]] = ("klaviyo-api-key",)
    base_url: str = "https://a.klaviyo.com"
    max_connections: int = Field(default=4, ge=1, le=32)
    timeout_seconds: float = Field(default=60.0, gt=0)


#: every ESP's settings section, for what must cover them all (secret masking)
ESP_SECTIONS: tuple[type[_EspSection], ...] = (MailchimpSettings, KlaviyoSettings)


class HttpSettings(_Section):
    bind: str = "127.0.0.1:8080"
    token: SecretStr | None = None


class GuardSettings(_Section):
    max_removal_percent: float = Field(default=20.0, ge=0, le=100)
    max_staleness: DurationSetting | None = Field(default_factory=lambda: parse_duration("7d"))


class RetrySettings(_Section):
    max_attempts: int = Field(default=8, ge=1, le=50)
    max_seconds: float = Field(default=300.0, gt=0)
    initial_backoff_seconds: float = Field(default=1.0, ge=0)
    max_backoff_seconds: float = Field(default=60.0, ge=0)
    quarantine_max_attempts: int = Field(default=5, ge=1)


class BudgetSettings(_Section):
    """The rate budget shared by processes (README "One rate budget per ESP account")."""

    enabled: bool = True
    #: ``sqlite:///path`` or ``postgresql://…``; default: the state store (a SQLite state
    #: file's budget is ``<name>.budget.db`` beside it; PostgreSQL's, tables in its schema)
    url: str | None = None
    #: a holder that stops renewing (killed) blocks the others this long at most
    lease_seconds: float = Field(default=15.0, ge=2.0, le=600.0)


class Settings(BaseModel):
    """Everything segsync reads from its environment. See the README's settings table."""

    model_config = ConfigDict(
        extra="ignore", frozen=True, arbitrary_types_allowed=True, validate_default=True
    )

    config_dir: Path = Path("config")
    source_url: str = "duckdb:///data/customers.duckdb"
    state_path: Path = Path("state/segsync.db")
    #: ``sqlite:///path`` or ``postgresql://…``; wins over ``state_path`` when set
    state_url: str | None = None
    default_schedule: ScheduleSetting = Field(default_factory=lambda: parse_schedule("1h"))
    store: StoreLayout = StoreLayout()
    mailchimp: MailchimpSettings = MailchimpSettings()
    klaviyo: KlaviyoSettings = KlaviyoSettings()
    http: HttpSettings = HttpSettings()
    guards: GuardSettings = GuardSettings()
    retry: RetrySettings = RetrySettings()
    budget: BudgetSettings = BudgetSettings()
    log_level: str = "info"

    def esp_api_keys(self) -> list[SecretStr | None]:
        """Every ESP account's API key (None where unset)."""
        return [self.mailchimp.api_key, self.klaviyo.api_key]


def _env_name(loc: tuple[int | str, ...]) -> str:
    return "SEGSYNC_" + "__".join(str(part).upper() for part in loc)


ENV_PREFIX = "SEGSYNC_"
ENV_DELIMITER = "__"


def load_settings(**overrides: Any) -> Settings:
    """Build the settings; a bad value raises ``ConfigError`` naming its variable.

    ``overrides`` are explicit values (from CLI flags); ``None`` values are ignored.
    """
    explicit = {key: value for key, value in overrides.items() if value is not None}
    secrets_dir = os.environ.get("SEGSYNC_SECRETS_DIR", "/run/secrets")
    try:
        values = plain_values(
            Settings,
            prefix=ENV_PREFIX,
            delimiter=ENV_DELIMITER,
            environ=os.environ,
            env_file=Path(".env"),
            secrets_dir=Path(secrets_dir),
        )
        if values is None:
            return _read_by_pydantic_settings(explicit, secrets_dir)
        return Settings(**deep_update(values, explicit))
    except ValidationError as exc:
        issues = [
            # msg only: pydantic's input_value could be a secret
            Issue(Location(field=_env_name(err["loc"])), err["msg"])
            for err in exc.errors()
        ]
        raise ConfigError(issues) from None


@cache
def environment_settings() -> type[Settings]:
    """``Settings`` read by pydantic-settings: for the inputs ``plain_values`` leaves to it
    (and, in tests, to check that both read the same). Built on first use: importing
    pydantic-settings is the cost ``plain_values`` saves."""
    from pydantic_settings import (  # noqa: PLC0415  (see above)
        BaseSettings,
        NestedSecretsSettingsSource,
        NoDecode,
        PydanticBaseSettingsSource,
        SettingsConfigDict,
    )

    class EnvironmentSettings(BaseSettings, Settings):
        model_config = SettingsConfigDict(
            env_prefix=ENV_PREFIX,
            env_nested_delimiter=ENV_DELIMITER,
            env_file=".env",
            env_file_encoding="utf-8",
            extra="ignore",
            secrets_dir_missing="ok",
            secrets_nested_delimiter=ENV_DELIMITER,
            frozen=True,
            arbitrary_types_allowed=True,
        )

        # a plain string in the environment, not JSON
        default_schedule: Annotated[ScheduleSetting, NoDecode] = Field(
            default_factory=lambda: parse_schedule("1h")
        )

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            # nested secrets: /run/secrets/segsync_mailchimp__api_key -> mailchimp.api_key
            secrets = NestedSecretsSettingsSource(file_secret_settings)
            return init_settings, env_settings, dotenv_settings, secrets

    return EnvironmentSettings


def _read_by_pydantic_settings(explicit: dict[str, Any], secrets_dir: str) -> Settings:
    from pydantic_settings.exceptions import SettingsError  # noqa: PLC0415  (as above)

    try:
        read = environment_settings()(_secrets_dir=secrets_dir, **explicit)
    except SettingsError as exc:
        # e.g. a nested value that is not valid JSON; name the field, never the value
        raise ConfigError(f"invalid setting: {exc}") from None
    # the same values as a plain ``Settings`` (what every reader compares and copies)
    return Settings.model_construct(
        read.model_fields_set, **{name: getattr(read, name) for name in Settings.model_fields}
    )
