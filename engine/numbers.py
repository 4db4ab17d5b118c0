"""Clean numbers for the files people read: no float noise (``35863898.769999996`` is written
``35863898.77``), nothing a user typed rounded away.

``clean(x)`` is defined exactly:

* ``x`` that is not a finite, non-zero float (an int, 0.0, NaN, ±inf, None, text) is returned as is;
* otherwise, for n = 1, 2, …, 15 let ``d(n)`` be the n-significant-digit decimal nearest to ``x``
  (``format(x, f".{n - 1}e")``: exact, ties to even) and ``clean(x)`` is ``float(d(n))`` for the
  smallest n with ``|float(d(n)) - x| <= TOLERANCE * |x|``. A 13-digit decimal is always that close,
  so n never passes 13.

So clean(x) is within ``TOLERANCE`` (1e-12) relative of x — well inside the 1e-9 the issue allows —
and no decimal with fewer significant digits is. Why 1e-12 and not 1e-9: a relative 1e-9 of
35,863,898.77 is 0.036, so "the shortest decimal within 1e-9" of ``35863898.769999996`` is
``35863898.8``, and of an amount of 123,456,789.12 it is 123,456,789: cents the user typed would
be lost. Float noise is a few units in the last place (1 ulp is 2.2e-16 relative); 1e-12 is about
4,500 ulps, enough for sums over thousands of rows, and every decimal of up to 11 significant
digits (an amount to the cent below 1,000,000,000) is written exactly as typed.

clean is idempotent on its results of up to 11 digits (they are such decimals); a 12- or 13-digit
result (a value near no shorter decimal, like 1/3) may lose its last digit if cleaned again.

``clean_array`` is the same function over a numpy array (vectorised; identical results, tested).
Parquet keeps the full doubles: only the text-like formats (CSV, xlsx) are cleaned.
"""
from __future__ import annotations

from typing import Any

TOLERANCE = 1e-12
MAX_DIGITS = 15


def clean(x: Any) -> Any:
    """``x`` as the shortest decimal within TOLERANCE relative (see the module's docstring)."""
    if type(x) is not float or x == 0.0 or x != x or x in (float("inf"), float("-inf")):
        return x
    limit = TOLERANCE * abs(x)
    for n in range(1, MAX_DIGITS + 1):
        d = float(format(x, f".{n - 1}e"))
        if abs(d - x) <= limit:
            return d
    return x  # not reached: 13 digits are always close enough


# the vectorised path works where powers of ten are exact doubles and x * 10**k stays below 2**53;
# anything outside it, and the rare near-tie (x * 10**k within 2 ulps of a half), goes through clean()
_LOW, _HIGH = 1e-8, 1e15
_POW10 = [10.0 ** k for k in range(23)]  # exact doubles


def clean_array(values: Any) -> Any:
    """``clean`` of every element of a float64 numpy array (a new array; NaN and ±inf kept)."""
    import numpy as np

    x = np.asarray(values, dtype=np.float64)
    out = x.copy()
    ax = np.abs(x)
    finite = np.isfinite(x)
    fast = finite & (ax >= _LOW) & (ax < _HIGH)
    exact = [np.flatnonzero(finite & (x != 0) & ~fast)]
    todo = np.flatnonzero(fast)
    pow10 = np.array(_POW10)
    with np.errstate(all="ignore"):
        e = np.floor(np.log10(ax[todo])).astype(np.int64)
        for n in range(1, 14):
            if not todo.size:
                break
            xs = x[todo]
            k = (n - 1) - e  # d(n) = m / 10**k, m an integer of n digits
            up, down = pow10[np.clip(k, 0, 22)], pow10[np.clip(-k, 0, 22)]
            p = np.where(k >= 0, xs * up, xs / down)
            m = np.rint(p)
            # p is x * 10**k rounded once (|error| <= half an ulp of p; the fraction below is exact): only
            # within an ulp or two of a half can rint(p) differ from the exact rounding of x * 10**k
            tie = np.abs(p - np.floor(p) - 0.5) <= 2 * np.spacing(p)
            # …and that matters only when half a unit of the n-th digit is within the tolerance: else
            # both neighbours are too far and the next length is tried (67.28592915 ties at 9 digits)
            unit = np.where(k >= 0, 1 / up, down)
            tie &= 0.5 * unit <= 1.01 * TOLERANCE * np.abs(xs)
            d = np.where(k >= 0, m / up, m * down)
            ok = ~tie & (np.abs(d - xs) <= TOLERANCE * np.abs(xs))
            out[todo[ok]] = d[ok]
            exact.append(todo[tie])
            rest = ~ok & ~tie
            todo, e = todo[rest], e[rest]
    exact.append(todo)
    for i in np.concatenate(exact).tolist():
        out[i] = clean(float(x[i]))
    return out


def clean_table(table: Any) -> Any:
    """A pyarrow Table with every floating-point column cleaned (nulls stay null; other columns as they are)."""
    import pyarrow as pa

    names, columns = table.column_names, list(table.columns)
    for j, col in enumerate(columns):
        if pa.types.is_floating(col.type):
            chunks = []
            for chunk in col.chunks:
                if not pa.types.is_float64(chunk.type):  # float32 0.1 is 0.10000000149: read its shortest text
                    chunk = chunk.cast(pa.string()).cast(pa.float64())
                cleaned = clean_array(chunk.to_numpy(zero_copy_only=False))  # nulls read as NaN, kept
                mask = chunk.is_null().to_numpy(zero_copy_only=False) if chunk.null_count else None
                chunks.append(pa.array(cleaned, pa.float64(), mask=mask))
            columns[j] = pa.chunked_array(chunks, pa.float64())
    return pa.Table.from_arrays(columns, names=names)
