"""The collector while a command starts: paused while its modules load, the heap then frozen
out of collections, and everything collectable again once the command ends."""

from __future__ import annotations

import gc
import weakref

from connector.cli import collector
from tests.cli.conftest import CliRunner


def test_loading_pauses_collection_then_freezes_the_heap() -> None:
    assert gc.isenabled()
    with collector.command():
        with collector.loading():
            assert not gc.isenabled()
        assert gc.isenabled()
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


def test_a_disabled_collector_stays_disabled() -> None:
    gc.disable()
    try:
        with collector.command(), collector.loading():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_command_leaves_nothing_frozen(run_cli: CliRunner) -> None:
    code, out, _ = run_cli(["schema", "--help"])
    assert code == 0 and "schema" in out
    assert gc.get_freeze_count() == 0


def test_garbage_made_while_loading_is_collected_after_the_command() -> None:
    class Node:
        pass

    with collector.command():
        with collector.loading():
            cycle = Node()
            cycle.me = cycle  # type: ignore[attr-defined]
            alive = weakref.ref(cycle)
            del cycle
        gc.collect()
        assert alive() is not None  # frozen: out of the collector's reach during the command
    gc.collect()
    assert alive() is None
