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

import functools
import operator
from dataclasses import dataclass
from collections.abc import Sequence
from typing import Any, Callable

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


def missing_marker(lowered: Any) -> Any:
    """Whether a cell is a missing marker, given its text trimmed and in lower case. Equalities
    or'ed, not an IN list: DuckDB turns an IN list of five or more constants into a join with a
    table of them, and merges the projections of the typing steps below it back into one (so each
    intermediate value is computed again wherever it is read); give it a column, not an expression."""
    return functools.reduce(operator.or_, [lowered == m for m in MISSING_MARKERS])


def is_missing_marker(s: Any) -> Any:
    return missing_marker(trim(s).lower())


def finite(col: Any) -> Any:
    """A float column with NaN and ±inf as missing (each engine holds NaN equal to NaN). Give it a
    column, not a large expression: DuckDB writes NULLIF(x, y) as CASE WHEN x = y THEN NULL ELSE x
    END, so each NULLIF doubles ``col`` and the three of them repeat it eight times."""
    return col.nullif(float("nan")).nullif(float("inf")).nullif(float("-inf"))


# ---- typing a column in steps -------------------------------------------------------------------
#
# A typed column reads its cell's text several times (the missing markers, the number's shape, the
# cleaned text, the date's serial form). Written as one expression, every engine recomputes each
# reading: PostgreSQL and Spark have no common-subexpression elimination, and DuckDB's does not
# reach into a CASE branch, where all of these sit. So a column is typed in *steps*: each step adds
# named intermediate values computed from the raw column and the previous steps' values, and the
# typed value reads those names. ``apply_steps`` makes each step one projection of the table (every
# intermediate computed once per row); ``flat`` substitutes them into one expression instead.

#: a step: intermediate name -> function of the table so far (``t[name]``: a raw column or an
#: earlier step's value)
Step = dict[str, Callable[[Any], Any]]


@dataclass(frozen=True)
class Coercion:
    """How one column is typed: ``steps`` of intermediate values, then its ``value`` and its
    bad-cell ``flag`` (None when nothing can be bad), both functions of the table after the steps."""

    steps: tuple[Step, ...]
    value: Callable[[Any], Any]
    flag: Callable[[Any], Any] | None = None


def apply_steps(table: Any, coercions: list[Coercion]) -> Any:
    """``table`` with every coercion's intermediate values, step k of all of them in projection k."""
    for k in range(max((len(c.steps) for c in coercions), default=0)):
        values = {n: f(table) for c in coercions if k < len(c.steps) for n, f in c.steps[k].items()}
        table = table.mutate(**values)
    return table


def flat(coercion: Coercion, column: str, col: Any) -> tuple[Any, Any | None]:
    """(value, flag) of ``coercion`` as expressions of ``col`` (the raw column ``column``), the
    intermediate values substituted where they are read."""
    env: dict[str, Any] = {column: col}
    for step in coercion.steps:
        env.update({n: f(env) for n, f in step.items()})
    return coercion.value(env), coercion.flag(env) if coercion.flag is not None else None


def number_text(col: Any) -> Any:
    """A number's text without currency signs, whitespace, 人民币 and a 元 suffix, digits half-width."""
    s = col.translate(FULL_WIDTH_FROM, FULL_WIDTH_TO).re_replace(f"[¥￥$]|{WHITESPACE_CLASS}|人民币", "")
    return s.re_replace("元$", "")


def number_steps(column: str, p: str) -> Coercion:
    """A float64 from text: 1,234.5 / 12% / 500万 / ¥3,000 / 3000元 / １２３ (``p``: the prefix of
    the intermediate names)."""
    import ibis

    def parsed(t: Any) -> Any:
        s = t[p + "text"]
        # the unit as a decimal exponent, so "33.3%" parses as 33.3e-2: exactly the double 0.333 is,
        # as the rule literal 33.3% is (multiplying by 0.01 gives 0.33299999999999996 and splits ties)
        text = s.re_replace(",", "").re_replace("%$", "e-2").re_replace("万$", "e4").re_replace("亿$", "e8")
        return ibis.cases((s.re_search(NUMBER_SHAPE), text), else_=ibis.null("string")).try_cast("float64")

    return Coercion(
        ({p + "text": lambda t: number_text(t[column]), p + "lower": lambda t: trim(t[column]).lower()},
         {p + "missing": lambda t: missing_marker(t[p + "lower"]), p + "number": parsed}),
        value=lambda t: ibis.cases((t[p + "missing"], ibis.null("float64")), else_=finite(t[p + "number"])),
        flag=lambda t: t[column].notnull() & ~t[p + "missing"] & finite(t[p + "number"]).isnull())


def date_steps(column: str, p: str, as_text: bool = False) -> Coercion:
    """A date from text (or from an integer such as 20260630 when ``as_text``): the formats of
    DATE_FORMATS with an optional time of day, Excel day numbers; a year outside YEARS is bad."""
    import ibis

    def text(t: Any) -> Any:
        return t[column].cast("string") if as_text else t[column]

    def read(t: Any) -> Any:
        s = t[p + "text"]
        serial = s.re_search(r"^\d{5}(\.\d+)?$")  # an Excel day number: 45000 = 2023-03-15
        excel = ibis.literal(EXCEL_EPOCH, type="date") + s.try_cast("float64").floor().cast("int32").as_interval("D")
        return ibis.cases((serial, excel), else_=builtins(s).try_strptime(s, list(DATE_FORMATS)).cast("date"))

    def value(t: Any) -> Any:
        d = t[p + "date"]
        return ibis.cases((t[p + "missing"], ibis.null("date")), (d.year().between(*YEARS), d), else_=ibis.null("date"))

    return Coercion(
        ({p + "trimmed": lambda t: trim(text(t))},
         {p + "text": lambda t: t[p + "trimmed"].re_replace(TIME_SUFFIX, ""),
          p + "missing": lambda t: missing_marker(t[p + "trimmed"].lower())},
         {p + "date": read}),
        value=value,
        flag=lambda t: t[column].notnull() & ~t[p + "missing"] & value(t).isnull())


def parse_number(col: Any) -> Any:
    """A float64 column from a text column (see ``number_steps``), as one expression."""
    return flat(number_steps("raw", "__"), "raw", col)[0]


def parse_date(col: Any) -> Any:
    """A date column from a text column (see ``date_steps``), as one expression."""
    return flat(date_steps("raw", "__"), "raw", col)[0]


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


def trimmed_text(col: Any, compared: Sequence[str] = ()) -> Any:
    """``col`` without the whitespace exports pad cells with. ``compared``: texts the rules compare the
    column with; a cell equal to one that no whitespace pads is kept as it is, without trimming (a log's
    status column holds a few such values in every row: trimming 50M cells costs more than comparing)."""
    exact = list(dict.fromkeys(c for c in compared if c and c == c.strip(WHITESPACE)))[:MAX_COMPARED]
    if not exact:
        return trim(col)
    import ibis

    return ibis.cases((functools.reduce(operator.or_, [col == c for c in exact]), col), else_=trim(col))


#: at most this many of the texts compared with a column are checked before trimming a cell
MAX_COMPARED = 4


def coercion(column: str, dtype: Any, want: str, prefix: str, compared: Sequence[str] = ()) -> Coercion:
    """How the column ``column`` of type ``dtype`` is read as ``want`` (number, date, string, any);
    ``prefix`` names its intermediate values; ``compared``: for text, what the rules compare it with
    (``trimmed_text``). WrongType when it cannot be."""
    def plain(f: Callable[[Any], Any], flag: Callable[[Any], Any] | None = None) -> Coercion:
        return Coercion((), lambda t: f(t[column]), None if flag is None else (lambda t: flag(t[column])))

    if want == "number":
        if dtype.is_floating():
            return plain(lambda c: finite(c.cast("float64")), lambda c: c.isinf())
        if dtype.is_numeric() or dtype.is_boolean():
            return plain(lambda c: c.cast("float64"))
        if dtype.is_string():
            return number_steps(column, prefix)
        if dtype.is_null() or dtype.is_unknown():  # an all-empty column: missing values
            return plain(lambda c: c.cast("float64"))
        raise WrongType(dtype, want)
    if want == "date":
        if dtype.is_timestamp() or dtype.is_date():
            return plain(as_date)
        if dtype.is_string() or dtype.is_integer():  # 20260630 stored as a number
            return date_steps(column, prefix, as_text=not dtype.is_string())
        if dtype.is_null() or dtype.is_unknown():  # an all-empty column: missing values
            return plain(lambda c: c.cast("date"))
        raise WrongType(dtype, want)
    if want == "string":
        if dtype.is_string():
            import ibis

            return Coercion(({prefix + "text": lambda t: trimmed_text(t[column], compared)},),
                            lambda t: ibis.cases((t[prefix + "text"] == "", ibis.null("string")),
                                                 else_=t[prefix + "text"]))
        if dtype.is_floating():
            return plain(float_text)
        if dtype.is_binary() or dtype.is_struct() or dtype.is_array() or dtype.is_map():
            raise WrongType(dtype, "text")
        return plain(lambda c: c.cast("string"))
    return plain(lambda c: c)


def coerce(col: Any, want: str) -> tuple[Any, Any | None]:
    """(typed column, bad-cell flag or None when nothing can be bad) as expressions of ``col``;
    WrongType when it cannot be. (Sources are typed in steps: ``coercion`` and ``apply_steps``.)"""
    name = col.get_name()
    return flat(coercion(name, col.type(), want, "__"), name, col)


def float_text(col: Any) -> Any:
    """3.0 -> "3", 2.5 -> "2.5" (keys and codes that a float column carries)."""
    import ibis

    return ibis.cases((col == col.round(0), col.cast("int64").cast("string")), else_=col.cast("string"))
