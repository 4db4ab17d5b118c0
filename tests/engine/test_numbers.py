"""engine.numbers.clean: the shortest decimal within 1e-12 relative; the vectorised path agrees."""
from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pyarrow as pa
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tierwise.engine.numbers import TOLERANCE, clean, clean_array, clean_table

finite = st.floats(allow_nan=False, allow_infinity=False)


def digits(x: float) -> int:
    """Significant digits of the shortest decimal that reads back as ``x``."""
    return len(Decimal(repr(x)).normalize().as_tuple().digits)


@given(finite)
@example(35863898.769999996)
@example(0.1 + 0.2)
@example(123456789.12)
@example(5e-324)
@example(1.7976931348623157e308)
def test_clean_is_the_shortest_decimal_within_the_tolerance(x):
    c = clean(x)
    assert abs(c - x) <= TOLERANCE * abs(x)  # so well within the issue's 1e-9
    if x == 0:
        assert c == x
        return
    n = digits(c)
    assert n <= 13
    assert c == float(format(x, f".{n - 1}e"))  # the nearest decimal of its length
    for shorter in range(1, n):  # no decimal with fewer digits is close enough
        assert abs(float(format(x, f".{shorter - 1}e")) - x) > TOLERANCE * abs(x)
    assert n > 11 or clean(c) == c  # a result of up to 11 digits is a fixed point (see the next test)


@given(st.integers(min_value=-(10**11) + 1, max_value=10**11 - 1), st.integers(min_value=-12, max_value=12))
@example(99_999_999_999, 9)
@example(10_000_000_001, -2)
def test_decimals_of_up_to_11_digits_are_written_as_typed(m, exp):
    x = float(Decimal(m).scaleb(exp))
    assert clean(x) == x


@given(st.integers(min_value=1, max_value=10**10 - 1), st.integers(min_value=-6, max_value=4),
       st.integers(min_value=-400, max_value=400))
def test_noise_of_a_few_hundred_ulps_is_removed(m, exp, ulps):
    typed = float(Decimal(m).scaleb(exp))
    noisy = typed + ulps * math.ulp(typed)
    assert clean(noisy) == typed


def test_twelve_digits_next_to_a_power_of_ten_are_the_limit():
    # 999,999,999,999e9 is 1e-12 relative from 1e21 but for the double's own rounding: 12 digits are
    # kept unless they start 9999 (then the power of ten is within the tolerance); 11 always are
    assert clean(123456789012.0) == 123456789012.0
    assert clean(9.99999999999e20) == 1e21


def test_the_issue_examples():
    assert clean(35863898.769999996) == 35863898.77
    assert repr(clean(35863898.769999996)) == "35863898.77"
    assert clean(sum([0.1] * 10)) == 1.0
    assert clean(123456789.12) == 123456789.12  # cents are not rounded away (1e-9 would round to 123456789)
    assert clean(1 / 3) == 0.333333333333
    for v in (0.0, -0.0, 3, None, "x", math.inf, -math.inf):
        assert clean(v) is v
    assert math.isnan(clean(math.nan))


@settings(max_examples=300)
@given(st.lists(st.one_of(finite, st.just(math.nan), st.just(math.inf)), max_size=60))
def test_the_vectorised_path_is_clean_itself(xs):
    got = clean_array(np.array(xs, dtype=np.float64))
    for x, g in zip(xs, got):
        want = clean(x)
        assert (math.isnan(g) and math.isnan(want)) or g == want, x


@given(st.integers(min_value=1, max_value=10**13), st.integers(min_value=-10, max_value=3))
def test_the_vectorised_path_on_near_ties(m, exp):
    x = float(Decimal(m).scaleb(exp)) + 0.5 * 10.0 ** exp  # a half of the last digit: a tie or close to one
    assert clean_array(np.array([x]))[0] == clean(x)


def test_clean_table_cleans_float_columns_and_keeps_nulls_and_the_rest():
    t = pa.table({"k": ["a", "b", "c"], "n": [1, 2, 3],
                  "x": pa.array([35863898.769999996, None, 0.1 + 0.2]),
                  "f": pa.array([0.1, 0.2, None], pa.float32())})
    out = clean_table(t)
    assert out.column("k").to_pylist() == ["a", "b", "c"] and out.column("n").to_pylist() == [1, 2, 3]
    assert out.column("x").to_pylist() == [35863898.77, None, 0.3]
    assert out.column("f").to_pylist() == [0.1, 0.2, None]  # float32 0.1 is 0.10000000149011612


def test_clean_array_restores_a_million_noisy_amounts():
    rng = np.random.default_rng(7)
    money = np.round(rng.uniform(0, 1e7, 1_000_000), 2)
    noisy = money * (1 + 1e-15)  # a few ulps off, as sums leave them
    assert not np.array_equal(noisy, money)
    assert np.array_equal(clean_array(noisy), money)


@settings(max_examples=200)
@given(st.lists(st.one_of(finite, st.none(), st.just(math.nan)), max_size=40))
def test_clean_table_is_clean_of_every_value(xs):
    got = clean_table(pa.table({"x": pa.array(xs, pa.float64())})).column("x").to_pylist()
    for x, g in zip(xs, got):
        want = None if x is None else clean(x)
        assert (g is None and want is None) or (isinstance(g, float) and math.isnan(g) and math.isnan(want)) \
            or g == want, x
