"""DuckDB built-in functions Ibis has no method for, used by the DuckDB backend only (the engine
asks the backend of a table for its built-ins: engine/backends/). Imported lazily (it imports Ibis).

No ``from __future__ import annotations`` here: Ibis reads the annotations.
"""
import ibis
import ibis.expr.datatypes as dt

from .coerce import WHITESPACE, WHITESPACE_CLASS  # noqa: F401  (kept importable from here)


@ibis.udf.scalar.builtin(name="try_strptime")
def try_strptime(s: str, fmt: dt.Array(dt.string)) -> dt.timestamp:  # type: ignore[valid-type]
    """DuckDB's try_strptime with a list of formats: NULL when no format matches."""


@ibis.udf.scalar.builtin(name="trim")
def _trim(s: str, characters: str) -> str:
    """DuckDB's trim(s, characters)."""


@ibis.udf.scalar.builtin(name="timezone")
def local_timestamp(zone: str, ts: dt.Timestamp(timezone="UTC")) -> dt.timestamp:  # type: ignore[valid-type]
    """DuckDB's timezone(zone, timestamptz): the wall-clock time in that zone."""
