"""The Klaviyo API emulator (``segsync emulator klaviyo``)."""

from connector.emulator.klaviyo.state import KlaviyoState

__all__ = ["KlaviyoState"]
