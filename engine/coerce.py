"""Typed columns from dirty text: numbers, percentages, 万/亿, dates in the formats exports use.

A cell that is empty or a missing marker ("N/A", "-", "无") becomes missing;
a cell that is none of these and does not parse is *bad*: it becomes missing
too, and is counted and reported with sample rows.
"""
from __future__ import annotations

from typing import Any

MISSING_MARKERS = ("", "-", "--", "—", "——", "n/a", "na", "null", "none", "nan", "#n/a", "无", "空", "/")
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d", "%Y-%m-%d %H:%M:%S",
                "%Y/%m/%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M")


def is_missing_marker(s: Any) -> Any:
    from .duckdb_builtins import trim

    return trim(s).lower().isin(list(MISSING_MARKERS))


def parse_number(col: Any) -> Any:
    """A float64 column from a text column: 1,234.5 / 12% / 500万 / ¥3,000."""
    import ibis

    from .duckdb_builtins import WHITESPACE_CLASS

    s = col.re_replace(f"[,，¥￥$]|{WHITESPACE_CLASS}", "")  # thousands separators, currency, any padding
    body = s.re_replace(r"[%万亿]$", "")
    mult = ibis.cases((s.endswith("%"), 0.01), (s.endswith("万"), 1e4), (s.endswith("亿"), 1e8), else_=1.0)
    value = body.try_cast("float64") * mult
    return ibis.cases((is_missing_marker(col), ibis.null("float64")), else_=value)


def parse_date(col: Any) -> Any:
    import ibis

    from .duckdb_builtins import trim, try_strptime

    ts = try_strptime(trim(col), ibis.literal(list(DATE_FORMATS), type="array<string>"))
    return ibis.cases((is_missing_marker(col), ibis.null("date")), else_=ts.cast("date"))


def coerce(col: Any, want: str) -> tuple[Any, Any | None]:
    """(typed column, bad-cell flag or None when nothing can be bad)."""
    dtype = col.type()
    if want == "number":
        if dtype.is_numeric():
            return col.cast("float64"), None
        if dtype.is_boolean():
            return col.cast("float64"), None
        if dtype.is_string():
            parsed = parse_number(col)
            return parsed, col.notnull() & ~is_missing_marker(col) & parsed.isnull()
        return col, None
    if want == "date":
        if dtype.is_timestamp() or dtype.is_date():
            return col.cast("date"), None
        if dtype.is_string():
            parsed = parse_date(col)
            return parsed, col.notnull() & ~is_missing_marker(col) & parsed.isnull()
        return col, None
    if want == "string":
        if dtype.is_string():
            import ibis

            from .duckdb_builtins import trim

            s = trim(col)
            return ibis.cases((s == "", ibis.null("string")), else_=s), None
        if dtype.is_floating():
            import ibis

            # 3.0 -> "3", 2.5 -> "2.5"
            return ibis.cases((col == col.round(0), col.cast("int64").cast("string")), else_=col.cast("string")), None
        return col.cast("string"), None
    return col, None
