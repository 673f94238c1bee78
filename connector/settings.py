"""Runtime settings: environment (``SEGSYNC_*``, nested with ``__``), ``.env``, secrets dir.

Precedence, highest first: explicit arguments (CLI flags such as ``--config``), environment
variables, the ``.env`` file in the working directory, files in the secrets directory
(``SEGSYNC_SECRETS_DIR``, default ``/run/secrets``; a file named
``segsync_mailchimp__api_key`` holds the Mailchimp key), then the defaults below.

API keys are ``SecretStr``: they print as ``**********`` and never reach logs or errors.

Each ESP's section (key, base URL, limits) is declared by its package
(``connector/esp/<name>/configuration.py``) and added here from the ESP registry, as a field
named after its ``esp:`` value; the sections the lower layers read live with them
(``connector/source/layout.py``, ``connector/esp/sections.py``) and are re-exported here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    NestedSecretsSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.exceptions import SettingsError

from connector.errors import ConfigError, Issue, Location
from connector.esp.registry import ESPS
from connector.esp.sections import EspSection, RetrySettings
from connector.source.layout import StoreLayout
from connector.timespec import Duration, Schedule, parse_duration, parse_schedule

__all__ = [
    "ESP_SECTIONS",
    "GuardSettings",
    "RetrySettings",
    "Settings",
    "StoreLayout",
    "load_settings",
]

DurationSetting = Annotated[
    Duration, BeforeValidator(lambda v: v if isinstance(v, Duration) else parse_duration(v))
]
ScheduleSetting = Annotated[
    Schedule,
    NoDecode,  # a plain string in the environment, not JSON
    BeforeValidator(lambda v: v if isinstance(v, Schedule) else parse_schedule(v)),
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


#: the ESPs registered when the settings are first imported: a section each
_ESP_FIELDS: dict[str, type[EspSection]] = {name: spec.settings for name, spec in ESPS.items()}
#: every ESP's settings section, for what must cover them all (secret masking)
ESP_SECTIONS: tuple[type[EspSection], ...] = tuple(_ESP_FIELDS.values())


class HttpSettings(_Section):
    bind: str = "127.0.0.1:8080"
    token: SecretStr | None = None


class GuardSettings(_Section):
    max_removal_percent: float = Field(default=20.0, ge=0, le=100)
    max_staleness: DurationSetting | None = Field(default_factory=lambda: parse_duration("7d"))


class BudgetSettings(_Section):
    """The rate budget shared by processes (README "One rate budget per ESP account")."""

    enabled: bool = True
    #: ``sqlite:///path`` or ``postgresql://…``; default: the state store (a SQLite state
    #: file's budget is ``<name>.budget.db`` beside it; PostgreSQL's, tables in its schema)
    url: str | None = None
    #: a holder that stops renewing (killed) blocks the others this long at most
    lease_seconds: float = Field(default=15.0, ge=2.0, le=600.0)


class Settings(BaseSettings):
    """Everything segsync reads from its environment. See the README's settings table."""

    model_config = SettingsConfigDict(
        env_prefix="SEGSYNC_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        secrets_dir_missing="ok",
        secrets_nested_delimiter="__",
        frozen=True,
        arbitrary_types_allowed=True,
    )

    config_dir: Path = Path("config")
    source_url: str = "duckdb:///data/customers.duckdb"
    state_path: Path = Path("state/segsync.db")
    #: ``sqlite:///path`` or ``postgresql://…``; wins over ``state_path`` when set
    state_url: str | None = None
    default_schedule: ScheduleSetting = Field(default_factory=lambda: parse_schedule("1h"))
    store: StoreLayout = StoreLayout()
    http: HttpSettings = HttpSettings()
    guards: GuardSettings = GuardSettings()
    retry: RetrySettings = RetrySettings()
    budget: BudgetSettings = BudgetSettings()
    log_level: str = "info"
    # one section per registered ESP, named after its `esp:` value, so SEGSYNC_<ESP>__API_KEY
    # reaches it: the fields come from the ESP packages (EspSpec.settings), and adding an
    # ESP adds no line here
    __annotations__.update(_ESP_FIELDS)
    locals().update({name: section() for name, section in _ESP_FIELDS.items()})

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

    def esp_section(self, esp: str) -> EspSection:
        """The section of the ESP named ``esp`` (``SEGSYNC_<ESP>__*``)."""
        section = getattr(self, esp)
        assert isinstance(section, EspSection), esp
        return section

    def esp_api_keys(self) -> list[SecretStr | None]:
        """Every ESP account's API key (None where unset)."""
        return [self.esp_section(name).api_key for name in _ESP_FIELDS]


def _env_name(loc: tuple[int | str, ...]) -> str:
    return "SEGSYNC_" + "__".join(str(part).upper() for part in loc)


def load_settings(**overrides: Any) -> Settings:
    """Build the settings; a bad value raises ``ConfigError`` naming its variable.

    ``overrides`` are explicit values (from CLI flags); ``None`` values are ignored.
    """
    explicit = {key: value for key, value in overrides.items() if value is not None}
    secrets_dir = os.environ.get("SEGSYNC_SECRETS_DIR", "/run/secrets")
    try:
        return Settings(_secrets_dir=secrets_dir, **explicit)
    except ValidationError as exc:
        issues = [
            # msg only: pydantic's input_value could be a secret
            Issue(Location(field=_env_name(err["loc"])), err["msg"])
            for err in exc.errors()
        ]
        raise ConfigError(issues) from None
    except SettingsError as exc:
        # e.g. a nested value that is not valid JSON; name the field, never the value
        raise ConfigError(f"invalid setting: {exc}") from None
