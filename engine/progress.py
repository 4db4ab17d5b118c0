"""Progress of a run's steps, reported to whoever shows it (the CLI draws it; the engine only tells).

A run calls ``progress.step("reading")`` around each long step (reading, fitting, scoring, writing);
the step's ``poll`` is the backend's own progress of the query under way (0..100, or None when the
backend reports none), which a display may read while the step runs.
"""
from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Callable, Protocol

#: the steps of a run, in order, as a display names them
STEPS = ("reading", "fitting", "scoring", "writing")


class Progress(Protocol):
    def step(self, name: str, poll: Callable[[], float | None] | None = None) -> AbstractContextManager[None]:
        """Around one step of a run; ``poll()`` gives the running query's percentage, or None."""
        ...


class Silent:
    """No display: output that is not a terminal, tests, the Python API."""

    def step(self, name: str, poll: Callable[[], float | None] | None = None) -> AbstractContextManager[None]:
        return nullcontext()


SILENT = Silent()
