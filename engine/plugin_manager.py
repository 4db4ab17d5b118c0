"""The plugin manager: built-ins and third-party plugins through the same hooks.

Built-ins are listed by module name in ``DEFAULT_PLUGINS`` and imported here by
name, so ``engine`` never imports ``plugins`` directly; third-party plugins are
found through the ``tierwise`` entry-point group.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import pluggy

from . import hookspecs
from .plugin_api import ActionHandler, Connector, Function, Normalizer

DEFAULT_PLUGINS: tuple[str, ...] = (
    "tierwise.plugins.connectors",
    "tierwise.plugins.normalizers",
    "tierwise.plugins.actions",
    "tierwise.plugins.webhook",
    "tierwise.plugins.functions",
)


@dataclass
class Registry:
    """What the installed plugins provide, by name."""

    pm: pluggy.PluginManager
    connectors: dict[str, type[Connector]] = field(default_factory=dict)
    normalizers: dict[str, type[Normalizer]] = field(default_factory=dict)
    actions: dict[str, type[ActionHandler]] = field(default_factory=dict)
    functions: dict[str, type[Function]] = field(default_factory=dict)
    provided_by: dict[tuple[str, str], str] = field(default_factory=dict)

    def plugins(self) -> list[dict[str, Any]]:
        """One entry per plugin: its name and what it provides."""
        out: dict[str, dict[str, list[str]]] = {}
        for (kind, name), plugin in sorted(self.provided_by.items()):
            out.setdefault(plugin, {}).setdefault(kind, []).append(name)
        return [{"plugin": p, "provides": kinds} for p, kinds in out.items()]


def new_plugin_manager(load_entry_points: bool = True) -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for module_name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
    if load_entry_points:
        pm.load_setuptools_entrypoints(hookspecs.PROJECT)
    return pm


def _collect(pm: pluggy.PluginManager, hook_name: str, kind: str, into: dict[str, Any], reg: Registry) -> None:
    hook = getattr(pm.hook, hook_name)
    for impl in hook.get_hookimpls():
        plugin_name = pm.get_name(impl.plugin) or repr(impl.plugin)
        for cls in impl.function() or []:
            # later registrations (third-party) override built-ins of the same name
            into[cls.name] = cls
            reg.provided_by[(kind, cls.name)] = plugin_name


def build_registry(pm: pluggy.PluginManager) -> Registry:
    reg = Registry(pm=pm)
    _collect(pm, "tierwise_register_connectors", "connectors", reg.connectors, reg)
    _collect(pm, "tierwise_register_normalizers", "normalizers", reg.normalizers, reg)
    _collect(pm, "tierwise_register_actions", "actions", reg.actions, reg)
    _collect(pm, "tierwise_register_functions", "functions", reg.functions, reg)
    return reg


@lru_cache(maxsize=1)
def default_registry() -> Registry:
    """The registry of built-ins plus every installed entry-point plugin (cached)."""
    return build_registry(new_plugin_manager())
