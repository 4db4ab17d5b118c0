"""Built-ins written with Ibis's portable operations, for engines without DuckDB's functions.

``regex_strptime`` reads dates as DuckDB's ``try_strptime`` does with the formats of
``coerce.DATE_FORMATS`` (a 4-digit year, one or two digits of month and day, nothing around
them; an impossible date such as 2026-02-30 is NULL, never an error): a regular expression per
format, the parts validated by arithmetic, and the date built only from valid parts. The parity
tests hold it against DuckDB's ``try_strptime`` on the same strings.

No ``from __future__ import annotations`` here: Ibis reads the annotations of the built-ins.
"""
import re
from typing import Any, Iterable

import ibis
import ibis.expr.datatypes as dt

#: strptime directive -> the regular expression DuckDB's parser accepts for it (after trimming)
DIRECTIVES = {"%Y": r"(\d{4})", "%m": r"(\d{1,2})", "%d": r"(\d{1,2})"}
#: the compact %Y%m%d: DuckDB reads digits greedily (4, then 2, then 1 or 2)
COMPACT = {"%Y%m%d": r"^(\d{4})(\d{2})(\d{1,2})$"}


def format_pattern(fmt: str) -> str:
    """``%Y-%m-%d`` -> ``^(\\d{4})\\-(\\d{1,2})\\-(\\d{1,2})$``; only %Y, %m and %d, in that order."""
    if fmt in COMPACT:
        return COMPACT[fmt]
    parts = re.split(r"(%[Ymd])", fmt)
    if [p for p in parts if p.startswith("%")] != ["%Y", "%m", "%d"]:
        raise ValueError(f"date format {fmt!r}: only %Y, %m and %d in that order are portable")
    return "^" + "".join(DIRECTIVES[p] if p.startswith("%") else re.escape(p) for p in parts) + "$"


def days_in_month(y: Any, m: Any) -> Any:  # Ibis integer values in, an Ibis integer value out
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    return ibis.cases((m.isin([4, 6, 9, 11]), 30), (m == 2, ibis.cases((leap, 29), else_=28)), else_=31)


def regex_strptime(s: Any, formats: Iterable[str]) -> Any:  # an Ibis string value in, a date value out
    """The date ``s`` reads as in the first of ``formats`` that fits, else NULL."""
    out = ibis.null("date")
    for fmt in reversed(list(formats)):  # the first format that fits wins: built from the last one up
        pattern = format_pattern(fmt)
        fits = s.re_search(pattern)

        def part(i: int, pattern: str = pattern, fits: Any = fits) -> Any:
            return ibis.cases((fits, s.re_extract(pattern, i)), else_=ibis.null("string")).cast("int64")

        y, m, d = part(1), part(2), part(3)
        valid = fits & m.between(1, 12) & (d >= 1) & (d <= days_in_month(y, m))
        out = ibis.cases((valid, ibis.date(y.cast("int32"), m.cast("int32"), d.cast("int32"))), else_=out)
    return out


@ibis.udf.scalar.builtin(name="btrim")
def btrim(s: str, characters: str) -> str:
    """btrim(s, characters) of PostgreSQL and Spark: any of the characters off both ends."""


@ibis.udf.scalar.builtin(name="timezone")
def pg_timezone(zone: str, ts: dt.Timestamp(timezone="UTC")) -> dt.timestamp:  # type: ignore[valid-type]
    """PostgreSQL's timezone(zone, timestamptz): the wall-clock time in that zone."""


@ibis.udf.scalar.builtin(name="from_utc_timestamp")
def spark_from_utc(ts: dt.timestamp, zone: str) -> dt.timestamp:
    """Spark's from_utc_timestamp(ts, zone): a UTC instant as the wall-clock time in that zone."""
