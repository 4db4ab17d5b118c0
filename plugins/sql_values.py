"""Database values (as the driver returns them) -> Arrow columns the engine can type.

Plain columns keep their type: integers, floats and decimals as numbers, dates, timestamps
(with a time zone: as UTC instants), booleans, text. Anything else comes through as text
the engine can parse or count as bad: uuid, json/jsonb (JSON text), arrays, intervals,
network addresses, and columns whose values have mixed types (SQLite stores 'abc' in a
REAL column as text), which become text throughout.
"""
from __future__ import annotations

import datetime as dt
import decimal
import json
from typing import Any

INT64 = (-(2 ** 63), 2 ** 63 - 1)
EXACT_INT = 2 ** 53


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int" if INT64[0] <= v <= INT64[1] else "text"
    if isinstance(v, float):
        return "float"
    if isinstance(v, decimal.Decimal):
        if v.is_finite() and v == v.to_integral_value():
            return "int" if INT64[0] <= v <= INT64[1] else "text"  # a key past int64 stays exact, as text
        return "float"
    if isinstance(v, dt.datetime):
        return "timestamp" if v.tzinfo is None else "timestamptz"
    if isinstance(v, dt.date):
        return "date"
    if isinstance(v, str):
        return "str"
    return "text"


def text(v: Any) -> str | None:
    """A value as the text the engine parses: 3.0 -> "3", dates ISO, JSON for dicts and lists."""
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < EXACT_INT else repr(v)
    if isinstance(v, decimal.Decimal):
        return format(v, "f") if v.is_finite() else str(v)
    if isinstance(v, dt.datetime):
        if v.tzinfo is not None:
            return v.isoformat(sep=" ", timespec="seconds")
        return v.strftime("%Y-%m-%d %H:%M:%S") if v.time() != dt.time(0) else v.strftime("%Y-%m-%d")
    if isinstance(v, (dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(v, ensure_ascii=False, default=text)
    if isinstance(v, (bytes, bytearray, memoryview)):
        raw = bytes(v)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.hex()
    return str(v)


def column_array(values: list[Any]) -> Any:
    """One batch of one column as a pyarrow array (type null when every value is None)."""
    import pyarrow as pa

    kinds = {_kind(v) for v in values if v is not None}
    if not kinds:
        return pa.nulls(len(values))
    if kinds == {"bool"}:
        return pa.array(values, pa.bool_())
    if kinds == {"int"}:
        return pa.array([None if v is None else int(v) for v in values], pa.int64())
    if kinds <= {"int", "float"}:
        return pa.array([None if v is None else float(v) for v in values], pa.float64())
    if kinds == {"date"}:
        return pa.array(values, pa.date32())
    if kinds <= {"date", "timestamp"}:
        stamps = [v if v is None or isinstance(v, dt.datetime) else dt.datetime.combine(v, dt.time(0))
                  for v in values]
        return pa.array(stamps, pa.timestamp("us"))
    if kinds == {"timestamptz"}:  # an instant: kept with its zone (as UTC), the engine picks the local date
        return pa.array([None if v is None else v.astimezone(dt.timezone.utc) for v in values],
                        pa.timestamp("us", tz="UTC"))
    return pa.array([text(v) for v in values], pa.string())


def unify(chunks: list[Any]) -> Any:
    """The batches of one column as one chunked array of a common type (text when they disagree)."""
    import pyarrow as pa

    types = {c.type for c in chunks if not pa.types.is_null(c.type)}
    target: pa.DataType
    if not types:
        target = pa.string()
    elif len(types) == 1:
        target = types.pop()
    elif types <= {pa.int64(), pa.float64()}:
        target = pa.float64()
    elif types <= {pa.date32(), pa.timestamp("us")}:  # dates and zone-less timestamps
        target = pa.timestamp("us")
    else:
        target = pa.string()
        chunks = [c if pa.types.is_null(c.type) else pa.array([text(v) for v in c.to_pylist()], pa.string())
                  for c in chunks]
    # pyarrow-stubs overload chunked_array per literal type only, none for a DataType known at run time
    return pa.chunked_array([c.cast(target) for c in chunks], type=target)  # type: ignore[call-overload]
