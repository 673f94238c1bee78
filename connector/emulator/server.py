"""Start an emulator: in a background thread for tests and benchmarks, or in the
foreground for ``segsync emulator``.

    with run_emulator("mailchimp", EmulatorOptions(seed=1)) as emu:
        emu.base_url, emu.api_key, emu.state, emu.calls, emu.options, emu.faults

The listening socket is bound before the server starts, so port 0 works and the URL is
known at once. uvicorn runs with the h11 protocol (the gateway's reset fault relies on
it), no lifespan, no websockets and without touching the process's logging config.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, ClassVar, Generic, Literal, TypeVar, overload

import uvicorn

from connector.emulator.calls import CallLog
from connector.emulator.faults import FaultInjector
from connector.emulator.gateway import Gateway
from connector.emulator.klaviyo.account import KlaviyoState
from connector.emulator.mailchimp.account import MailchimpState
from connector.emulator.options import EmulatorOptions

__all__ = [
    "Emulator",
    "EspName",
    "ServedByName",
    "build_gateway",
    "run_emulator",
    "serve_forever",
]

EspName = str
"""An ESP's ``esp:`` name; its emulator app is ``connector/emulator/<name>/app.py``."""
StateT = TypeVar("StateT", MailchimpState, KlaviyoState)

_START_TIMEOUT_S = 10.0


@dataclass
class Emulator(Generic[StateT]):
    """A running emulator: where it listens, its key, its live state and counters."""

    esp: EspName
    host: str
    port: int
    base_url: str
    """``http://127.0.0.1:<port>`` plus the app's ``BASE_PATH`` (``/3.0`` for Mailchimp)."""
    api_key: str
    state: StateT
    calls: CallLog
    options: EmulatorOptions
    faults: FaultInjector
    gateway: Gateway = field(repr=False)

    def reset_limits(self) -> None:
        """Forget rate-limit windows (Klaviyo) — a fresh minute for the next test step."""
        self.gateway.rate_limiter.reset()


def emulator_app(esp: EspName) -> ModuleType:
    """The module of an ESP's emulator app, ``connector.emulator.<esp>.app``: its
    ``build_app(options, calls, faults, key, base_url)``, the ``BASE_PATH`` its API is
    served under and the ``DEFAULT_KEY`` it accepts. Imported only when that ESP is served
    (``segsync emulator mailchimp`` loads none of the other emulators)."""
    name = f"connector.emulator.{esp}.app"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and name.startswith(exc.name):
            raise ValueError(f"no emulator for the ESP {esp!r}") from None
        raise


def build_gateway(
    esp: EspName, options: EmulatorOptions, base_url: str
) -> tuple[Gateway, MailchimpState | KlaviyoState]:
    """The emulator's ASGI app (gateway + routes) and its state, not yet serving."""
    app = emulator_app(esp)
    gateway, state = app.build_app(
        options, CallLog(), FaultInjector(options), _key(esp, options), base_url
    )
    return gateway, state


def _key(esp: EspName, options: EmulatorOptions) -> str:
    """The API key the emulator accepts: the options' own, or the app's fixed fake key."""
    return options.api_key or str(emulator_app(esp).DEFAULT_KEY)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted connections only for
    # TCP-proto sockets, and without it every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _base_url(esp: EspName, host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    root = f"http://{shown}:{port}"
    return root + str(emulator_app(esp).BASE_PATH)


class _Server(uvicorn.Server):
    """uvicorn's server, stopping in milliseconds instead of uvicorn's 0.1 s polls: test
    suites start and stop an emulator per test."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._stop = asyncio.Event()

    def request_stop(self) -> None:
        """Call on the server's loop (``call_soon_threadsafe``)."""
        self.should_exit = True
        self._stop.set()

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=0.1)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.config.timeout_graceful_shutdown or 0)
        state = self.server_state
        while (state.connections or state.tasks) and loop.time() < deadline:
            await asyncio.sleep(0.005)
        for task in state.tasks:
            task.cancel(msg="emulator stopped")


def _config(gateway: Gateway, access_log: bool) -> uvicorn.Config:
    return uvicorn.Config(
        app=gateway,
        http="h11",
        ws="none",
        lifespan="off",
        log_config=None,
        log_level="info" if access_log else "warning",
        access_log=access_log,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=2,
    )


def _prepare(
    esp: EspName, options: EmulatorOptions, host: str, port: int
) -> tuple[socket.socket, Emulator[Any]]:
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    base_url = _base_url(esp, host, bound_port)
    try:
        gateway, state = build_gateway(esp, options, base_url)
    except BaseException:
        sock.close()
        raise
    handle: Emulator[Any] = Emulator(
        esp=esp,
        host=host,
        port=bound_port,
        base_url=base_url,
        api_key=_key(esp, options),
        state=state,
        calls=gateway.calls,
        options=options,
        faults=gateway.faults,
        gateway=gateway,
    )
    return sock, handle


@overload
def run_emulator(
    esp: Literal["mailchimp"],
    options: EmulatorOptions | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
) -> contextlib.AbstractContextManager[Emulator[MailchimpState]]: ...


@overload
def run_emulator(
    esp: Literal["klaviyo"],
    options: EmulatorOptions | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
) -> contextlib.AbstractContextManager[Emulator[KlaviyoState]]: ...


@overload
def run_emulator(
    esp: EspName,
    options: EmulatorOptions | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
) -> contextlib.AbstractContextManager[Emulator[Any]]: ...


def run_emulator(
    esp: EspName,
    options: EmulatorOptions | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
) -> contextlib.AbstractContextManager[Emulator[Any]]:
    """Serve an emulator in a background thread for the duration of a ``with`` block."""
    return _running(esp, options or EmulatorOptions(), host, port)


@contextlib.contextmanager
def _running(
    esp: EspName, options: EmulatorOptions, host: str, port: int, *, access_log: bool = False
) -> Iterator[Emulator[Any]]:
    sock, handle = _prepare(esp, options, host, port)
    server = _Server(_config(handle.gateway, access_log=access_log))
    loop_box: list[asyncio.AbstractEventLoop] = []

    async def serve() -> None:
        loop_box.append(asyncio.get_running_loop())
        await server.serve(sockets=[sock])

    thread = threading.Thread(
        target=asyncio.run, args=(serve(),), name=f"segsync-emulator-{esp}", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the {esp} emulator did not start")
            time.sleep(0.005)
        yield handle
    finally:
        if loop_box and thread.is_alive():
            # Held (timeout-fault) requests let go now instead of at the graceful timeout.
            with contextlib.suppress(RuntimeError):
                loop_box[0].call_soon_threadsafe(handle.gateway.closing.set)
                loop_box[0].call_soon_threadsafe(server.request_stop)
        server.should_exit = True
        thread.join(timeout=_START_TIMEOUT_S)
        sock.close()


def serve_forever(
    esp: EspName,
    options: EmulatorOptions,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    access_log: bool = False,
    on_ready: Callable[[Emulator[Any]], None] | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM, then stop cleanly (the CLI). ``on_ready(handle)``
    runs once the emulator accepts requests (to print the URL and key)."""
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with _running(esp, options, host, port, access_log=access_log) as handle:
            if on_ready is not None:
                on_ready(handle)
            while not stop.wait(0.5):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class ServedByName:
    """``run`` and ``serve`` of an ESP's ``EspEmulator`` (``connector/esp/<name>/emulated.py``)
    whose app is ``connector/emulator/<esp>/app.py``: a mixin, so each ESP's hooks declare
    only their name and what differs."""

    esp: ClassVar[EspName]

    def run(self, options: EmulatorOptions) -> contextlib.AbstractContextManager[Emulator[Any]]:
        """Serve in a background thread for a ``with`` block (the demo)."""
        return run_emulator(self.esp, options)

    def serve(
        self,
        options: EmulatorOptions,
        *,
        host: str,
        port: int,
        access_log: bool,
        on_ready: Callable[[Emulator[Any]], None],
    ) -> None:
        """Serve in the foreground until Ctrl-C or SIGTERM (``segsync emulator <name>``)."""
        serve_forever(
            self.esp, options, host=host, port=port, access_log=access_log, on_ready=on_ready
        )
