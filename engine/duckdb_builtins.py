"""DuckDB built-in functions Ibis has no method for. Imported lazily (it imports Ibis).

No ``from __future__ import annotations`` here: Ibis reads the annotations.
"""
import ibis
import ibis.expr.datatypes as dt


@ibis.udf.scalar.builtin(name="try_strptime")
def try_strptime(s: str, fmt: dt.Array(dt.string)) -> dt.timestamp:  # type: ignore[valid-type]
    """DuckDB's try_strptime with a list of formats: NULL when no format matches."""


@ibis.udf.scalar.builtin(name="trim")
def trim(s: str) -> str:
    """DuckDB's trim(s): strips spaces (3x faster than Ibis's strip, which trims a character set)."""

