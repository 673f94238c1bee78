"""Where the customer store keeps profiles and events: table and column names
(``SEGSYNC_STORE__*``; a section of ``connector.settings.Settings``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["StoreLayout"]


class StoreLayout(BaseModel):
    """Table and column names of the customer store (point them at views of your schema)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    profiles_table: str = "profiles"
    events_table: str = "events"
    profile_id: str = "profile_id"
    email: str = "email"
    consent: str = "email_consent"
    event: str = "event"
    ts: str = "ts"
    latitude: str = "latitude"
    longitude: str = "longitude"
