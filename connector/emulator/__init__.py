"""Local Mailchimp- and Klaviyo-compatible HTTP servers: the demo's ESP, the integration
tests' ESP and the benchmarks' yardstick.

    from connector.emulator import EmulatorOptions, run_emulator

    with run_emulator("mailchimp", EmulatorOptions(latency_ms=0, seed=1)) as emu:
        emu.base_url, emu.api_key, emu.state, emu.calls, emu.options, emu.faults

See README.md in this package for the endpoints, limits and fault flags.
"""

from connector.emulator.calls import CallLog, CallRecord
from connector.emulator.faults import Fault, FaultEvent, FaultInjector
from connector.emulator.klaviyo.account import KlaviyoState
from connector.emulator.mailchimp.account import MailchimpState
from connector.emulator.options import EmulatorOptions
from connector.emulator.server import Emulator, run_emulator

__all__ = [
    "CallLog",
    "CallRecord",
    "Emulator",
    "EmulatorOptions",
    "Fault",
    "FaultEvent",
    "FaultInjector",
    "KlaviyoState",
    "MailchimpState",
    "run_emulator",
]
