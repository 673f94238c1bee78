"""The demo's campaign: a believable treatment effect for ``segsync report`` to find.

The demo pretends a campaign went to the members of a few segments ``CAMPAIGN_AGE`` (14
days) before its ``as_of``, and never to their held-out control groups. Members who were
pushed (not held out) get a small extra chance of an order in the 14 days after the send;
nobody else's behaviour changes. So ``segsync report`` (whose default cohort instant is
the data's last event minus the 14-day window) shows a significant lift on the campaign
segments and none on the others.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from importlib.resources import as_file, files

import duckdb
import numpy as np

from connector.definitions.loader import load_definitions
from connector.esp.registry import destination_models
from connector.evaluate.engine import evaluate
from connector.source import open_store
from connector.source.demo_data import CATEGORIES
from connector.source.layout import StoreLayout
from connector.source.url import StoreUrl

__all__ = ["CAMPAIGNS", "CAMPAIGN_AGE", "add_campaign_outcomes"]

#: segment → extra probability that a pushed member orders in the 14 days after the send
CAMPAIGNS = {"lapsed-high-aov": 0.07, "near-store": 0.05}
CAMPAIGN_AGE = timedelta(days=14)


def add_campaign_outcomes(url: StoreUrl, layout: StoreLayout, as_of: datetime, seed: int) -> int:
    """Add the campaign's extra orders to the demo store; returns how many."""
    send = as_of - CAMPAIGN_AGE
    with as_file(files("connector") / "demo_config") as folder:
        defs = load_definitions(folder, destination_models())
    with open_store(url, layout) as store:
        result = evaluate(store, defs, as_of=send, names=sorted(CAMPAIGNS))
    rng = np.random.default_rng([seed, 2026])
    buyers: set[str] = set()
    for name in sorted(CAMPAIGNS):
        pushed = result.profile_ids[result.pushed(name)]
        lucky = rng.random(len(pushed)) < CAMPAIGNS[name]
        buyers.update(str(p) for p in pushed[lucky])
    ids = np.asarray(sorted(buyers), dtype=object)
    n = len(ids)
    if not n:
        return 0
    span = CAMPAIGN_AGE.total_seconds() - 2
    seconds = 1 + np.floor(rng.random(n) * span).astype(np.int64)
    start = np.datetime64(send.replace(tzinfo=None), "us")
    rows = {
        "pid": ids,
        "ts": start + seconds.astype("timedelta64[s]"),
        "category": np.asarray(CATEGORIES, dtype=object)[rng.integers(0, len(CATEGORIES), n)],
        "amount": np.round(rng.lognormal(np.log(160), 0.4, n), 2),
    }
    assert url.path is not None
    con = duckdb.connect(str(url.path))
    try:
        con.register("__campaign", rows)
        table = ".".join(f'"{part}"' for part in layout.events_table.split("."))
        con.execute(
            f'INSERT INTO {table} ("{layout.profile_id}", "{layout.event}", "{layout.ts}", '
            "category, amount) SELECT pid, 'order_completed', ts, category, amount "
            "FROM __campaign"
        )
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return n
