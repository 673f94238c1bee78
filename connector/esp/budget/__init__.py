"""One rate budget per ESP account, shared by every process that uses one budget store.

The in-process gates (``connector/esp/ratelimit.py``) keep the threads of one process under
an account's limits; this package keeps several processes — a daemon, a manual ``sync``, a
CI job, on different hosts — under them *together*, through a small table in the state
store's database (SQLite file or PostgreSQL):

    leases.py    Mailchimp's simultaneous-connection cap as leased slots: each process
                 records how many slots it holds, until when; a holder that dies (SIGKILL)
                 stops renewing and its slots expire
    windows.py   Klaviyo's burst/steady windows per endpoint as grants of a few tokens,
                 each usable for a short while, counted over sliding windows by all processes
    shared.py    ``SharedBudget``: the gates of one budget store, and the thread that
                 renews leases and gives idle slots back
    store.py     what the budget needs from a database (a per-account locked transaction)

Nothing here holds an API key: accounts are ``account_fingerprint`` hashes.
"""

from __future__ import annotations

from connector.esp.budget.leases import LeasedSlots
from connector.esp.budget.shared import SharedBudget
from connector.esp.budget.store import BudgetStore, BudgetTx
from connector.esp.budget.windows import SharedWindow

__all__ = ["BudgetStore", "BudgetTx", "LeasedSlots", "SharedBudget", "SharedWindow"]
