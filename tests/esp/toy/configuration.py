"""The toy ESP's account settings (``SEGSYNC_TOY__*`` once registered in the registry)."""

from __future__ import annotations

from connector.esp.sections import EspSection


class ToySettings(EspSection):
    base_url: str = "https://api.toy.invalid"
