"""Ibis's SQL compilers, loaded one at a time.

``ibis.backends.sql.compilers`` imports the compiler of every dialect Ibis knows (twenty: Athena,
BigQuery, … Trino) as soon as any backend connects, though a connection uses one. On the machines
measured that is 0.3–0.45 s of every command. ``load_lazily()`` puts the package in ``sys.modules``
without running its ``__init__``: its submodules still import from the package's own folder, and a
name the package exports (``DuckDBCompiler``, or a submodule such as ``duckdb``) is imported the first
time it is asked for (PEP 562's module ``__getattr__``). Which module holds which class is read off the
package's ``__init__`` source (its ``from ibis.backends.sql.compilers.X import Y`` lines), never assumed.

Nothing changes when the package was imported already, or when its ``__init__`` no longer has the shape
read here (the next Ibis): then the package imports as Ibis wrote it.
"""
from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from typing import Any

PACKAGE = "ibis.backends.sql.compilers"
_FROM_IMPORT = re.compile(rf"^from {re.escape(PACKAGE)}\.(\w+) import (\w+)\s*$", re.M)


def exported(source: str) -> dict[str, str]:
    """Exported name -> submodule, from the package's ``__init__`` source (empty: not the shape read here)."""
    if re.search(r"^(?!from |__all__|    |\]|\s*$|#|\"|\)).+", source, re.M):
        return {}  # a statement other than the imports and __all__: run the package as written
    return {name: module for module, name in _FROM_IMPORT.findall(source)}


def load_lazily() -> bool:
    """Register the compilers package to import its compilers on first use; True when it did."""
    if PACKAGE in sys.modules:
        return False
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None or not spec.submodule_search_locations:
        return False
    try:
        with open(spec.origin, encoding="utf-8") as f:
            names = exported(f.read())
    except OSError:
        return False
    if not names:
        return False
    module = importlib.util.module_from_spec(spec)

    def __getattr__(name: str) -> Any:
        if name in names:
            value = getattr(importlib.import_module(f"{PACKAGE}.{names[name]}"), name)
        elif not name.startswith("__") and importlib.util.find_spec(f"{PACKAGE}.{name}") is not None:
            value = importlib.import_module(f"{PACKAGE}.{name}")  # a submodule: sc.duckdb
        else:
            raise AttributeError(f"module {PACKAGE!r} has no attribute {name!r}")
        setattr(module, name, value)
        return value

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    module.__all__ = list(names)  # type: ignore[attr-defined]
    sys.modules[PACKAGE] = module
    parent = sys.modules.get(PACKAGE.rpartition(".")[0])
    if parent is not None:
        setattr(parent, "compilers", module)
    return True


__all__ = ["PACKAGE", "exported", "load_lazily"]
