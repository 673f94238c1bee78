"""The knobs of both emulators: latency, faults, limits, seed data.

One mutable dataclass, shared by the CLI and the in-process API. The server thread reads
it on every request, so a test may flip a field mid-run (``emu.options.fault_rate_5xx =
1.0``) and the next request sees it. Reading a plain attribute is atomic in CPython, so no
lock is needed for that.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "DEFAULT_KLAVIYO_KEY",
    "DEFAULT_MAILCHIMP_KEY",
    "EmulatorOptions",
    "FaultPhase",
]

FaultPhase = Literal["before", "after"]

# Fixed, documented fake keys: the emulator is a local test double, these are not secrets.
DEFAULT_MAILCHIMP_KEY = hashlib.md5(b"segsync-emulator").hexdigest() + "-us1"
DEFAULT_KLAVIYO_KEY = "pk_" + hashlib.sha1(b"segsync-emulator").hexdigest()[:34]


@dataclass
class EmulatorOptions:
    """Behaviour of one emulator instance; every field may be changed while it runs.

    Faults are drawn once per request, in arrival order, from ``random.Random(seed)``, so a
    sequential client sees the same fault sequence for the same seed. 429 and 5xx faults
    always happen before the request touches state (like a gateway in front of the API);
    timeouts and resets happen before or after the state change (``fault_phase``), so a
    crash-safety test can lose a response although the change was applied.
    """

    latency_ms: float = 0.0
    """Added to every request before it is handled (requests overlap, like a real server)."""
    fault_rate_429: float = 0.0
    fault_rate_5xx: float = 0.0
    fault_rate_timeout: float = 0.0
    """Hold the request until the client gives up (disconnects) or ``timeout_hold_s``."""
    fault_rate_reset: float = 0.0
    """Drop the connection (TCP RST) without a response."""
    fault_phase: FaultPhase = "before"
    """When timeouts and resets strike: before the handler runs, or after it changed state."""
    fault_routes: frozenset[str] | None = None
    """Route templates (``"/3.0/lists/{list_id}"``) random faults apply to; None: all."""
    seed: int | None = None
    """Seed of the fault sequence; None draws one from the OS (not reproducible)."""
    api_key: str | None = None
    """The key the emulator accepts; None: the flavour's fixed fake key."""
    timeout_hold_s: float = 300.0
    """How long a timeout fault holds a request whose client never gives up."""

    # Mailchimp
    audiences: tuple[str, ...] = ("demo-audience",)
    """Audience (list) ids created at start."""
    merge_fields: tuple[str, ...] = ()
    """Extra text merge-field tags created in every audience (FNAME, LNAME, ADDRESS, PHONE
    always exist)."""
    max_conditions: int = 5
    """Mailchimp saved-segment condition limit (unverified in the API; the UI allows 5)."""
    max_connections: int = 10
    """Mailchimp simultaneous in-flight requests per API key; more get 429."""
    unknown_merge_fields: Literal["error", "ignore"] = "error"
    """What a merge-field tag the audience lacks does to a member write: a per-member error
    (the safe default; the real behaviour is unverified) or silently dropped."""

    # Klaviyo
    klaviyo_max_conditions: int = 100
    rate_limits: bool = True
    """Klaviyo per-endpoint burst/steady/daily fixed windows."""
    rate_limit_scale: float = 1.0
    """Multiplies every Klaviyo limit (0.1 makes 10/s into 1/s); at least 1 request."""
    rate_window_scale: float = 1.0
    """Multiplies every window length (0.01 makes a minute 0.6 s) for fast tests."""
    import_delay_s: float = 0.2
    """Seconds a bulk import job takes: queued, then processing, then complete."""
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    """Monotonic seconds for windows and job timing; tests may pass a fake clock."""
