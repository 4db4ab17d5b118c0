"""DuckDB built-in functions Ibis has no method for. Imported lazily (it imports Ibis).

No ``from __future__ import annotations`` here: Ibis reads the annotations.
"""
import ibis
import ibis.expr.datatypes as dt

# what exports pad cells with: spaces, tabs, line breaks, no-break space, ideographic (full-width) space
WHITESPACE = " \t\r\n\f\v\u00a0\u3000"
#: the same characters as a regular-expression class (RE2, DuckDB's regex engine)
WHITESPACE_CLASS = "[ \\t\\r\\n\\f\\v\u00a0\u3000]"


@ibis.udf.scalar.builtin(name="try_strptime")
def try_strptime(s: str, fmt: dt.Array(dt.string)) -> dt.timestamp:  # type: ignore[valid-type]
    """DuckDB's try_strptime with a list of formats: NULL when no format matches."""


@ibis.udf.scalar.builtin(name="trim")
def _trim(s: str, characters: str) -> str:
    """DuckDB's trim(s, characters)."""


def trim(s):
    """Strip the whitespace exports pad cells with (a single DuckDB call; Ibis's strip is far slower)."""
    return _trim(s, WHITESPACE)


@ibis.udf.scalar.builtin(name="timezone")
def local_timestamp(zone: str, ts: dt.Timestamp(timezone="UTC")) -> dt.timestamp:  # type: ignore[valid-type]
    """DuckDB's timezone(zone, timestamptz): the wall-clock time in that zone."""
