"""Mailchimp's account settings: ``Settings.mailchimp``, from ``SEGSYNC_MAILCHIMP__*``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from connector.esp.sections import EspSection

__all__ = ["MailchimpSettings"]


class MailchimpSettings(EspSection):
    # 32 hex digits and the data centre
    key_patterns: ClassVar[tuple[str, ...]] = (r"(?i)\b[0-9a-f]{32}-us\d{1,3}\b",)
    base_url: str | None = Field(
        default=None, description="default: https://<dc>.api.mailchimp.com/3.0 from the key"
    )
    max_connections: int = Field(default=10, ge=1, le=10)
    timeout_seconds: float = Field(default=120.0, gt=0)
