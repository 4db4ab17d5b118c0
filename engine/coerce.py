"""Typed columns from dirty text: numbers, percentages, 万/亿, dates in the formats exports use.

A cell that is empty or a missing marker ("N/A", "-", "无") becomes missing;
a cell that is none of these and does not parse is *bad*: it becomes missing
too, and is counted and reported with sample rows.

Numbers: full-width digits (１２３), thousands separators in groups of three
(1,234,567.5 — "1,2,3" and "5,5" are bad, not 123 and 55), currency signs and a
元 suffix, a trailing % (÷100), 万 (×10⁴) or 亿 (×10⁸). Not-a-number and
infinities are missing (NaN, as pandas writes missing values) or bad (±inf).

Dates: ISO and the Chinese forms below, an optional time of day (dropped: the
date is the one written, whatever the zone), and Excel serial day numbers
(45000 = 2023-03-15). A year outside 1900..2200 (``26/6/30`` read as year 26)
is bad. A time-zone aware timestamp (PostgreSQL timestamptz, Parquet with a zone)
takes its date in the local zone: ``TZ`` if set, else the machine's zone.
"""
from __future__ import annotations

from typing import Any

from .dates import STRPTIME_FORMATS

MISSING_MARKERS = ("", "-", "--", "—", "——", "n/a", "na", "null", "none", "nan", "#n/a", "无", "空", "/")
DATE_FORMATS = STRPTIME_FORMATS  # the one table of date spellings: engine.dates
FULL_WIDTH_FROM = "０１２３４５６７８９．，－＋％"
FULL_WIDTH_TO = "0123456789.,-+%"
#: a time of day after a date: 10:30, 10:30:00, 10:30:00.123, with Z or an offset
TIME_SUFFIX = r"(?:T|[ \t\n\f\r]+)[0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:[.][0-9]+)?)?[ \t\n\f\r]*(?:Z|[+-][0-9]{2}:?[0-9]{2})?$"
EXCEL_EPOCH = "1899-12-30"
# what exports pad cells with: spaces, tabs, line breaks, no-break space, ideographic (full-width) space
WHITESPACE = " \t\r\n\f\v\u00a0\u3000"
#: the same characters as a regular-expression class, the characters themselves rather than escapes:
#: RE2 (DuckDB), PostgreSQL and Java (Spark) read it alike (in Java, \\v is a wider class of its own)
WHITESPACE_CLASS = "[" + WHITESPACE + "]"
#: a number's text once currency signs and spaces are off: digits in groups of three (1,234,567.5)
#: or plain with an exponent (Excel's 1.23457E+11), or either with a unit % 万 亿 — not both
#: (1E+5% is not a number). Checked before any cast, so every engine reads the same numbers
#: (their casts differ on '1_000', '1d', ' 5', 'Infinity').
NUMBER_SHAPE = (r"^[+-]?([0-9]{1,3}(,[0-9]{3})+([.][0-9]+)?[%万亿]?"
                r"|([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+|[%万亿])?)$")
YEARS = (1900, 2200)


def builtins(col: Any) -> Any:
    """The backend ``col`` lives on: it has the built-ins (trim, strptime, time zones)."""
    from .backends import backend_of

    return backend_of(col)


def trim(s: Any) -> Any:
    """Strip the whitespace exports pad cells with (one built-in call: Ibis's strip is far slower)."""
    return builtins(s).trim(s, WHITESPACE)


def is_missing_marker(s: Any) -> Any:
    return trim(s).lower().isin(list(MISSING_MARKERS))


def finite(col: Any) -> Any:
    """A float column with NaN and ±inf as missing (each engine holds NaN equal to NaN; one
    reference to ``col``, so a large ``col`` stays one copy in the query)."""
    return col.nullif(float("nan")).nullif(float("inf")).nullif(float("-inf"))


def parse_number(col: Any) -> Any:
    """A float64 column from a text column: 1,234.5 / 12% / 500万 / ¥3,000 / 3000元 / １２３.

    Written so that each step reads the previous one once: engines without common-subexpression
    elimination (PostgreSQL, Spark) would otherwise evaluate the cleaned text dozens of times."""
    import ibis

    s = col.translate(FULL_WIDTH_FROM, FULL_WIDTH_TO).re_replace(f"[¥￥$]|{WHITESPACE_CLASS}|人民币", "")
    s = s.re_replace("元$", "")
    # the unit as a decimal exponent, so "33.3%" parses as 33.3e-2: exactly the double 0.333 is,
    # as the rule literal 33.3% is (multiplying by 0.01 gives 0.33299999999999996 and splits ties)
    text = s.re_replace(",", "").re_replace("%$", "e-2").re_replace("万$", "e4").re_replace("亿$", "e8")
    value = finite(ibis.cases((s.re_search(NUMBER_SHAPE), text), else_=ibis.null("string")).try_cast("float64"))
    return ibis.cases((is_missing_marker(col), ibis.null("float64")), else_=value)


def parse_date(col: Any) -> Any:
    import ibis

    s = trim(col).re_replace(TIME_SUFFIX, "")
    ts = builtins(col).try_strptime(s, list(DATE_FORMATS)).cast("date")
    serial = s.re_search(r"^\d{5}(\.\d+)?$")  # an Excel day number: 45000 = 2023-03-15
    excel = ibis.literal(EXCEL_EPOCH, type="date") + s.try_cast("float64").floor().cast("int32").as_interval("D")
    d = ibis.cases((serial, excel), else_=ts)
    return ibis.cases((is_missing_marker(col), ibis.null("date")),
                      (d.year().between(*YEARS), d), else_=ibis.null("date"))


def local_zone() -> str:
    """The IANA name of the local time zone: ``TZ``, else /etc/localtime's target, else UTC."""
    import os
    from pathlib import Path

    from zoneinfo import ZoneInfo

    zone = os.environ.get("TZ", "").lstrip(":")
    if not zone:
        try:
            target = str(Path("/etc/localtime").resolve())
        except OSError:
            target = ""
        zone = target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else "UTC"
    try:
        ZoneInfo(zone)
    except (ValueError, OSError):  # an unknown or malformed TZ: dates as in UTC
        return "UTC"
    return zone


def as_date(col: Any) -> Any:
    """A timestamp or date column as dates; a zone-aware timestamp takes its date in the local zone."""
    dtype = col.type()
    if dtype.is_timestamp() and dtype.timezone:
        return builtins(col).local_timestamp(local_zone(), col).cast("date")
    return col.cast("date")


class WrongType(Exception):
    """A typed column (Parquet, a database) whose type cannot be read as what the rules want."""

    def __init__(self, dtype: Any, want: str):
        super().__init__(f"holds {dtype} values; the rules use it as a {want}")


def coerce(col: Any, want: str) -> tuple[Any, Any | None]:
    """(typed column, bad-cell flag or None when nothing can be bad); WrongType when it cannot be."""
    dtype = col.type()
    if want == "number":
        if dtype.is_floating():
            return finite(col.cast("float64")), col.isinf()
        if dtype.is_numeric() or dtype.is_boolean():
            return col.cast("float64"), None
        if dtype.is_string():
            parsed = parse_number(col)
            return parsed, col.notnull() & ~is_missing_marker(col) & parsed.isnull()
        if dtype.is_null() or dtype.is_unknown():  # an all-empty column: missing values
            return col.cast("float64"), None
        raise WrongType(dtype, want)
    if want == "date":
        if dtype.is_timestamp() or dtype.is_date():
            return as_date(col), None
        if dtype.is_string() or dtype.is_integer():
            text = col if dtype.is_string() else col.cast("string")  # 20260630 stored as a number
            parsed = parse_date(text)
            return parsed, col.notnull() & ~is_missing_marker(text) & parsed.isnull()
        if dtype.is_null() or dtype.is_unknown():  # an all-empty column: missing values
            return col.cast("date"), None
        raise WrongType(dtype, want)
    if want == "string":
        if dtype.is_string():
            import ibis

            s = trim(col)
            return ibis.cases((s == "", ibis.null("string")), else_=s), None
        if dtype.is_floating():
            return float_text(col), None
        if dtype.is_binary() or dtype.is_struct() or dtype.is_array() or dtype.is_map():
            raise WrongType(dtype, "text")
        return col.cast("string"), None
    return col, None


def float_text(col: Any) -> Any:
    """3.0 -> "3", 2.5 -> "2.5" (keys and codes that a float column carries)."""
    import ibis

    return ibis.cases((col == col.round(0), col.cast("int64").cast("string")), else_=col.cast("string"))
