"""The server finds an ESP's emulator app by its ``esp:`` name: nothing in the server lists
the ESPs, so an emulator is one package under ``connector/emulator/<name>/``."""

from __future__ import annotations

import httpx
import pytest

from connector.emulator import EmulatorOptions, run_emulator
from connector.emulator.klaviyo import app as klaviyo_app
from connector.emulator.mailchimp import app as mailchimp_app
from connector.emulator.server import build_gateway, emulator_app


@pytest.mark.parametrize("esp", ["mailchimp", "klaviyo"])
def test_an_emulator_is_its_apps_module(esp: str) -> None:
    module = {"mailchimp": mailchimp_app, "klaviyo": klaviyo_app}[esp]
    assert emulator_app(esp) is module
    with run_emulator(esp, EmulatorOptions(seed=1)) as emu:
        assert emu.base_url == f"http://127.0.0.1:{emu.port}{module.BASE_PATH}"
        assert emu.api_key == module.DEFAULT_KEY


def test_the_options_key_overrides_the_apps_default() -> None:
    with run_emulator("mailchimp", EmulatorOptions(seed=1, api_key="abc-us9")) as emu:
        assert emu.api_key == "abc-us9"
        ping = httpx.get(f"{emu.base_url}/ping", auth=("u", "abc-us9"))
        assert ping.status_code == 200
        refused = httpx.get(f"{emu.base_url}/ping", auth=("u", mailchimp_app.DEFAULT_KEY))
        assert refused.status_code == 401


def test_an_esp_without_an_emulator_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="no emulator for the ESP 'brevo'"):
        build_gateway("brevo", EmulatorOptions(), "http://127.0.0.1:1")
