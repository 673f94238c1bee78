"""Klaviyo's account settings: ``Settings.klaviyo``, from ``SEGSYNC_KLAVIYO__*``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from connector.esp.sections import EspSection

__all__ = ["KlaviyoSettings"]


class KlaviyoSettings(EspSection):
    # private keys
    key_patterns: ClassVar[tuple[str, ...]] = (r"\bpk_[0-9A-Za-z]{16,}\b",)
    auth_schemes: ClassVar[tuple[str, ...]] = ("klaviyo-api-key",)
    base_url: str = "https://a.klaviyo.com"
    max_connections: int = Field(default=4, ge=1, le=32)
    timeout_seconds: float = Field(default=60.0, gt=0)
