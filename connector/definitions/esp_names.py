"""The ``esp:`` names segsync knows: one per package in ``connector/esp/``.

A leaf module, so every definition model (destinations, ``esp:`` conditions) can name the
ESPs without importing each other; ``connector.esp.registry`` maps each name to its package
(a test checks the two agree).
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["ESP_NAMES", "EspName"]

EspName = Literal["mailchimp", "klaviyo"]
ESP_NAMES: tuple[str, ...] = get_args(EspName)
