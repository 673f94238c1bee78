"""``segsync emulator --access-log`` as a real process: every request is one line on stderr."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx

from connector.emulator.options import DEFAULT_MAILCHIMP_KEY
from tests.lockfile import ROOT


def test_access_log_prints_each_request_on_stderr() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "connector", "emulator", "mailchimp", "--access-log"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = ""
        for line in process.stdout:
            if line.startswith("base_url: "):
                base_url = line.split(" ", 1)[1].strip()
                break
        assert base_url.startswith("http://127.0.0.1:")
        with httpx.Client(auth=("u", DEFAULT_MAILCHIMP_KEY)) as client:
            assert client.get(f"{base_url}/lists/demo-audience").status_code == 200
            assert client.get(f"{base_url}/lists/nope").status_code == 404
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    requests = [line for line in err.splitlines() if "GET /3.0/lists/" in line]
    assert len(requests) == 2, err
    assert '"GET /3.0/lists/demo-audience HTTP/1.1" 200' in requests[0]
    assert '"GET /3.0/lists/nope HTTP/1.1" 404' in requests[1]
    assert DEFAULT_MAILCHIMP_KEY not in err
