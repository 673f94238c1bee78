"""``segsync emulator``: flags become options, the URL and key are printed, SIGTERM stops
it cleanly with exit 0, and bad flags are input errors (exit 1)."""

from __future__ import annotations

import signal
import socket
from typing import Any

import httpx
import pytest

from connector.cli import cmd_emulator, main
from connector.emulator import Emulator
from connector.emulator.options import DEFAULT_KLAVIYO_KEY, DEFAULT_MAILCHIMP_KEY
from tests.emulator.conftest import SSL_CONTEXT


def run(args: list[str]) -> int:
    with pytest.raises(SystemExit) as stopped:
        main(args)
    return stopped.value.code if isinstance(stopped.value.code, int) else 1


def test_serves_until_sigterm_with_the_flags_applied(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: dict[str, Any] = {}
    announce = cmd_emulator._announce

    def probe(esp: str) -> Any:
        printer = announce(esp)

        def ready(handle: Emulator[Any]) -> None:
            printer(handle)
            with httpx.Client(auth=("u", handle.api_key), verify=SSL_CONTEXT) as client:
                seen["fields"] = client.get(f"{handle.base_url}/lists/a1/merge-fields").json()
                seen["other"] = client.get(f"{handle.base_url}/lists/a2").status_code
            seen["options"] = handle.options
            signal.raise_signal(signal.SIGTERM)  # what `kill` or Ctrl-C would do

        return ready

    monkeypatch.setattr(cmd_emulator, "_announce", probe)
    code = run(
        [
            "emulator",
            "mailchimp",
            "--audience",
            "a1",
            "--audience",
            "a2",
            "--merge-field",
            "STATE",
            "--latency",
            "5",
            "--seed",
            "9",
            "--fault-phase",
            "after",
            "--max-connections",
            "3",
        ]
    )
    assert code == 0
    assert [f["tag"] for f in seen["fields"]["merge_fields"]][-1] == "STATE"
    assert seen["other"] == 200
    options = seen["options"]
    assert (options.latency_ms, options.seed, options.fault_phase) == (5.0, 9, "after")
    assert options.max_connections == 3
    out = capsys.readouterr().out
    assert "base_url: http://127.0.0.1:" in out and f"api_key: {DEFAULT_MAILCHIMP_KEY}" in out
    assert "export SEGSYNC_MAILCHIMP__BASE_URL=" in out
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored


def test_default_keys_look_like_the_real_ones() -> None:
    head, _, dc = DEFAULT_MAILCHIMP_KEY.partition("-")
    assert len(head) == 32 and int(head, 16) >= 0 and dc == "us1"
    assert DEFAULT_KLAVIYO_KEY.startswith("pk_") and len(DEFAULT_KLAVIYO_KEY) == 37


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["emulator", "hubspot"], "unknown ESP 'hubspot'"),
        (["emulator", "klaviyo", "--fault-rate-5xx", "1.5"], "between 0 and 1"),
        (["emulator", "klaviyo", "--fault-rate-5xx", "0.6", "--fault-rate-reset", "0.6"], "add up"),
        (["emulator", "mailchimp", "--fault-phase", "during"], "--fault-phase"),
    ],
)
def test_bad_flags_are_input_errors(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(args) == 1
    assert message in capsys.readouterr().err


def test_a_busy_port_is_an_input_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert run(["emulator", "klaviyo", "--port", str(port)]) == 1
    assert "cannot listen on 127.0.0.1" in capsys.readouterr().err
