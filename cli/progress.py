"""A run's progress on the terminal (rich): the step under way, with the query engine's own percentage
where the backend reports one (DuckDB does). Nothing is drawn when stderr is not a terminal."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ..engine.progress import SILENT
from ..engine.progress import Progress as ProgressProtocol

POLL_SECONDS = 0.1


class TerminalProgress:
    """One transient line per step: ``scoring ━━━━━━╺━━━  62% 0:00:03``; gone when the run ends."""

    def __init__(self, console: Console):
        self.console = console

    def step(self, name: str, poll: Callable[[], float | None] | None = None) -> AbstractContextManager[None]:
        return self._step(name, poll)

    @contextmanager
    def _step(self, name: str, poll: Callable[[], float | None] | None) -> Iterator[None]:
        bar = Progress(TextColumn("{task.description:<8}"), BarColumn(), TextColumn("{task.fields[pct]}"),
                       TimeElapsedColumn(), console=self.console, transient=True)
        task = bar.add_task(name, total=100 if poll else None, pct="")
        done = threading.Event()

        def follow() -> None:  # the backend's percentage of the query under way
            while not done.wait(POLL_SECONDS):
                try:
                    pct = poll() if poll else None
                except Exception:  # a backend that cannot say right now: keep the spinner
                    pct = None
                if pct is not None:
                    bar.update(task, completed=pct, pct=f"{pct:3.0f}%")

        watcher = threading.Thread(target=follow, daemon=True) if poll else None
        with bar:
            if watcher:
                watcher.start()
            try:
                yield
            finally:
                done.set()
                if watcher:
                    watcher.join()


def progress_for(console: Console) -> ProgressProtocol:
    """A display on a terminal; silence when output goes to a file, a pipe or CI."""
    return TerminalProgress(console) if console.is_terminal else SILENT
