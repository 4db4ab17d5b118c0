"""Arrow columns and tables built from Python values without pandas.

``pa.array`` of a list (or a numpy array) and ``pa.table`` of a dict ask whether their input is a pandas
object, and that imports pandas: 0.15–0.3 s, more than reading a demo sheet or rating one customer.
These build the same arrays from their buffers."""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Sequence


def _validity(values: Sequence[Any]) -> Any:
    """The validity bitmap of ``values`` (bit i, least significant first, set when value i is not None),
    or None when every value is present."""
    import pyarrow as pa

    if None not in values:
        return None
    bits = "".join("0" if v is None else "1" for v in reversed(values))
    return pa.py_buffer(int(bits, 2).to_bytes((len(values) + 7) // 8, "little"))


def text_array(values: Sequence[str | None]) -> Any:
    """A pyarrow string array of Python text and None."""
    import array

    import pyarrow as pa

    encoded = [b"" if v is None else v.encode() for v in values]
    lengths = [len(b) for b in encoded]
    if sum(lengths) >= 2 ** 31:  # beyond 32-bit offsets: the long way
        return pa.array(values, pa.string())
    offsets = array.array("i", [0, *itertools.accumulate(lengths)])
    return pa.StringArray.from_buffers(len(values), pa.py_buffer(offsets.tobytes()), pa.py_buffer(b"".join(encoded)),
                                       _validity(values))


def float_array(values: Sequence[float | None]) -> Any:
    """A pyarrow float64 array of Python numbers and None."""
    import array

    import pyarrow as pa

    data = array.array("d", [0.0 if v is None else float(v) for v in values])
    return pa.Array.from_buffers(pa.float64(), len(values), [_validity(values), pa.py_buffer(data.tobytes())])


def arrow_table(columns: dict[str, Any]) -> Any:
    """A pyarrow table of named arrays."""
    import pyarrow as pa

    return pa.Table.from_arrays(list(columns.values()), names=list(columns))


@dataclass(frozen=True)
class ListTable:
    """A small table of Python lists, name -> values, each column ``text`` or ``float`` (``types``): the
    rating store's last ratings and overrides. The backend brings it in (``Backend.from_lists``): DuckDB
    from the lists themselves, as query parameters, so rating one customer against the store imports
    neither pyarrow nor numpy; the other backends through ``to_arrow``."""

    columns: dict[str, list[Any]]
    types: dict[str, str]

    def __post_init__(self) -> None:
        if set(self.types) != set(self.columns) or not set(self.types.values()) <= {"text", "float"}:
            raise ValueError(f"each column text or float: {self.types}")
        if len({len(v) for v in self.columns.values()}) > 1:
            raise ValueError("columns of different lengths")

    @property
    def num_rows(self) -> int:
        return len(next(iter(self.columns.values()), []))

    def to_arrow(self) -> Any:
        return arrow_table({n: text_array(v) if self.types[n] == "text" else float_array(v)
                            for n, v in self.columns.items()})
