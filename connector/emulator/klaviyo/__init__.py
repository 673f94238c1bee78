"""The Klaviyo API emulator (``segsync emulator klaviyo``)."""

from connector.emulator.klaviyo.account import KlaviyoState

__all__ = ["KlaviyoState"]
