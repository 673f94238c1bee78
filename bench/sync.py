"""Sync benchmark: segsync against the emulators with real latency and limits.

For each ESP: an initial sync of N members, then a change of ``--change`` (1 %: that many
members leave and as many join). Printed, in one run:

- API calls vs the minimum possible for the diff (target ratio 1.00);
- wall time of the ESP phase vs its lower bound — calls × latency / concurrency, and for
  Klaviyo also each endpoint's steady rate limit (target ≤ 1.15);
- the same job done the naive way (one SDK call per member to upsert, one to tag/list,
  sequentially: what a hand-written script does), measured on a sample and scaled up, as
  a ratio of calls and of time.

    python bench/sync.py                       # 100,000 members, 50 ms latency, both ESPs
    python bench/sync.py --members 20000 --esp mailchimp
"""

from __future__ import annotations

import argparse
import math
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx

from connector.definitions.destinations import Destination
from connector.emulator.options import DEFAULT_KLAVIYO_KEY, DEFAULT_MAILCHIMP_KEY
from connector.esp.base import EspAdapter
from connector.esp.factory import adapter_for
from connector.esp.klaviyo_shapes import ENDPOINT_TIERS
from connector.reconcile.executor import DestinationExecutor
from connector.reconcile.runner import SyncOptions, run_sync
from connector.settings import KlaviyoSettings, MailchimpSettings, Settings, load_settings

AS_OF = datetime(2026, 11, 23, 12)
AUDIENCE = "bench-audience"


@dataclass
class Measure:
    calls: int
    by_route: Counter[tuple[str, str]]
    total_seconds: float
    esp_seconds: float


def build_store(path: Path, members: int, first: int) -> None:
    """N profiles; members are profiles first .. first+members-1 (one recent order each)."""
    con = duckdb.connect(str(path))
    total = members + members // 10 + 10
    con.execute(
        "CREATE OR REPLACE TABLE profiles AS SELECT 'p' || lpad(i::VARCHAR, 8, '0') AS profile_id,"
        " 'u' || i || '@example.com' AS email, TRUE AS email_consent FROM range(?) t(i)",
        [total],
    )
    con.execute(
        "CREATE OR REPLACE TABLE events AS SELECT 'p' || lpad(i::VARCHAR, 8, '0') AS profile_id,"
        " 'order_completed' AS event, TIMESTAMP '2026-11-22 00:00:00' AS ts"
        " FROM range(?, ?) t(i)",
        [first, first + members],
    )
    con.close()


def write_config(root: Path, esp: str) -> None:
    (root / "segments").mkdir(parents=True, exist_ok=True)
    mode = "tag" if esp == "mailchimp" else "list"
    (root / "segments" / "buyers.yaml").write_text(
        f"name: buyers\nrule: {{event: order_completed, within: 30d}}\n"
        f"destinations: [{{to: dest, mode: {mode}}}]\n"
    )
    target = f"{{esp: mailchimp, audience: {AUDIENCE}}}" if esp == "mailchimp" else "{esp: klaviyo}"
    (root / "destinations.yaml").write_text(f"dest: {target}\n")


@contextmanager
def network_phase() -> Iterator[list[float]]:
    """Wall time inside the executor's ESP steps (objects, contacts, batches, segments)."""
    spent: list[float] = []
    names = ("ensure_objects", "ensure_contacts", "run_batches", "write_segments")
    originals = {name: getattr(DestinationExecutor, name) for name in names}

    def wrap(original: Any) -> Any:
        def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(self, *args, **kwargs)
            finally:
                spent.append(time.perf_counter() - start)

        return timed

    for name, original in originals.items():
        setattr(DestinationExecutor, name, wrap(original))
    try:
        yield spent
    finally:
        for name, original in originals.items():
            setattr(DestinationExecutor, name, original)


def measured_sync(settings: Settings) -> Measure:
    adapters: list[EspAdapter] = []

    def factory(destination: Destination, conf: Settings) -> EspAdapter:
        adapter = adapter_for(destination, conf)
        adapters.append(adapter)
        return adapter

    with network_phase() as spent:
        start = time.perf_counter()
        summary = run_sync(
            settings,
            options=SyncOptions(as_of=AS_OF, force=True, trigger="bench"),
            adapter_factory=factory,
        )
        total = time.perf_counter() - start
    if summary.exit_code:
        sys.exit(f"sync failed: {summary.status} {summary.errors}")
    routes: Counter[tuple[str, str]] = Counter()
    for adapter in adapters:
        for (method, route, _), count in adapter.calls.items():
            routes[(method, route)] += count
    return Measure(sum(routes.values()), routes, total, sum(spent))


@contextmanager
def emulator_process(esp: str, latency_ms: float) -> Iterator[tuple[str, str]]:
    """The emulator in its own process, so it does not share segsync's interpreter."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "connector", "emulator", esp, "--port", str(port),
               "--latency", str(latency_ms), "--audience", AUDIENCE,
               "--import-delay", "0.2"]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if esp == "mailchimp":
        base, key, probe = f"http://127.0.0.1:{port}/3.0", DEFAULT_MAILCHIMP_KEY, "/ping"
    else:
        base, key, probe = f"http://127.0.0.1:{port}", DEFAULT_KLAVIYO_KEY, "/api/accounts"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(base + probe, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        yield base, key
    finally:
        proc.terminate()
        proc.wait(10)


def minimum_calls(esp: str, joined: int, left: int, *, first: bool) -> int:
    """The fewest calls that can carry this diff, with each ESP's batch limits."""
    if esp == "mailchimp":
        # contacts upserted in 500s, tag adds and removes in 500s, the tag created once
        return math.ceil(joined / 500) * 2 + math.ceil(left / 500) + (1 if first else 0)
    # Klaviyo: bulk imports of 10,000 (polled at least once), profile ids looked up in
    # 100s, list adds/removes in 1000s, the list created once
    imports = math.ceil(joined / 10_000)
    return (
        imports * 2
        + math.ceil(joined / 100)
        + math.ceil(joined / 1000)
        + math.ceil(left / 1000)
        + (1 if first else 0)
    )


def replay_floor(base: str, key: str, members: int, concurrency: int, tag: str) -> float:
    """The practical floor for this server: a raw httpx client sending the same batch
    requests (500 new contacts, then 500 tag adds each) perfectly in parallel."""
    from concurrent.futures import ThreadPoolExecutor

    client = httpx.Client(
        auth=("bench", key), timeout=120, limits=httpx.Limits(max_connections=concurrency)
    )
    emails = [f"floor{i}@example.com" for i in range(members)]
    batches = [emails[i : i + 500] for i in range(0, members, 500)]
    created = client.post(
        f"{base}/lists/{AUDIENCE}/segments", json={"name": tag, "static_segment": []}
    )
    tag_id = created.json()["id"]
    fields = {"fields": "errors,new_members.email_address,members_added.email_address"}

    def upsert(batch: list[str]) -> None:
        body = {"members": [{"email_address": e, "status": "subscribed"} for e in batch]}
        client.post(
            f"{base}/lists/{AUDIENCE}", json=body | {"update_existing": False}, params=fields
        )

    def tag_batch(batch: list[str]) -> None:
        client.post(
            f"{base}/lists/{AUDIENCE}/segments/{tag_id}",
            json={"members_to_add": batch},
            params=fields,
        )

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(upsert, batches))
        list(pool.map(tag_batch, batches))
    elapsed = time.perf_counter() - start
    client.close()
    return elapsed


CONTACT_ROUTES = {
    "/lists/{list_id}",
    "/lists/{list_id}/members",
    "/api/profiles",
    "/api/profile-bulk-import-jobs",
    "/api/profile-bulk-import-jobs/{job_id}",
}
MEMBERSHIP_ROUTES = {
    "/lists/{list_id}/segments/{segment_id}",
    "/api/lists/{id}/relationships/profiles",
}


def time_bound(esp: str, measure: Measure, latency: float, concurrency: int) -> float:
    """Calls x latency / concurrency, but at least one round trip per dependent phase
    (contacts must exist before they join a tag/list), and Klaviyo's steady limits."""
    routes = {route for _, route in measure.by_route}
    rounds = bool(routes & CONTACT_ROUTES) + bool(routes & MEMBERSHIP_ROUTES)
    bound = max(measure.calls * latency / concurrency, rounds * latency)
    if esp == "klaviyo":
        for (method, route), count in measure.by_route.items():
            tier = ENDPOINT_TIERS.get((method, route.removeprefix("")))
            if tier is not None and count > tier.burst:
                bound = max(bound, (count - tier.burst) * 60.0 / tier.steady)
    return bound


def naive(esp: str, base: str, key: str, sample: int) -> float:
    """Seconds per member for the naive script (2 sequential SDK calls per member)."""
    if esp == "mailchimp":
        import hashlib

        import mailchimp_marketing

        client = mailchimp_marketing.Client()
        client.set_config({"api_key": key, "server": "us1"})
        client.api_client.host = base
        start = time.perf_counter()
        for i in range(sample):
            address = f"naive{i}@example.com"
            digest = hashlib.md5(address.encode()).hexdigest()
            client.lists.set_list_member(
                AUDIENCE, digest, {"email_address": address, "status_if_new": "subscribed"}
            )
            client.lists.update_list_member_tags(
                AUDIENCE, digest, {"tags": [{"name": "naive", "status": "active"}]}
            )
        return (time.perf_counter() - start) / sample
    from klaviyo_api import KlaviyoAPI

    api = KlaviyoAPI(key, max_retries=20, max_delay=2, test_host=base)
    listing = api.Lists.create_list({"data": {"type": "list", "attributes": {"name": "naive"}}})
    list_id = listing.data.id
    start = time.perf_counter()
    for i in range(sample):
        created = api.Profiles.create_or_update_profile(
            {"data": {"type": "profile", "attributes": {"email": f"naive{i}@example.com"}}}
        )
        api.Lists.add_profiles_to_list(
            list_id, {"data": [{"type": "profile", "id": created.data.id}]}
        )
    per_member = (time.perf_counter() - start) / sample
    # the naive script is bound by the list endpoint's steady limit beyond its burst
    tier = ENDPOINT_TIERS[("POST", "/api/lists/{id}/relationships/profiles")]
    return max(per_member, 60.0 / tier.steady)


def bench(esp: str, members: int, change: float, latency_ms: float, sample: int) -> None:
    latency = latency_ms / 1000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = root / "store.duckdb"
        build_store(store, members, first=0)
        write_config(root / "config", esp)
        with emulator_process(esp, latency_ms) as (url, key):
            base = load_settings(
                config_dir=root / "config",
                source_url=f"duckdb:///{store}",
                state_path=root / "state.db",
            )
            if esp == "mailchimp":
                settings = base.model_copy(
                    update={"mailchimp": MailchimpSettings(api_key=key, base_url=url)}
                )
                concurrency = settings.mailchimp.max_connections
            else:
                settings = base.model_copy(
                    update={"klaviyo": KlaviyoSettings(api_key=key, base_url=url)}
                )
                concurrency = settings.klaviyo.max_connections
            moved = max(1, int(members * change))
            rows = []
            floor = (
                replay_floor(url, key, members, concurrency, "floor") if esp == "mailchimp" else 0.0
            )
            initial = measured_sync(settings)
            rows.append(
                ("initial", members, 0, initial, minimum_calls(esp, members, 0, first=True))
            )
            build_store(store, members, first=moved)  # `moved` leave at the start, join at the end
            changed = measured_sync(settings)
            rows.append(
                ("1% change", moved, moved, changed, minimum_calls(esp, moved, moved, first=False))
            )
            per_member = naive(esp, url, key, sample)
        print(f"\n{esp}: {members:,} members, latency {latency_ms:g} ms, concurrency {concurrency}")
        print(
            f"{'run':10} {'+':>7} {'-':>6} {'calls':>6} {'min':>6} {'ratio':>6} "
            f"{'esp s':>7} {'bound s':>8} {'ratio':>6} {'total s':>8} "
            f"{'naive calls':>11} {'naive s':>9} {'x calls':>8} {'x time':>7}"
        )
        for name, joined, left, m, least in rows:
            bound = time_bound(esp, m, latency, concurrency)
            if name == "initial":
                bound = max(bound, floor)
            naive_calls = 2 * joined + left
            naive_seconds = per_member * (joined + left)
            print(
                f"{name:10} {joined:>7,} {left:>6,} {m.calls:>6} {least:>6} "
                f"{m.calls / least:>6.2f} "
                f"{m.esp_seconds:>7.2f} {bound:>8.2f} {m.esp_seconds / bound:>6.2f} "
                f"{m.total_seconds:>8.2f} {naive_calls:>11,} {naive_seconds:>9.0f} "
                f"{naive_calls / m.calls:>8.0f} {naive_seconds / m.total_seconds:>7.0f}"
            )
        routes = sorted(rows[1][3].by_route.items())
        print("calls by route (change run): " + ", ".join(f"{m} {r} {n}" for (m, r), n in routes))
        print(f"naive: {per_member * 1000:.0f} ms per member, measured on {sample} members")
        if esp == "mailchimp":
            print(
                f"bound = max(calls x latency / concurrency, {floor:.2f} s for a raw parallel "
                "client replaying the same batches against this emulator in this run)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--change", type=float, default=0.01)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--esp", choices=["mailchimp", "klaviyo", "both"], default="both")
    parser.add_argument("--naive-sample", type=int, default=200)
    args = parser.parse_args()
    for esp in ["mailchimp", "klaviyo"] if args.esp == "both" else [args.esp]:
        bench(esp, args.members, args.change, args.latency_ms, args.naive_sample)


if __name__ == "__main__":
    main()
