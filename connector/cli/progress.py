"""Progress bars for syncs on a terminal (one bar per destination); nothing otherwise."""

from __future__ import annotations

from types import TracebackType

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from connector.cli.output import err
from connector.reconcile.executor import Progress as ProgressCallbacks

__all__ = ["TerminalProgress"]


class TerminalProgress(ProgressCallbacks):
    def __init__(self) -> None:
        self.bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("batches"),
            TimeElapsedColumn(),
            console=err,
            transient=False,
        )
        self.tasks: dict[str, int] = {}

    def __enter__(self) -> TerminalProgress:
        if err.is_terminal:
            self.bars.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if err.is_terminal:
            self.bars.stop()

    def start(self, destination: str, batches: int) -> None:
        if err.is_terminal:
            self.tasks[destination] = int(self.bars.add_task(destination, total=max(batches, 1)))
            if not batches:
                self.bars.update(self.tasks[destination], completed=1)  # type: ignore[arg-type]

    def advance(self, destination: str, batches: int = 1) -> None:
        if destination in self.tasks:
            self.bars.advance(self.tasks[destination], batches)  # type: ignore[arg-type]
