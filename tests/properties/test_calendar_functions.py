"""years_between / months_between against plain Python (dateutil) on random dates.

Definition (docs/language.md): k is the largest whole number of calendar units with
a + k units <= b (month ends clamped: Jan 31 + 1 month = Feb 28), and the result is
k + (b − start) / (end − start) in days, start = a + k units, end = a + (k+1) units.
So an anniversary is exactly a whole number: a customer since 2021-06-30 has 5.0
years on 2026-06-30, and `>= 5` holds without any tolerance.
"""
from datetime import date, timedelta

import ibis
from dateutil.relativedelta import relativedelta
from hypothesis import given, settings
from hypothesis import strategies as st

from tierwise.plugins.functions import MonthsBetween, YearsBetween


def reference(a: date, b: date, unit: str) -> float:
    step = (lambda k: relativedelta(years=k)) if unit == "Y" else (lambda k: relativedelta(months=k))
    k = (b.year - a.year) * (1 if unit == "Y" else 12) + (0 if unit == "Y" else b.month - a.month) + 1
    while a + step(k) > b:
        k -= 1
    start, end = a + step(k), a + step(k + 1)
    return k + (b - start).days / (end - start).days


days = st.dates(min_value=date(1990, 1, 1), max_value=date(2040, 12, 31))
month_ends = st.builds(lambda y, m: date(y, m, 1) - timedelta(days=1), st.integers(1995, 2035), st.integers(1, 12))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.one_of(days, month_ends), st.one_of(days, month_ends)), min_size=1, max_size=40))
def test_calendar_differences_match_dateutil(pairs):
    con = ibis.duckdb.connect()
    t = ibis.memtable({"a": [p[0] for p in pairs], "b": [p[1] for p in pairs]})
    ctx = None
    out = con.to_pyarrow(t.select(y=YearsBetween().build([t.a, t.b], ctx), m=MonthsBetween().build([t.a, t.b], ctx)))
    for (a, b), y, m in zip(pairs, out["y"].to_pylist(), out["m"].to_pylist()):
        assert abs(y - reference(a, b, "Y")) < 1e-12, (a, b, y)
        assert abs(m - reference(a, b, "M")) < 1e-12, (a, b, m)


def test_anniversaries_are_whole_numbers():
    con = ibis.duckdb.connect()
    a = ibis.literal(date(2021, 6, 30))
    b = ibis.literal(date(2026, 6, 30))
    assert con.to_pyarrow(YearsBetween().build([a, b], None)).as_py() == 5.0
    assert con.to_pyarrow(MonthsBetween().build([a, b], None)).as_py() == 60.0
