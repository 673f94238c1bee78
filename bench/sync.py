"""Sync benchmark: segsync against the emulators with real latency and limits.

For each ESP: an initial sync of N members, then a change of ``--change`` (1 %: that many
members leave and as many join; on Mailchimp as many staying members also withdraw consent
and change a mapped field, so their PATCHes take the one ``POST /batches`` path), a no-op
resync, and a "steady 1%" row: another such change synced as a new segsync process would
(no processing times learned in this process; the same state store), what a daemon's later
runs cost. Printed, in one run:

- API calls vs the minimum the APIs' bulk capabilities allow for the diff (computed from
  the published limits, not from segsync's plan; target ≤ 1.05);
- wall time of the ESP phase vs its lower bound — the minimum's calls × latency /
  concurrency, one round trip per dependent phase, Klaviyo's import job time and steady
  rate limits (target ≤ 1.15);
- a no-op resync: its writes (target 0);
- the same job done the naive way (one SDK call per member to upsert, one to tag/list,
  sequentially: what a hand-written script does), measured on a sample and scaled up, as
  a ratio of calls and of time.

    python bench/sync.py                       # 100,000 members, 50 ms latency, both ESPs
    python bench/sync.py --members 20000 --esp mailchimp
    python bench/sync.py --repeat 5            # median and min of 5 runs (a shared machine)
    python bench/sync.py --budget-overhead --members 20000 --repeat 5 --esp mailchimp
        # the shared rate budget's cost: each run done with and without it (paired, order
        # alternating), ESP-phase wall time ratio and the budget store's transactions
"""

from __future__ import annotations

import argparse
import hashlib
import math
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import httpx
import mailchimp_marketing
from klaviyo_api import KlaviyoAPI

from connector.definitions.destinations import Destination
from connector.emulator.options import DEFAULT_KLAVIYO_KEY, DEFAULT_MAILCHIMP_KEY
from connector.esp.base import EspAdapter
from connector.esp.klaviyo.configuration import KlaviyoSettings
from connector.esp.klaviyo.shapes import ENDPOINT_TIERS
from connector.esp.mailchimp.configuration import MailchimpSettings
from connector.esp.processing_times import reset_processing_times
from connector.esp.registry import adapter_for
from connector.reconcile.budget_db import budget_for, close_budgets
from connector.reconcile.executor import DestinationExecutor
from connector.reconcile.runner import SyncOptions, run_sync
from connector.settings import Settings, load_settings

AS_OF = datetime(2026, 11, 23, 12)
AUDIENCE = "bench-audience"


@dataclass
class Measure:
    calls: int
    by_route: Counter[tuple[str, str]]
    total_seconds: float
    esp_seconds: float


def build_store(
    path: Path, members: int, first: int, guarded: range = range(0), name: str = "Name"
) -> None:
    """N profiles; members are profiles first .. first+members-1 (one recent order each).
    ``guarded``: profiles without consent whose first name is set (``name`` and the
    number; NULL for the others): members already in the ESP whose field changed, which a
    sync may not create."""
    con = duckdb.connect(str(path))
    total = members + members // 10 + 10
    con.execute(
        "CREATE OR REPLACE TABLE profiles AS SELECT 'p' || lpad(i::VARCHAR, 8, '0') AS profile_id,"
        " 'u' || i || '@example.com' AS email, i NOT BETWEEN ? AND ? AS email_consent,"
        " CASE WHEN i BETWEEN ? AND ? THEN ? || i END AS first_name FROM range(?) t(i)",
        [guarded.start, guarded.stop - 1, guarded.start, guarded.stop - 1, name, total],
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
    target = (
        f"{{esp: mailchimp, audience: {AUDIENCE}, fields: {{first_name: FNAME}}}}"
        if esp == "mailchimp"
        else "{esp: klaviyo}"
    )
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


def measured_sync(settings: Settings, *, budget: bool = False) -> Measure:
    """One sync; ``budget``: through the shared rate budget beside the state (as
    ``segsync sync`` does), else the in-process gates only."""
    adapters: list[EspAdapter] = []

    def factory(destination: Destination, conf: Settings) -> EspAdapter:
        shared = budget_for(conf) if budget else None
        adapter = adapter_for(destination, conf, budget=shared)
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
               "--import-delay", str(IMPORT_DELAY_S)]  # fmt: skip
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


IMPORT_DELAY_S = 0.2  # the emulator's bulk-import job duration in this benchmark


def minimum_calls(esp: str, joined: int, left: int, *, first: bool, guarded: int = 0) -> int:
    """The fewest calls the ESP's API can carry this diff with, from its bulk capabilities
    (not from segsync's plan). New members are new contacts (they must be created);
    ``guarded`` existing contacts that may not be created (no consent) get new field values.

    Mailchimp: contacts upserted 500 per ``POST /lists/{id}``; one ``POST …/segments/{id}``
    carries 500 adds *and* 500 removes; the tag created once. A contact that may not be
    created cannot go in an upsert (any member of it may be created): its fields go by
    ``PATCH …/members/{hash}``, one each, or all in one ``POST /batches`` (no documented
    limit on operations) that needs at least one poll and the results download: at most 3.
    Klaviyo: one bulk import job per 10,000 profiles carries the list
    (``relationships.lists``); the jobs need polling, and one ``GET
    /api/profile-bulk-import-jobs`` reports on 100 jobs (at least one poll: a job is never
    done when accepted); a removal needs profile ids, which only a look-up by email gives
    (100 per ``GET /api/profiles``), then 1000 per ``DELETE …/relationships/profiles``; the
    list created once, after one read of the lists (``KLAVIYO_LIST_READ``).
    """
    if esp == "mailchimp":
        tag_calls = max(math.ceil(joined / 500), math.ceil(left / 500))
        patches = min(guarded, 3)
        return math.ceil(joined / 500) + tag_calls + patches + (1 if first else 0)
    imports = math.ceil(joined / 10_000)
    polls = math.ceil(imports / 100)
    made = 1 + KLAVIYO_LIST_READ if first else 0
    return imports + polls + math.ceil(left / 100) + math.ceil(left / 1000) + made


#: a first run that knows no state reads the account's lists before creating its own:
#: Klaviyo allows two lists of one name and ``POST /api/lists`` has no idempotency key,
#: so a blind create can make a duplicate (a retried or repeated first run)
KLAVIYO_LIST_READ = 1
KLAVIYO_LIST_READ_WHY = (
    "klaviyo initial minimum includes 1 GET /api/lists: a first run with no state must look "
    "for its list before creating it (Klaviyo allows duplicate list names, and POST "
    "/api/lists has no idempotent form); without it the minimum would be {bare}"
)


def replay_floor(
    esp: str,
    base: str,
    key: str,
    joined: int,
    left: int,
    concurrency: int,
    *,
    first: bool,
    guarded: int = 0,
) -> float:
    """The practical floor on this machine: a raw httpx client sending the minimum's own
    requests (fresh addresses, so the same server work) as parallel as the ESP allows,
    with nothing else to do: the emulator's service time, which the latency bound omits."""
    tag = f"floor-{time.monotonic_ns()}"
    emails = [f"{tag}-{i}@example.com" for i in range(joined)]
    if esp == "mailchimp":
        return _mailchimp_floor(base, key, tag, emails, left, concurrency, first, guarded)
    return _klaviyo_floor(base, key, tag, emails, left, concurrency, first)


def _mailchimp_floor(
    base: str,
    key: str,
    tag: str,
    emails: list[str],
    left: int,
    concurrency: int,
    first: bool,
    guarded: int,
) -> float:
    joined = len(emails)
    gone = emails[:left]  # members who leave: present first, outside the timing
    kept = [f"{tag}-kept-{i}@example.com" for i in range(guarded)]  # no consent, fields change
    client = httpx.Client(
        auth=("bench", key), timeout=120, limits=httpx.Limits(max_connections=concurrency)
    )
    fields = {"fields": "errors,new_members.email_address,members_added.email_address"}

    def make_tag(name: str) -> str:
        body = {"name": name, "static_segment": []}
        made = client.post(f"{base}/lists/{AUDIENCE}/segments", json=body)
        return f"{base}/lists/{AUDIENCE}/segments/{made.json()['id']}"

    def upsert(batch: list[str]) -> None:
        members = [{"email_address": e, "status_if_new": "subscribed"} for e in batch]
        body = {"members": members, "update_existing": True}
        client.post(f"{base}/lists/{AUDIENCE}", json=body, params=fields)

    def tag_batch(url: str, pair: tuple[list[str], list[str]]) -> None:
        client.post(
            url, json={"members_to_add": pair[0], "members_to_remove": pair[1]}, params=fields
        )

    def patch_batch() -> None:
        """The guarded contacts' fields: one POST /batches, polled, results read."""
        operations = [
            {
                "method": "PATCH",
                "path": f"/lists/{AUDIENCE}/members/{hashlib.md5(e.encode()).hexdigest()}",
                "body": '{"merge_fields":{"FNAME":"New"}}',
                "operation_id": e,
            }
            for e in kept
        ]
        batch = client.post(f"{base}/batches", json={"operations": operations}).json()
        while batch["status"] != "finished":
            time.sleep(IMPORT_DELAY_S)
            batch = client.get(f"{base}/batches/{batch['id']}").json()
        client.get(batch["response_body_url"])

    with ThreadPoolExecutor(concurrency) as pool, ThreadPoolExecutor(1) as side:
        url = "" if first else make_tag(tag)
        list(pool.map(upsert, [gone[i : i + 500] for i in range(0, left, 500)]))
        list(pool.map(upsert, [kept[i : i + 500] for i in range(0, guarded, 500)]))
        list(
            pool.map(
                partial(tag_batch, url), [(gone[i : i + 500], []) for i in range(0, left, 500)]
            )
        )
        start = time.perf_counter()
        patches = side.submit(patch_batch) if guarded >= 4 else None
        url = make_tag(tag) if first else url
        adds = [emails[i : i + 500] for i in range(0, joined, 500)]
        list(pool.map(upsert, adds))
        removes = [gone[i : i + 500] for i in range(0, left, 500)]
        pairs = [
            (adds[i] if i < len(adds) else [], removes[i] if i < len(removes) else [])
            for i in range(max(len(adds), len(removes)))
        ]
        list(pool.map(partial(tag_batch, url), pairs))
        if patches is not None:
            patches.result()
        elapsed = time.perf_counter() - start
    client.close()
    return elapsed


def _klaviyo_floor(
    base: str, key: str, tag: str, emails: list[str], left: int, concurrency: int, first: bool
) -> float:
    joined = len(emails)
    gone = emails[:left]
    headers = {"Authorization": f"Klaviyo-API-Key {key}", "revision": "2026-10-15"}
    client = httpx.Client(
        headers=headers, timeout=120, limits=httpx.Limits(max_connections=concurrency)
    )

    def make_list() -> str:
        """The list, after reading the account's lists (a first run knows none)."""
        client.get(f"{base}/api/lists", params={"fields[list]": "name"})
        made = client.post(
            f"{base}/api/lists", json={"data": {"type": "list", "attributes": {"name": tag}}}
        )
        return str(made.json()["data"]["id"])

    list_id = "" if first else make_list()

    def submit(batch: list[str]) -> str:
        body = {
            "data": {
                "type": "profile-bulk-import-job",
                "attributes": {
                    "profiles": {
                        "data": [{"type": "profile", "attributes": {"email": e}} for e in batch]
                    }
                },
                "relationships": {"lists": {"data": [{"type": "list", "id": list_id}]}},
            }
        }
        job: str = client.post(f"{base}/api/profile-bulk-import-jobs", json=body).json()["data"][
            "id"
        ]
        return job

    def run_imports(batches: list[list[str]]) -> None:
        """Every job submitted, then all polled with the job listing (100 a page)."""
        jobs = set(pool.map(submit, batches))
        while jobs:
            time.sleep(IMPORT_DELAY_S)
            listing = client.get(
                f"{base}/api/profile-bulk-import-jobs",
                params={"sort": "-created_at", "page[size]": 100},
            ).json()
            jobs -= {j["id"] for j in listing["data"] if j["attributes"]["status"] == "complete"}

    def look_up(emails: list[str]) -> list[str]:
        query = "any(email,[" + ",".join(f'"{e}"' for e in emails) + "])"
        page = client.get(f"{base}/api/profiles", params={"filter": query, "page[size]": 100})
        return [p["id"] for p in page.json()["data"]]

    def remove(batch: list[str]) -> None:
        """The profiles' ids (100 per look-up, the look-ups in parallel), then the DELETE."""
        pages = [batch[i : i + 100] for i in range(0, len(batch), 100)]
        with ThreadPoolExecutor(concurrency) as lookups:
            ids = [i for found in lookups.map(look_up, pages) for i in found]
        body = {"data": [{"type": "profile", "id": pid} for pid in ids]}
        client.request("DELETE", f"{base}/api/lists/{list_id}/relationships/profiles", json=body)

    with ThreadPoolExecutor(concurrency) as pool:
        run_imports([gone[i : i + 10_000] for i in range(0, left, 10_000)])
        start = time.perf_counter()
        list_id = make_list() if first else list_id
        with ThreadPoolExecutor(1) as side:
            imports = side.submit(
                run_imports, [emails[i : i + 10_000] for i in range(0, joined, 10_000)]
            )
            deletes = [pool.submit(remove, gone[i : i + 1000]) for i in range(0, left, 1000)]
            for future in [imports, *deletes]:
                future.result()
        elapsed = time.perf_counter() - start
    client.close()
    return elapsed


def time_bound(
    esp: str, minimum: int, joined: int, latency: float, concurrency: int, guarded: int = 0
) -> float:
    """The fastest the minimum can go: its calls x latency / concurrency, but at least one
    round trip per dependent phase (a tag is created before members join it; Mailchimp
    contacts exist before they are tagged; a Klaviyo job is polled after its import), plus
    Klaviyo's import job time (jobs hold no connection while processed: they run
    together) and its steady rate limits."""
    if esp == "mailchimp":
        rounds = 2 if joined else 1
        bound = max(minimum * latency / concurrency, rounds * latency)
        if guarded >= 4:  # beside them: the batch, its processing, one poll, the results
            bound = max(bound, 3 * latency + IMPORT_DELAY_S)
        return bound
    imports = math.ceil(joined / 10_000)
    rounds = 2 if imports else 1
    bound = max(minimum * latency / concurrency, rounds * latency)
    bound += IMPORT_DELAY_S if imports else 0.0
    tier = ENDPOINT_TIERS[("POST", "/api/profile-bulk-import-jobs")]
    if imports > tier.burst:
        bound = max(bound, (imports - tier.burst) * 60.0 / tier.steady)
    return bound


WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def naive(esp: str, base: str, key: str, sample: int) -> float:
    """Seconds per member for the naive script (2 sequential SDK calls per member)."""
    if esp == "mailchimp":
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


@dataclass
class Row:
    name: str
    joined: int
    left: int
    measure: Measure
    minimum: int
    floor: float = 0.0  # a raw client sending the minimum's requests (replay_floor)
    guarded: int = 0  # members without consent whose field values changed
    transactions: int = 0  # the budget store's, over the scenario's three syncs


NO_GUARDED_WHY = {
    "klaviyo": "its API has no bulk update that cannot create a profile: each is a PATCH, "
    "700 a minute, so the scenario would measure that limit; the tests cover the path",
}


def guarded_count(esp: str, members: int, change: float) -> int:
    """Members of the change that withdrew consent and whose field changed: on Mailchimp as
    many as move (their PATCHes go in one POST /batches); on Klaviyo none — its API has no
    bulk update that cannot create a profile, so each is a PATCH at 700 a minute, which
    would make the scenario about that limit (the tests cover the path)."""
    return max(1, int(members * change)) if esp == "mailchimp" else 0


def scenario(
    esp: str, members: int, change: float, latency_ms: float, *, budget: bool = False
) -> tuple[list[Row], int]:
    """Initial sync, 1 % change, no-op resync against a fresh emulator; the rows and the
    concurrency used."""
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
            section = (MailchimpSettings if esp == "mailchimp" else KlaviyoSettings)(
                api_key=key, base_url=url
            )
            settings = base.model_copy(update={esp: section})
            concurrency = section.max_connections
            moved = max(1, int(members * change))
            # members that stay but withdrew consent and got a first name (Mailchimp only)
            count = guarded_count(esp, members, change)
            guarded = range(members // 2, members // 2 + count)
            floors = (
                replay_floor(esp, url, key, members, 0, concurrency, first=True),
                replay_floor(esp, url, key, moved, moved, concurrency, first=False, guarded=count),
            )
            rows = [
                Row(
                    "initial",
                    members,
                    0,
                    measured_sync(settings, budget=budget),
                    minimum_calls(esp, members, 0, first=True),
                )
            ]
            # `moved` leave at the start, join at the end; `guarded` change a field
            build_store(store, members, first=moved, guarded=guarded)
            rows.append(
                Row(
                    "1% change",
                    moved,
                    moved,
                    measured_sync(settings, budget=budget),
                    minimum_calls(esp, moved, moved, first=False, guarded=count),
                    guarded=count,
                )
            )
            rows.append(Row("no-op", 0, 0, measured_sync(settings, budget=budget), 0))
            # a daemon's later run: another 1 % change (the next `moved` leave and join,
            # the guarded members' first names change again) with new process state (no
            # processing times learned in this process), the same state store
            build_store(store, members, first=2 * moved, guarded=guarded, name="Renamed")
            reset_processing_times()
            rows.append(
                Row(
                    "steady 1%",
                    moved,
                    moved,
                    measured_sync(settings, budget=budget),
                    minimum_calls(esp, moved, moved, first=False, guarded=count),
                    guarded=count,
                )
            )
            if budget:
                shared = budget_for(settings)
                assert shared is not None
                rows[0].transactions = shared.store.transactions  # type: ignore[attr-defined]
                close_budgets()
    rows[0].floor, rows[1].floor = floors
    rows[3].floor = floors[1]  # the steady state sends what the 1 % change sends
    return rows, concurrency


def bench(
    esp: str, members: int, change: float, latency_ms: float, sample: int, repeat: int
) -> None:
    latency = latency_ms / 1000
    runs = [scenario(esp, members, change, latency_ms) for _ in range(repeat)]
    concurrency = runs[0][1]
    print(
        f"\n{esp}: {members:,} members, latency {latency_ms:g} ms, concurrency {concurrency}, "
        f"{repeat} run(s) (wall: median / min)"
    )
    print(
        f"{'run':10} {'+':>7} {'-':>6} {'calls':>6} {'min':>6} {'ratio':>6} {'writes':>6} "
        f"{'esp s med':>9} {'esp s min':>9} {'bound s':>8} {'ratio':>6} {'med r':>6} {'total s':>8}"
    )
    for index, first in enumerate(runs[0][0]):
        rows = [run[0][index] for run in runs]
        calls = statistics.median(r.measure.calls for r in rows)
        writes = statistics.median(
            sum(n for (m, _), n in r.measure.by_route.items() if m in WRITE_METHODS) for r in rows
        )
        esp_med = statistics.median(r.measure.esp_seconds for r in rows)
        esp_min = min(r.measure.esp_seconds for r in rows)
        total = statistics.median(r.measure.total_seconds for r in rows)
        floor = min(r.floor for r in rows)
        bound = max(
            time_bound(esp, first.minimum, first.joined, latency, concurrency, first.guarded),
            floor,
        )
        ratio = f"{calls / first.minimum:>6.2f}" if first.minimum else f"{'-':>6}"
        wall = f"{esp_min / bound:>6.2f}" if first.minimum else f"{'-':>6}"
        wall_med = f"{esp_med / bound:>6.2f}" if first.minimum else f"{'-':>6}"
        print(
            f"{first.name:10} {first.joined:>7,} {first.left:>6,} {calls:>6g} "
            f"{first.minimum:>6} {ratio} {writes:>6g} {esp_med:>9.2f} {esp_min:>9.2f} "
            f"{bound if first.minimum else 0:>8.2f} {wall} {wall_med} {total:>8.2f}"
        )
    print(
        "bound = max(latency/rate bound of the minimum, min over runs of a raw httpx client "
        "replaying the minimum's requests against the same emulator: its service time); "
        "ratio = min wall / bound, med r = median wall / bound"
    )
    if esp == "klaviyo":
        bare = minimum_calls(esp, members, 0, first=True) - KLAVIYO_LIST_READ
        print(KLAVIYO_LIST_READ_WHY.format(bare=bare))
    guarded = runs[0][0][1].guarded
    if guarded:
        print(
            f"1% change: {guarded:,} staying members withdrew consent and changed a field "
            "(never upserted: their PATCHes go in one POST /batches, polled, results read: "
            "3 calls of the minimum)"
        )
    else:
        print(f"1% change: no members without consent ({NO_GUARDED_WHY[esp]})")
    for index in (0, 1, 3):
        routes = sorted(runs[0][0][index].measure.by_route.items())
        print(
            f"calls by route ({runs[0][0][index].name}): "
            + ", ".join(f"{m} {r} {n}" for (m, r), n in routes)
        )
    if sample:
        with emulator_process(esp, latency_ms) as (url, key):
            per_member = naive(esp, url, key, sample)
        initial = runs[0][0][0]
        naive_seconds = per_member * members
        print(
            f"naive script (one upsert + one tag/list call per member, sequential): "
            f"{per_member * 1000:.0f} ms per member on {sample} members -> {2 * members:,} "
            f"calls, ~{naive_seconds:,.0f} s for the initial sync "
            f"({naive_seconds / initial.measure.total_seconds:,.0f}x segsync's time)"
        )


def budget_overhead(esp: str, members: int, change: float, latency_ms: float, repeat: int) -> None:
    """Each scenario with and without the shared budget, paired (order alternating)."""
    pairs: list[tuple[list[Row], list[Row]]] = []
    for index in range(repeat):
        order = (False, True) if index % 2 == 0 else (True, False)
        done = {flag: scenario(esp, members, change, latency_ms, budget=flag)[0] for flag in order}
        pairs.append((done[False], done[True]))
    print(f"\n{esp}: shared rate budget overhead, {members:,} members, latency {latency_ms:g} ms, "
          f"{repeat} pair(s); ESP-phase wall s (median / min) and ratio with/without")  # fmt: skip
    for row in (0, 1):
        without = [p[0][row].measure.esp_seconds for p in pairs]
        with_budget = [p[1][row].measure.esp_seconds for p in pairs]
        ratios = [b / a for a, b in zip(without, with_budget, strict=True)]
        calls = statistics.median(p[1][row].measure.calls for p in pairs)
        print(
            f"{pairs[0][0][row].name:10} without {statistics.median(without):6.2f} / "
            f"{min(without):6.2f}  with {statistics.median(with_budget):6.2f} / "
            f"{min(with_budget):6.2f}  ratio median {statistics.median(ratios):.3f} min "
            f"{min(ratios):.3f}  ({calls:g} calls)"
        )
    transactions = statistics.median(p[1][0].transactions for p in pairs)
    calls = statistics.median(sum(r.measure.calls for r in p[1]) for p in pairs)
    print(f"budget store transactions per scenario (3 syncs): {transactions:g} for {calls:g} "
          f"HTTP calls ({transactions / max(calls, 1):.3f} per call)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--change", type=float, default=0.01)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--esp", choices=["mailchimp", "klaviyo", "both"], default="both")
    parser.add_argument("--naive-sample", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=1, help="runs per ESP (median, min)")
    parser.add_argument(
        "--budget-overhead", action="store_true", help="with vs without the shared rate budget"
    )
    args = parser.parse_args()
    for esp in ["mailchimp", "klaviyo"] if args.esp == "both" else [args.esp]:
        if args.budget_overhead:
            budget_overhead(esp, args.members, args.change, args.latency_ms, args.repeat)
            continue
        bench(esp, args.members, args.change, args.latency_ms, args.naive_sample, args.repeat)


if __name__ == "__main__":
    main()
