"""Every hook is documented; built-ins register through the hooks; engine never imports plugins."""
import inspect
import re
from pathlib import Path

from tierwise.engine import hookspecs
from tierwise.engine.plugin_manager import DEFAULT_PLUGINS, default_registry

ROOT = Path(__file__).resolve().parents[2]


def hook_functions():
    return [f for name, f in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("tierwise_")]


def test_every_hook_has_a_one_line_docstring():
    hooks = hook_functions()
    assert len(hooks) >= 6
    for hook in hooks:
        doc = inspect.getdoc(hook)
        assert doc, f"hook {hook.__name__} is undocumented"
        assert len(doc.splitlines()[0]) > 20, f"hook {hook.__name__}: the first line must say what it does"


def test_builtins_register_through_the_hooks():
    reg = default_registry()
    assert {"csv", "xlsx", "parquet", "json", "sql"} <= set(reg.connectors)
    assert {"minmax", "zscore", "percentile", "quintile"} <= set(reg.normalizers)
    assert "log" in reg.actions
    assert {"days_since", "years_between", "abs", "min", "max", "coalesce", "log"} <= set(reg.functions)
    providers = {plugin for plugin in reg.provided_by.values()}
    assert set(DEFAULT_PLUGINS) <= providers


def test_engine_never_imports_plugins():
    for path in (ROOT / "engine").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        imports = re.findall(r"^\s*(?:from|import)\s+([\w.]+)", text, re.M)
        assert not any("plugins" in m for m in imports), f"{path.name} imports plugins directly"


def test_plugins_import_only_the_hook_api():
    for path in (ROOT / "plugins").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        for module in re.findall(r"^\s*from\s+(tierwise\.engine[\w.]*)\s+import", text, re.M):
            assert module in ("tierwise.engine.hookspecs", "tierwise.engine.plugin_api"), (path.name, module)
