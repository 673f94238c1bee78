"""The settings the ESP layer reads: one ESP account's section (each ESP package subclasses
``EspSection`` in its ``configuration.py``), the retry budget, and what an adapter factory
needs from the whole ``connector.settings.Settings`` (``EspSettings``).

``connector.settings`` builds ``Settings`` with one field per registered ESP, named after its
``esp:`` value, so ``SEGSYNC_<ESP>__API_KEY`` (and ``/run/secrets/segsync_<esp>__api_key``)
reach that ESP's section.
"""

from __future__ import annotations

from typing import ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = ["EspSection", "EspSettings", "RetrySettings"]


class EspSection(BaseModel):
    """One ESP account's settings; what the redactor must know about its secrets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_key: SecretStr | None = None
    #: regular expressions of the ESP's key shapes, masked wherever they appear
    key_patterns: ClassVar[tuple[str, ...]] = ()
    #: HTTP Authorization schemes the ESP uses besides Bearer and Basic
    auth_schemes: ClassVar[tuple[str, ...]] = ()


class RetrySettings(BaseModel):
    """The one retry policy's budget (``SEGSYNC_RETRY__*``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(default=8, ge=1, le=50)
    max_seconds: float = Field(default=300.0, gt=0)
    initial_backoff_seconds: float = Field(default=1.0, ge=0)
    max_backoff_seconds: float = Field(default=60.0, ge=0)
    quarantine_max_attempts: int = Field(default=5, ge=1)


class EspSettings(Protocol):
    """What an adapter factory reads from the settings."""

    @property
    def retry(self) -> RetrySettings: ...

    def esp_section(self, esp: str) -> EspSection:
        """The section of the ESP named ``esp``."""
        ...
