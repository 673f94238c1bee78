"""Adapters from destinations and settings: keys from env or the secrets dir, base URLs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from connector.errors import ConfigError
from connector.esp import EspAdapter
from connector.esp.klaviyo import capabilities as klaviyo_caps
from connector.esp.klaviyo import display as klaviyo_display
from connector.esp.klaviyo import native as klaviyo_native
from connector.esp.klaviyo.adapter import KlaviyoAdapter
from connector.esp.klaviyo.destination import KlaviyoDestination
from connector.esp.mailchimp import capabilities as mailchimp_caps
from connector.esp.mailchimp import display as mailchimp_display
from connector.esp.mailchimp import native as mailchimp_native
from connector.esp.mailchimp.adapter import MailchimpAdapter
from connector.esp.mailchimp.destination import MailchimpDestination
from connector.esp.registry import ESPS, adapter_for
from connector.plan.model import NativeLiteral, NativeSegment
from connector.settings import load_settings
from tests.esp.conftest import KLAVIYO_KEY, MAILCHIMP_KEY

MAILCHIMP = MailchimpDestination(esp="mailchimp", audience="a1b2c3d4e5")
KLAVIYO = KlaviyoDestination(esp="klaviyo")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("SEGSYNC_SECRETS_DIR", str(tmp_path / "secrets"))
    for name in (
        "SEGSYNC_MAILCHIMP__API_KEY",
        "SEGSYNC_MAILCHIMP__BASE_URL",
        "SEGSYNC_KLAVIYO__API_KEY",
        "SEGSYNC_KLAVIYO__BASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)


def test_registry_names_both_esps() -> None:
    assert {name: spec.name for name, spec in ESPS.items()} == {
        "mailchimp": "mailchimp",
        "klaviyo": "klaviyo",
    }


def test_mailchimp_from_env_with_base_url_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGSYNC_MAILCHIMP__API_KEY", MAILCHIMP_KEY)
    monkeypatch.setenv("SEGSYNC_MAILCHIMP__BASE_URL", "http://127.0.0.1:8765/3.0")
    monkeypatch.setenv("SEGSYNC_MAILCHIMP__MAX_CONNECTIONS", "4")
    with adapter_for(MAILCHIMP, load_settings()) as adapter:
        assert isinstance(adapter, MailchimpAdapter)
        assert isinstance(adapter, EspAdapter)
        assert adapter.base_url == "http://127.0.0.1:8765/3.0"
        assert adapter.audience_id == "a1b2c3d4e5"
        assert adapter.limits.max_concurrency == 4
        assert adapter.limits.max_members_per_call == 500


def test_mailchimp_key_from_the_secrets_dir_sets_the_data_centre(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "segsync_mailchimp__api_key").write_text(MAILCHIMP_KEY)
    adapter = adapter_for(MAILCHIMP, load_settings())
    assert isinstance(adapter, MailchimpAdapter)
    assert adapter.base_url == "https://us7.api.mailchimp.com/3.0"
    adapter.close()


def test_klaviyo_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGSYNC_KLAVIYO__API_KEY", KLAVIYO_KEY)
    monkeypatch.setenv("SEGSYNC_KLAVIYO__BASE_URL", "http://127.0.0.1:8766/")
    adapter = adapter_for(KLAVIYO, load_settings())
    assert isinstance(adapter, KlaviyoAdapter)
    assert adapter.base_url == "http://127.0.0.1:8766"
    assert adapter.limits.max_members_per_call == 1000
    assert adapter.limits.max_contacts_per_upsert == 10_000
    adapter.close()


@pytest.mark.parametrize(
    ("destination", "variable"), [(MAILCHIMP, "MAILCHIMP"), (KLAVIYO, "KLAVIYO")]
)
def test_a_missing_key_is_a_config_error(
    destination: MailchimpDestination | KlaviyoDestination, variable: str
) -> None:
    with pytest.raises(ConfigError, match=f"SEGSYNC_{variable}__API_KEY"):
        adapter_for(destination, load_settings())


def test_a_mailchimp_key_without_data_centre_needs_a_base_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SEGSYNC_MAILCHIMP__API_KEY", "nodatacentre")
    with pytest.raises(ConfigError, match="SEGSYNC_MAILCHIMP__BASE_URL") as caught:
        adapter_for(MAILCHIMP, load_settings())
    assert "nodatacentre" not in str(caught.value)


def test_the_registry_loads_no_sdk_and_no_emulator() -> None:
    """Specs reach the adapters and emulators through loader functions: importing the
    registry (every command that reads destinations.yaml does) loads neither an ESP SDK nor
    its HTTP stack nor the emulator's web server."""
    probe = "import sys, connector.esp.registry; print(' '.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = {name.split(".")[0] for name in done.stdout.split()}
    heavy = {"mailchimp_marketing", "klaviyo_api", "httpx", "uvicorn", "starlette"}
    assert not loaded & heavy
    assert not {m for m in done.stdout.split() if m.startswith("connector.emulator")}


def test_the_registry_loads_no_planner_and_no_adapter_types() -> None:
    """Reading destinations.yaml needs the destination models only: the capabilities,
    native segments and their display (with the planner's models) and the adapters' base
    types load when a command plans or syncs."""
    probe = "import sys, connector.esp.registry; print(' '.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = set(done.stdout.split())
    assert not {m for m in loaded if m.startswith("connector.plan")}
    lazy = {"base", "emulated"} | {
        f"{esp}.{part}" for esp in ESPS for part in ("capabilities", "native", "display")
    }
    assert not {f"connector.esp.{name}" for name in lazy} & loaded


def test_the_specs_reach_what_loads_on_first_use() -> None:
    """The spec's capabilities, native rendering and display are the ESP modules' own."""
    native = NativeSegment("vip", ((NativeLiteral(kind="part", part="vip-1"),),))
    cases = [
        (MAILCHIMP, mailchimp_caps, mailchimp_native, mailchimp_display),
        (KLAVIYO, klaviyo_caps, klaviyo_native, klaviyo_display),
    ]
    for destination, caps, rendering, display in cases:
        spec = ESPS[destination.esp]
        assert spec.capabilities(destination) == caps.capabilities(destination)
        rendered = spec.render_native(native, {"vip-1": "42"})
        assert rendered == rendering.render_native(native, {"vip-1": "42"})
        assert spec.native_lines("vip", rendered) == display.native_lines("vip", rendered)
