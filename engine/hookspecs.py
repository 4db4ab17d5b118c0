"""The hooks a tierwise plugin implements (pluggy project name ``tierwise``).

Built-in features register through exactly these hooks (see
``engine.plugin_manager.DEFAULT_PLUGINS``); a third-party package does the
same from the ``tierwise`` entry-point group. Every hook's docstring is its
one-line contract; ``tests/engine/test_hookspecs.py`` fails when one is
missing.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    from .plugin_api import ActionHandler, Connector, Function, Normalizer

PROJECT = "tierwise"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def tierwise_register_connectors() -> list[type["Connector"]]:
    """Return connector classes; each reads one kind of source into an Ibis table."""


@hookspec
def tierwise_register_normalizers() -> list[type["Normalizer"]]:
    """Return normalizer classes usable as ``scale NAME`` on an indicator."""


@hookspec
def tierwise_register_actions() -> list[type["ActionHandler"]]:
    """Return action handler classes usable on the right of an ``on ... ->`` line."""


@hookspec
def tierwise_register_functions() -> list[type["Function"]]:
    """Return vectorised functions callable from rule expressions, e.g. ``days_since``."""


@hookspec
def tierwise_run_started(run: dict[str, Any]) -> None:
    """Called once before a run evaluates; ``run`` holds ruleset name, version, as-of date and sources."""


@hookspec
def tierwise_run_finished(run: dict[str, Any], summary: dict[str, Any]) -> None:
    """Called once after a run evaluated; ``summary`` holds row count and counts per tier."""
