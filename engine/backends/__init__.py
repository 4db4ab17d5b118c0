"""Backends: the only place that knows a query engine (DuckDB, PostgreSQL, Spark).

``open_backend(spec)`` gives a :class:`Backend`; ``spec`` is ``duckdb`` (the default),
``spark`` or a ``postgresql://USER@HOST[:PORT]/DB`` URL, else ``TIERWISE_BACKEND``.
``backend_of(expr)`` is the backend an Ibis expression runs on (its built-ins, its fetch).
"""
from __future__ import annotations

import contextlib
import contextvars
import os
from typing import Any, Iterator

from .base import ROW_ORDER, Backend, Limits

DEFAULT = "duckdb"
SPECS = "duckdb, spark or postgresql://USER@HOST/DB"


#: the backend chosen for this command (``--backend``/``--spark-conf``), see ``use_backend``
_chosen: contextvars.ContextVar[tuple[str | None, dict[str, str]]] = contextvars.ContextVar(
    "tierwise_backend", default=(None, {}))


@contextlib.contextmanager
def use_backend(spec: str | None, spark_conf: dict[str, str] | None = None) -> Iterator[None]:
    """Within the block, ``open_backend()`` opens ``spec`` (None: ``TIERWISE_BACKEND``, else DuckDB)."""
    token = _chosen.set((spec, dict(spark_conf or {})))
    try:
        yield
    finally:
        _chosen.reset(token)


def backend_spec(spec: str | None = None) -> str:
    return (spec or _chosen.get()[0] or os.environ.get("TIERWISE_BACKEND") or DEFAULT).strip()


def check_spec(spec: str) -> str | None:
    """What is wrong with a backend spec, or None."""
    low = spec.strip().lower()
    if low in ("duckdb", "spark") or low.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        return None
    return f"unknown backend '{masked_spec(spec)}': use {SPECS}"


def masked_spec(spec: str) -> str:
    import re

    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", spec)


def open_backend(spec: str | None = None, spark_conf: dict[str, str] | None = None, **settings: Any) -> Backend:
    """Connect to the backend ``spec`` names (else the one ``use_backend`` chose, else
    ``TIERWISE_BACKEND``, else DuckDB)."""
    from ..plugin_api import DataError

    spark_conf = {**_chosen.get()[1], **(spark_conf or {})}
    spec = backend_spec(spec)
    if spec.lower() == "duckdb":
        from .duckdb import DuckDBBackend

        return DuckDBBackend.connect(**settings)
    if spec.lower() == "spark":
        from .spark import SparkBackend

        return SparkBackend.connect(spark_conf or {})
    if spec.lower().startswith(("postgresql:", "postgres:", "postgresql+psycopg:")):
        from .postgres import PostgresBackend

        return PostgresBackend.connect(spec)
    raise DataError(check_spec(spec) or f"unknown backend: use {SPECS}")


def backend_of(expr: Any) -> Backend:
    """The backend the tables under ``expr`` live on (in-memory tables only: Ibis's default DuckDB)."""
    import ibis
    from ibis.common.exceptions import IbisError

    try:
        con = expr._find_backend()
    except IbisError:
        con = ibis.get_backend()
    found: Backend | None = getattr(con, "_tierwise_backend", None)
    if found is not None:
        return found
    if con.name == "duckdb":  # a connection made outside open_backend (tests, plugins)
        from .duckdb import DuckDBBackend

        return DuckDBBackend(con)
    raise TypeError(f"no tierwise backend for an Ibis {con.name} connection: open it with open_backend")


__all__ = ["ROW_ORDER", "Backend", "Limits", "backend_of", "backend_spec", "check_spec", "open_backend", "use_backend"]
