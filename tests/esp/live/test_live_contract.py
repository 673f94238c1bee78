"""The contract scenario against real accounts (marker ``live``): confirms what the
emulators assume. Skipped unless the account is given:

    SEGSYNC_LIVE_MAILCHIMP_API_KEY, SEGSYNC_LIVE_MAILCHIMP_AUDIENCE   (a sandbox audience)
    SEGSYNC_LIVE_KLAVIYO_API_KEY                                      (a test account)
    SEGSYNC_LIVE_EMAIL   a real mailbox whose domain accepts plus-addressing, e.g.
                         you@yourdomain.com (Mailchimp refuses example.com as fake);
                         the test uses you+segsync-<run>-<n>@yourdomain.com

    pytest -m live tests/esp/live -v

It syncs a fresh ``segsync:live-<run>`` tag/list, checks membership, consent and the
published contracts, changes the data, syncs again, and cleans up what it created (the
tag/list; Mailchimp contacts it created are permanently deleted; Klaviyo profiles it
created are left without consent, as Klaviyo only deletes profiles through a privacy
request). See connector/esp/README.md.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import httpx
import pytest
from pydantic import SecretStr

from connector.definitions.loader import load_definitions
from connector.esp.base import EspAdapter
from connector.esp.klaviyo.configuration import KlaviyoSettings
from connector.esp.mailchimp.adapter import mailchimp_base_url, subscriber_hash
from connector.esp.mailchimp.configuration import MailchimpSettings
from connector.esp.registry import adapter_for, destination_models
from connector.reconcile.runner import SyncOptions, run_sync
from connector.settings import Settings, load_settings
from tests.conftest import make_store, write_config

pytestmark = pytest.mark.live

AS_OF = datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _need(*names: str) -> dict[str, str]:
    missing = [n for n in names if not os.environ.get(n)]
    if missing:
        pytest.skip(f"live test: set {', '.join(missing)} to run it against a real account")
    return {n: os.environ[n] for n in names}


def _addresses(base: str, run: str, count: int) -> list[str]:
    local, _, domain = base.partition("@")
    return [f"{local}+segsync-{run}-{n}@{domain}".lower() for n in range(count)]


def _scenario(
    tmp_path: Path, esp: str, settings: Settings, dest_yaml: str
) -> tuple[Settings, list[str], str, Path]:
    run = uuid.uuid4().hex[:8]
    people = _addresses(os.environ["SEGSYNC_LIVE_EMAIL"], run, 4)
    # 0: consent → created; 1: no consent → never created; 2/3: one email, consents differ
    rows = [
        ("p0", people[0], True, "CA", 30, 1.0, False, AS_OF, None, None),
        ("p1", people[1], False, "NY", 30, 1.0, False, AS_OF, None, None),
        ("p2", people[2], True, None, 30, 1.0, False, AS_OF, None, None),
        ("p3", people[2].upper(), False, "TX", 30, 1.0, False, AS_OF, None, None),
    ]
    orders = [(p[0], "order_completed", AS_OF - timedelta(days=1), "tv", 1.0, None) for p in rows]
    store = tmp_path / "live.duckdb"
    make_store(rows, orders, path=store).close()
    name = f"live-{run}"
    mode = "tag" if esp == "mailchimp" else "list"
    write_config(
        tmp_path / "config",
        {name: f"name: {name}\nrule: {{event: order_completed, within: 7d}}\n"
         f"destinations: [{{to: live, mode: {mode}}}]\n"},
        destinations=dest_yaml,
    )  # fmt: skip
    configured = settings.model_copy(
        update={
            "config_dir": tmp_path / "config",
            "source_url": f"duckdb:///{store}",
            "state_path": tmp_path / "state.db",
        }
    )
    return configured, people, f"segsync:{name}", store


def _check(settings: Settings, people: list[str], group_name: str, store: Path) -> EspAdapter:
    first = run_sync(settings, options=SyncOptions(as_of=AS_OF))
    assert first.status == "ok", first.errors
    destination = load_definitions(settings.config_dir, destination_models()).destinations["live"]
    adapter = adapter_for(destination, settings)
    group = next(o for o in adapter.list_owned() if o.name.lower() == group_name.lower())
    members = set(adapter.iter_members(group))
    assert people[0] in members
    assert people[1] not in members and people[2] not in members  # no consent: not created
    con = duckdb.connect(str(store))
    con.execute("DELETE FROM events WHERE profile_id = 'p0'")
    con.close()
    second = run_sync(settings, options=SyncOptions(as_of=AS_OF))
    assert second.status == "ok", second.errors
    assert people[0] not in set(adapter.iter_members(group))
    again = run_sync(settings, options=SyncOptions(as_of=AS_OF))
    assert again.status == "ok" and again.total_api_calls == 1  # only the key check
    return adapter


def test_mailchimp_live(tmp_path: Path) -> None:
    env = _need(
        "SEGSYNC_LIVE_MAILCHIMP_API_KEY", "SEGSYNC_LIVE_MAILCHIMP_AUDIENCE", "SEGSYNC_LIVE_EMAIL"
    )
    key, audience = env["SEGSYNC_LIVE_MAILCHIMP_API_KEY"], env["SEGSYNC_LIVE_MAILCHIMP_AUDIENCE"]
    base = load_settings(config_dir=tmp_path).model_copy(
        update={"mailchimp": MailchimpSettings(api_key=SecretStr(key))}
    )
    dest = f"live: {{esp: mailchimp, audience: {audience}}}\n"
    settings, people, group_name, store = _scenario(tmp_path, "mailchimp", base, dest)
    adapter = None
    try:
        adapter = _check(settings, people, group_name, store)
    finally:
        root = mailchimp_base_url(key, None)
        with httpx.Client(auth=("segsync", key), timeout=60) as client:
            for seg in (
                client.get(f"{root}/lists/{audience}/segments", params={"count": 1000})
                .json()
                .get("segments", [])
            ):
                if seg["name"].lower() == group_name.lower():
                    client.delete(f"{root}/lists/{audience}/segments/{seg['id']}")
            for address in people:
                client.post(
                    f"{root}/lists/{audience}/members/{subscriber_hash(address)}"
                    "/actions/delete-permanent"
                )
        if adapter is not None:
            adapter.close()


def test_klaviyo_live(tmp_path: Path) -> None:
    env = _need("SEGSYNC_LIVE_KLAVIYO_API_KEY", "SEGSYNC_LIVE_EMAIL")
    key = env["SEGSYNC_LIVE_KLAVIYO_API_KEY"]
    base = load_settings(config_dir=tmp_path).model_copy(
        update={"klaviyo": KlaviyoSettings(api_key=SecretStr(key))}
    )
    dest = "live: {esp: klaviyo}\n"
    settings, people, group_name, store = _scenario(tmp_path, "klaviyo", base, dest)
    adapter = None
    try:
        adapter = _check(settings, people, group_name, store)
    finally:
        headers = {"Authorization": f"Klaviyo-API-Key {key}", "revision": "2026-10-15"}
        with httpx.Client(headers=headers, timeout=60) as client:
            found = client.get(
                "https://a.klaviyo.com/api/lists",
                params={"filter": f'equals(name,"{group_name}")'},
            ).json()
            for item in found.get("data", []):
                client.delete(f"https://a.klaviyo.com/api/lists/{item['id']}")
        if adapter is not None:
            adapter.close()
