"""A separate process for the shared-budget tests, using the real adapters and budget.

Settings come from the environment (``SEGSYNC_*``: ESP keys and base URLs, the state store,
``SEGSYNC_BUDGET__*``), as for ``segsync sync``.

    python -m tests.esp.budget.driver work ESP PREFIX COUNT
        prints "ready" once set up, then at the line "go" on stdin (so that several drivers
        start together), from as many threads as the ESP's connection setting:
        Mailchimp: COUNT tag batches (``add_members``) on a tag PREFIX, each a request that
        is in flight for the emulator's latency; Klaviyo: COUNT lists named PREFIX-i
        (``ensure_group``: a look-up and a ``POST /api/lists``, 10 a second); prints the
        adapter's calls by status as JSON
    python -m tests.esp.budget.driver hold ACCOUNT SLOTS
        take SLOTS leased slots of ACCOUNT, print "held", and keep them until killed
"""

from __future__ import annotations

import json
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from connector.definitions.destinations import Destination
from connector.esp.klaviyo.destination import KlaviyoDestination
from connector.esp.mailchimp.destination import MailchimpDestination
from connector.esp.registry import adapter_for
from connector.reconcile.budget_db import budget_for
from connector.settings import load_settings

AUDIENCE = "demo-audience"


def work(esp: str, prefix: str, count: int) -> None:
    settings = load_settings()
    destination: Destination = (
        MailchimpDestination(esp="mailchimp", audience=AUDIENCE)
        if esp == "mailchimp"
        else KlaviyoDestination(esp="klaviyo")
    )
    adapter = adapter_for(destination, settings, budget=budget_for(settings))
    threads = (
        settings.mailchimp.max_connections
        if esp == "mailchimp"
        else settings.klaviyo.max_connections
    )
    tag = adapter.ensure_group(prefix) if esp == "mailchimp" else None
    print("ready", flush=True)
    assert sys.stdin.readline().strip() == "go", "no go on stdin"
    with ThreadPoolExecutor(threads) as pool:
        if tag is not None:
            emails = [[f"{prefix}-{i}@example.com"] for i in range(count)]
            list(pool.map(lambda batch: adapter.add_members(tag, batch), emails))
        else:
            list(pool.map(adapter.ensure_group, [f"{prefix}-{i}" for i in range(count)]))
    statuses: Counter[int] = Counter()
    for (_, _, status), calls in adapter.calls.items():
        statuses[status] += calls
    adapter.close()
    print(json.dumps({str(status): calls for status, calls in statuses.items()}))


def hold(account: str, slots: int) -> None:
    budget = budget_for(load_settings())
    assert budget is not None, "the budget is disabled"
    gate = budget.concurrency_gate(account, slots)
    entered = threading.Barrier(slots + 1)
    forever = threading.Event()

    def keep() -> None:
        with gate.slot():
            entered.wait()
            forever.wait()

    for _ in range(slots):
        threading.Thread(target=keep, daemon=True).start()
    entered.wait()
    print("held", flush=True)
    forever.wait()


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "work":
        work(args[0], args[1], int(args[2]))
    else:
        hold(args[0], int(args[1]))
