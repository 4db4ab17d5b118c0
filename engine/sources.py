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


class Opening:
    """A source about to be read: its connector (an instance) and its options, resolved once from the rule
    file, the environment and ``--source``; ``ahead``: what the connector's ``prefetch`` started."""

    __slots__ = ("source", "connector", "options", "ahead")

    def __init__(self, source: P.SourcePlan, connector: Any, options: Any):
        self.source, self.connector, self.options, self.ahead = source, connector, options, None


def openings(plan: P.Plan, registry: Registry, overrides: dict[str, str] | None = None) -> list[Opening]:
    """Each source's connector and validated options (DataError: an unknown --source name, a variable not
    set, options the connector refuses)."""
    overrides = overrides or {}
    unknown = set(overrides) - {s.name for s in plan.sources}
    if unknown:
        raise DataError(f"--source names unknown source(s): {', '.join(sorted(unknown))}; "
                        f"the ruleset declares: {', '.join(s.name for s in plan.sources)}")
    out = []
    for sp in plan.sources:
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
        out.append(Opening(sp, cls(), opts))
    return out


def prefetch(opening: list[Opening], base_dir: Path) -> list[Opening]:
    """Let each connector start reading ahead (``Connector.prefetch``), before the engine connects."""
    for o in opening:
        o.ahead = o.connector.prefetch(o.options, base_dir)
    return opening


def open_sources(plan: P.Plan, registry: Registry, con: Any, base_dir: Path, temp_dir: Path,
                 overrides: dict[str, str] | None = None, issues: list[DataIssue] | None = None,
                 opening: list[Opening] | None = None) -> dict[str, Any]:
    """An Ibis table per source, through its connector, on the backend ``con`` (a Backend, or an Ibis
    DuckDB connection); what connectors skipped goes to ``issues``. ``opening``: the sources' connectors
    and options resolved already (``openings``, perhaps reading ahead)."""
    issues = [] if issues is None else issues
    opening = openings(plan, registry, overrides) if opening is None else opening
    tables = {}
    backend = as_backend(con)
    for o in opening:
        sp = o.source
        ctx = ConnectorContext(con=backend.staging, backend=backend, base_dir=base_dir, temp_dir=temp_dir, source=sp.name,
                               columns=frozenset(source_columns(plan, sp.name) | {sp.key}), issues=issues,
                               types={c: column_type(plan, sp.name, c) for c in source_columns(plan, sp.name)
                                      if c != sp.key}, ahead=o.ahead)
        tables[sp.name] = backend.adopt(o.connector.open(o.options, ctx), sp.name)  # into the backend's engine
    return tables
