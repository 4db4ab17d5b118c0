"""The open step: an Ibis table per source, through its connector plugin."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from . import plan as P
from .prepare import column_type, source_columns
from .plugin_api import ConnectorContext, DataError, DataIssue
from .plugin_manager import Registry

SUFFIX_HINT = "use --source NAME=PATH with a path ending in .csv, .xlsx, .parquet, .json or a database URL"


def pick_connector(registry: Registry, declared: str, location: str) -> str:
    """The connector for a --source override: the declared one unless the suffix says otherwise."""
    if "://" in location:  # the connectors that declare the URL's scheme (a +driver is ignored)
        scheme = location.split("://", 1)[0].split("+", 1)[0].lower()
        takes = [n for n, cls in registry.connectors.items() if scheme in getattr(cls, "url_schemes", ())]
        return declared if declared in takes or not takes else takes[0]
    suffix = "".join(Path(location).suffixes[-1:]).lower()
    if suffix in getattr(registry.connectors.get(declared), "suffixes", ()):
        return declared
    for name, cls in registry.connectors.items():
        if suffix in getattr(cls, "suffixes", ()):
            return name
    return declared


def as_backend(con: Any) -> Any:
    """``con`` as a Backend (an Ibis DuckDB connection is wrapped)."""
    from .backends import Backend
    from .backends.duckdb import DuckDBBackend

    return con if isinstance(con, Backend) else getattr(con, "_tierwise_backend", None) or DuckDBBackend(con)


def open_sources(plan: P.Plan, registry: Registry, con: Any, base_dir: Path, temp_dir: Path,
                 overrides: dict[str, str] | None = None, issues: list[DataIssue] | None = None) -> dict[str, Any]:
    """An Ibis table per source, through its connector, on the backend ``con`` (a Backend, or an Ibis
    DuckDB connection); what connectors skipped goes to ``issues``."""
    issues = [] if issues is None else issues
    overrides = overrides or {}
    unknown = set(overrides) - {s.name for s in plan.sources}
    if unknown:
        raise DataError(f"--source names unknown source(s): {', '.join(sorted(unknown))}; "
                        f"the ruleset declares: {', '.join(s.name for s in plan.sources)}")
    tables = {}
    backend = as_backend(con)
    for sp in plan.sources:
        ctx = ConnectorContext(con=backend.staging, backend=backend, base_dir=base_dir, temp_dir=temp_dir, source=sp.name,
                               columns=frozenset(source_columns(plan, sp.name) | {sp.key}), issues=issues,
                               types={c: column_type(plan, sp.name, c) for c in source_columns(plan, sp.name)
                                      if c != sp.key})
        options = dict(sp.options)
        for opt, var in sp.env.items():
            if var not in os.environ:
                raise DataError(f"source '{sp.name}': environment variable {var} is not set (option {opt})")
            options[opt] = os.environ[var]
        name = sp.connector
        if sp.name in overrides:
            location = overrides[sp.name]
            name = pick_connector(registry, sp.connector, location)
            cls = registry.connectors[name]
            if name != sp.connector:
                options = {}
            if "://" in location and "#" in location and "table" in cls.Options.model_fields:
                location, options["table"] = location.rsplit("#", 1)  # --source crm=postgresql://…/db#customers
                options.pop("query", None)
            elif "://" in location and name != sp.connector and "table" in cls.Options.model_fields:
                raise DataError(f"--source {sp.name}=…: name the table after '#', e.g. "
                                f"--source '{sp.name}=postgresql://host/db#customers'")
            options[cls.location_option] = location
        cls = registry.connectors[name]
        try:
            opts = cls.Options(**options)
        except Exception as exc:  # pydantic ValidationError: a bad --source combination
            from .options import validation_message

            raise DataError(f"source '{sp.name}': "
                            + (validation_message(exc.errors()[0]) if hasattr(exc, "errors") else str(exc)))
        tables[sp.name] = backend.adopt(cls().open(opts, ctx), sp.name)  # into the backend's engine
    return tables
