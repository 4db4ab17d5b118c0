"""The edges of the scoring arithmetic, pinned in fast deterministic tests against values worked out by
hand: a value exactly on a band cut and one ulp either side, a score exactly on a tier cut reached through
floating-point noise, outliers beyond 2σ and 3σ under the z-score, `!=`/`in` on numbers with float noise,
min/max/coalesce given a missing value, additive caps, quota tiers with ties, missing policies.

Each test is here because a plausible slip in the engine (a `>=` turned `>`, the tolerance dropped, the clip
at 2σ, a sample σ, SQL's least skipping nulls, ...) passes the rest of the fast suite; the property tests
find most of them too, but only after minutes.
"""
from __future__ import annotations

import math
from datetime import date

import ibis
import pyarrow as pa
import pytest

from tierwise.engine.backends.duckdb import DuckDBBackend
from tierwise.engine.build import compile_text
from tierwise.engine.fetch import fetch_rows
from tierwise.engine.plugin_manager import default_registry
from tierwise.engine.run import evaluate_plan

AS_OF = date(2026, 6, 30)
REGISTRY = default_registry()
HEADER = 'source c = csv("c.csv") key id\npoints 0..10\n'


def rate(body: str, header: str = HEADER, orders: dict | None = None, **columns: list) -> dict[str, dict]:
    """Evaluate ``header + body`` over in-memory columns (customers k0, k1, ...): rows by key."""
    text = header + body
    plan, diags, _ = compile_text(text, "edges.tier", REGISTRY)
    assert plan is not None, diags.format()
    n = len(next(iter(columns.values())))
    con = ibis.duckdb.connect()
    data = {"id": [f"k{i}" for i in range(n)]}
    data.update(columns)
    tables = {"c": con.create_table("c", pa.table(data))}
    if orders is not None:
        tables["o"] = con.create_table("o", pa.table(orders))
    result, _ = evaluate_plan(plan, REGISTRY, tables, AS_OF, con)
    return {r["id"]: r for r in fetch_rows(result)}


def column(rows: dict, name: str) -> list:
    return [rows[k][name] for k in sorted(rows, key=lambda k: int(k[1:]))]


def below(x: float) -> float:
    return math.nextafter(x, -math.inf)


def above(x: float) -> float:
    return math.nextafter(x, math.inf)


# ---- bands ---------------------------------------------------------------------------------------------

def test_a_value_on_a_band_cut_and_one_ulp_either_side_is_on_the_cut():
    xs = [10.0, below(10.0), above(10.0), 10 - 1e-6, 10 + 1e-6]
    rows = rate("indicator ge = c.x weight 25% { >= 10 -> 9; else -> 1 }\n"
                "indicator gt = c.x weight 25% { > 10 -> 9; else -> 1 }\n"
                "indicator le = c.x weight 25% { <= 10 -> 9; else -> 1 }\n"
                "indicator lt = c.x weight 25% { < 10 -> 9; else -> 1 }\n", x=xs)
    assert column(rows, "ge.points") == [9, 9, 9, 1, 9]
    assert column(rows, "gt.points") == [1, 1, 1, 1, 9]
    assert column(rows, "le.points") == [9, 9, 9, 9, 1]
    assert column(rows, "lt.points") == [1, 1, 1, 9, 1]


def test_a_range_band_is_half_open_within_the_tolerance():
    xs = [5.0, below(5.0), 10.0, below(10.0), 10 - 1e-6, 5 - 1e-6, 7.0]
    rows = rate("indicator r = c.x weight 100% {\n  5..10 -> 8\n  10..20 -> 3\n  else -> 1\n}\n", x=xs)
    assert column(rows, "r.points") == [8, 8, 3, 3, 8, 1, 8]


def test_the_tolerance_is_relative_for_large_cuts_and_absolute_1e9_below_one():
    # 1e-9·max(1, |c|): 1e-6 at ±1000, 1e-9 at 0.5; half of it inside, twice and 1.5 times outside
    xs = [1000 - 5e-7, 1000 - 2e-6, -1000 - 5e-7, -1000 - 2e-6, 0.5 - 8e-10, 0.5 - 1.5e-9]
    ys = [1000.0, 1000.0, -1000.0, -1000.0, 0.5, 0.5]
    rows = rate("indicator a = c.x weight 40% { >= 1000 -> 9; else -> 1 }\n"
                "indicator n = c.x weight 30% { >= -1000 -> 9; else -> 1 }\n"
                "indicator h = c.x weight 30% { >= 0.5 -> 9; else -> 1 }\n"
                "label ge when c.x >= c.y\nlabel flipped when c.y <= c.x\nlabel eq when c.x == c.y\n", x=xs, y=ys)
    assert column(rows, "a.points") == [9, 1, 1, 1, 1, 1]
    assert column(rows, "n.points") == [9, 9, 9, 1, 9, 9]
    assert column(rows, "h.points") == [9, 9, 1, 1, 9, 1]
    labels = [set(filter(None, s.split(","))) for s in column(rows, "labels")]
    assert labels == [{"ge", "flipped", "eq"}, set()] * 3
    rows = rate("indicator k = c.x weight 100%\nlabel a when c.x >= 1000\nlabel b when 1000 <= c.x\n"
                "label n when c.x >= -1000\nlabel h when 0.5 <= c.x\n", x=xs)
    labels = [set(filter(None, s.split(","))) for s in column(rows, "labels")]
    assert labels == [{"a", "b", "n", "h"}, {"n", "h"}, {"n"}, set(), {"n", "h"}, {"n"}]


def test_a_value_exactly_the_tolerance_away_is_within_it():
    # at 0 the tolerance is exactly 1e-9: ±1e-9 is on the cut (== holds, >= and <= hold, > and < do not)
    rows = rate("indicator k = c.x weight 100%\nlabel eq when c.x == 0\nlabel ge when c.x >= 0\nlabel gt when c.x > 0\n"
                "label le when c.x <= 0\nlabel lt when c.x < 0\n", x=[1e-9, -1e-9, 2e-9, -2e-9])
    labels = [set(filter(None, s.split(","))) for s in column(rows, "labels")]
    assert labels == [{"eq", "ge", "le"}, {"eq", "ge", "le"}, {"ge", "gt"}, {"le", "lt"}]


def test_dates_compare_exactly():
    days = [date(2026, 6, 29), AS_OF, date(2026, 7, 1), None]
    rows = rate("indicator k = c.x weight 100%\nlabel ge when c.d >= as_of\nlabel gt when c.d > as_of\n"
                "label le when c.d <= as_of\nlabel lt when c.d < as_of\nlabel eq when c.d == as_of\n"
                "label ne when c.d != as_of\n", x=[1.0] * 4, d=days)
    labels = [set(filter(None, s.split(","))) for s in column(rows, "labels")]
    assert labels == [{"le", "lt", "ne"}, {"ge", "le", "eq"}, {"ge", "gt", "ne"}, {"ne"}]


def test_compare_takes_a_python_number_on_the_right_as_a_constant_with_the_tolerance():
    from tierwise.engine.expressions import compare

    con = ibis.duckdb.connect()
    t = con.create_table("t", pa.table({"x": [10.0, below(10.0), 10 - 1e-6, None]}))
    got = con.execute(t.select(ge=compare(">=", t.x, 10), eq=compare("==", t.x, 10.0), ne=compare("!=", t.x, 10)))
    assert got["ge"].tolist()[:3] == [True, True, False]
    assert got["eq"].tolist() == [True, True, False, False] and got["ne"].tolist() == [False, False, True, True]


def test_equal_not_equal_and_in_bands_on_numbers_take_float_noise_as_equal():
    # 0.1 + 0.2 is 0.30000000000000004; 3 * 0.1 is 0.30000000000000004; 0.7 = 0.1 * 7 is 0.7000000000000001
    rows = rate("measure v = c.a * 0.1 + c.b * 0.2\n"
                "indicator eq = v weight 25% { == 0.3 -> 9; else -> 1 }\n"
                "indicator ne = v weight 25% { != 0.3 -> 9; else -> 1 }\n"
                "indicator inn = v weight 25% { in (0.3, 0.7) -> 9; else -> 1 }\n"
                "indicator pct = v weight 25% { == 30% -> 9; else -> 1 }\n",
                a=[1.0, 3.0, 7.0, 2.0], b=[1.0, 0.0, 0.0, 1.0])
    assert column(rows, "eq.points") == [9, 9, 1, 1]
    assert column(rows, "ne.points") == [1, 1, 9, 9]
    assert column(rows, "inn.points") == [9, 9, 9, 1]
    assert column(rows, "pct.points") == [9, 9, 1, 1]


def test_text_bands_and_a_missing_value_matches_no_band_not_even_else():
    rows = rate("missing -> points 0\n"
                'indicator t = c.t weight 100% {\n  == "A" -> 9\n  in ("B", "C") -> 6\n  != "D" -> 4\n  else -> 2\n}\n',
                t=["A", "B", "C", "E", "D", None])
    assert column(rows, "t.points") == [9, 6, 6, 4, 2, 0]
    assert column(rows, "missing") == ["", "", "", "", "", "t"]


def test_values_no_band_matches_are_counted_by_the_summary():
    from tierwise.engine.summary import summarise

    text = HEADER + ("missing -> points 0\n"
                     "indicator n = c.x weight 40% {\n  >= 5 -> 9\n  in (1, 2) -> 3\n  0..0.5 -> 1\n}\n"
                     'indicator t = c.t weight 30% {\n  == "A" -> 9\n  in ("B", "C") -> 3\n}\n'
                     "indicator e = c.x weight 30% {\n  >= 5 -> 9\n  else -> 1\n}\n")
    plan, diags, _ = compile_text(text, "edges.tier", REGISTRY)
    assert plan is not None, diags.format()
    con = ibis.duckdb.connect()
    data = pa.table({"id": [f"k{i}" for i in range(7)], "x": [6.0, 1.0, 3.0, None, 2.0, 4.0, 0.25],
                     "t": ["A", "C", "D", None, "B", "E", "A"]})
    result, _ = evaluate_plan(plan, REGISTRY, {"c": con.create_table("c", data)}, AS_OF, con)
    summary = summarise(plan, result, DuckDBBackend(con))
    unmatched = {i.where: i.count for i in summary.issues if i.what.startswith("value matched no band")}
    assert unmatched == {"n": 2, "t": 2}  # 3 and 4; D and E. A missing value is missing, not unmatched; e has else


def test_a_lone_else_band_scores_every_present_value():
    rows = rate("indicator a = c.x weight 100% {\n  else -> 5\n}\n", x=[1.0, -3.0, None])
    assert column(rows, "a.points") == [5, 5, None]


def test_first_band_that_matches_wins():
    rows = rate("indicator f = c.x weight 100% {\n  >= 5 -> 3\n  >= 8 -> 10\n  else -> 1\n}\n", x=[9.0, 6.0, 1.0])
    assert column(rows, "f.points") == [3, 3, 1]


# ---- conditions: != and in on numbers, missing values ----------------------------------------------------

def test_not_equal_and_in_conditions_on_numbers_with_float_noise_and_missing_values():
    rows = rate("measure v = c.a * 0.1 + c.b * 0.2\n"
                "indicator x = c.a weight 100%\n"
                "label eq when v == 0.3\nlabel ne when v != 0.3\nlabel inn when v in (0.3, 2)\n"
                "label notin when v not in (0.3, 2)\nlabel flipped when 0.3 <= v\nlabel btw when v between 0.3 and 0.5\n",
                a=[1.0, 20.0, 2.0, None], b=[1.0, 0.0, 2.0, 1.0])
    labels = [set(filter(None, s.split(","))) for s in column(rows, "labels")]
    assert labels[0] == {"eq", "inn", "flipped", "btw"}  # 0.30000000000000004 is 0.3
    assert labels[1] == {"ne", "inn", "flipped"}  # 2.0
    assert labels[2] == {"ne", "notin", "flipped"}  # 0.6000000000000001: above 0.5, so not between
    assert labels[3] == {"ne", "notin"}  # missing: equals nothing, is in no list, is not >= 0.3


def test_min_max_are_missing_when_an_argument_is_and_coalesce_takes_the_first_present():
    rows = rate("missing -> points 0\n"
                "indicator lo = min(c.a, c.b) weight 25%\nindicator hi = max(c.a, c.b, 2) weight 25%\n"
                "indicator co = coalesce(c.b, c.a, 1) weight 25%\nindicator ab = abs(c.b - c.a) weight 25%\n",
                a=[3.0, 3.0, None, None], b=[5.0, None, None, 4.0])
    assert column(rows, "lo") == [3, None, None, None] and column(rows, "lo.points") == [3, 0, 0, 0]
    assert column(rows, "hi") == [5, None, None, None] and column(rows, "hi.points") == [5, 0, 0, 0]
    assert column(rows, "co") == [5, 3, 1, 4]
    assert column(rows, "ab") == [2, None, None, None]
    assert column(rows, "missing") == ["", "lo,hi,ab", "lo,hi,ab", "lo,hi,ab"]


def test_log_is_missing_for_x_at_or_below_zero_and_for_a_base_at_or_below_zero_or_one():
    rows = rate("missing -> points 0\nindicator n = log(c.x) weight 50%\nindicator b = log(c.x, c.base) weight 50%\n",
                x=[math.e, 8.0, 0.0, -1.0, 8.0, 8.0, 8.0, None, 8.0, 0.5, 1.0],
                base=[math.e, 2.0, 2.0, 2.0, 1.0, 0.0, -2.0, 2.0, 0.5, 2.0, 2.0])
    assert column(rows, "n") == pytest.approx([1, math.log(8), None, None, math.log(8), math.log(8), math.log(8), None,
                                               math.log(8), math.log(0.5), 0])
    assert column(rows, "b") == pytest.approx([1, 3, None, None, None, None, None, None, -3, -1, 0])


def test_log_of_zero_is_missing_in_conditions_too_not_minus_infinity():
    # an indicator's value turns ±inf into missing anyway; a label, a measure or coalesce would see -inf
    rows = rate("measure l = log(c.x)\nmeasure l2 = log(c.x, 2)\nindicator i = c.x weight 100%\n"
                "label tiny when l < -100\nlabel tiny2 when l2 < -100\nlabel none when coalesce(l, 7) == 7\n"
                "label none2 when coalesce(l2, 7) == 7\n", x=[0.0, 1.0, -1.0])
    assert [set(filter(None, s.split(","))) for s in column(rows, "labels")] == [{"none", "none2"}, set(),
                                                                                 {"none", "none2"}]


def test_division_by_zero_is_missing():
    rows = rate("missing -> points 1\nindicator d = c.a / c.b weight 100%\n", a=[6.0, 6.0, 0.0], b=[3.0, 0.0, 0.0])
    assert column(rows, "d") == [2, None, None] and column(rows, "d.points") == [2, 1, 1]


# ---- tiers -------------------------------------------------------------------------------------------------

TIERS = "tier A when score >= 90\ntier B when score >= 75\ntier C when score >= 60\ntier D otherwise\n"


def test_a_score_on_a_tier_cut_through_float_noise_is_in_the_upper_tier():
    # 0.01·7.5 + 0.02·7.5 + 0.97·7.5 is 7.499999999999999 in floating point: exactly 75 on 0..100
    rows = rate("score 0..100\nindicator a = c.a weight 1%\nindicator b = c.b weight 2%\nindicator d = c.d weight 97%\n"
                + TIERS, a=[7.5, 6.0, 9.0], b=[7.5, 6.0, 9.0], d=[7.5, 6.0, 9.0])
    assert column(rows, "score") == pytest.approx([75, 60, 90])
    assert column(rows, "tier") == ["B", "C", "A"]


def test_a_score_one_millionth_below_a_cut_is_below_it():
    rows = rate("indicator a = c.a weight 100%\ntier A when score >= 7.5\ntier B when score > 7.5\ntier C otherwise\n",
                a=[7.5, 7.5 - 1e-6, 7.5 + 1e-6, below(7.5)])
    assert column(rows, "tier") == ["A", "C", "A", "A"]
    rows = rate("indicator a = c.a weight 100%\ntier B when score > 7.5\ntier C otherwise\n",
                a=[7.5, 7.5 - 1e-6, 7.5 + 1e-6, above(7.5)])
    assert column(rows, "tier") == ["C", "C", "B", "C"]


def test_quota_tiers_take_the_floor_and_every_tie_at_the_cut():
    # top 10% of 25 is 2; the 2nd and 3rd tie, so 3 get it. top 2 of the rest: ranks over everyone
    scores = [9.0, 8.0, 8.0] + [5.0] * 20 + [1.0, None]
    rows = rate("missing -> exclude\nindicator a = c.a weight 100%\ntier T top 10%\ntier N top 5\ntier R otherwise\n",
                a=scores)
    tiers = column(rows, "tier")
    assert tiers[:3] == ["T", "T", "T"]
    assert tiers[3:23] == ["N"] * 20  # all 20 tie at rank 4, within the first 5 and their ties
    assert tiers[23:] == ["R", None]


def test_a_percent_quota_of_too_few_customers_is_empty_and_float_noise_ties():
    rows = rate("missing -> exclude\nindicator a = c.a weight 100%\ntier T top 10%\ntier R otherwise\n",
                a=[9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0])
    assert set(column(rows, "tier")) == {"R"}  # 10% of 9 is 0.9: nobody
    # 0.1 + 0.2 (0.30000000000000004) and 0.3 are one score: top 1 takes both
    rows = rate("indicator v = c.a + c.b weight 100%\ntier T top 1\ntier R otherwise\n",
                a=[0.1, 0.3, 0.0], b=[0.2, 0.0, 0.2])
    assert column(rows, "tier") == ["T", "T", "R"]


def test_a_when_tier_can_tier_a_customer_without_a_score_but_otherwise_cannot():
    rows = rate("indicator a = c.a weight 100%\ntier N when c.t == \"new\"\ntier A when score >= 5\ntier Z otherwise\n",
                a=[None, 6.0, 1.0, None], t=["new", "old", None, None])
    assert column(rows, "tier") == ["N", "A", "Z", None]


# ---- normalizers -----------------------------------------------------------------------------------------

def test_zscore_clips_at_three_sigma_not_two_with_the_population_sigma():
    # n values, all 0 but one v: z(v) = sqrt(n - 1). n = 8: z = 2.65 (beyond 2σ, inside 3σ); n = 17: z = 4
    rows = rate("indicator z = c.x weight 100% scale zscore\n", x=[0.0] * 7 + [5.0])
    z = math.sqrt(7)
    assert rows["k7"]["z.points"] == pytest.approx((z + 3) / 6 * 10)
    assert rows["k0"]["z.points"] == pytest.approx((-1 / z + 3) / 6 * 10)
    rows = rate("indicator z = c.x weight 100% scale zscore\n", x=[0.0] * 16 + [5.0, None])
    assert rows["k16"]["z.points"] == 10 and rows["k0"]["z.points"] == pytest.approx((-0.25 + 3) / 6 * 10)
    assert rows["k17"]["z.points"] is None
    rows = rate("indicator z = c.x weight 100% scale zscore(reverse: true)\n", x=[0.0] * 16 + [5.0])
    assert rows["k16"]["z.points"] == 0 and rows["k0"]["z.points"] == pytest.approx(10 - (-0.25 + 3) / 6 * 10)
    # below: z = -4 is clipped at -3σ too; on 1..10 the points run lo + (z + 3)/6·(hi - lo)
    rows = rate("indicator z = c.x weight 100% scale zscore\n", header='source c = csv("c.csv") key id\npoints 1..10\n',
                x=[0.0] * 16 + [-5.0])
    assert rows["k16"]["z.points"] == 1 and rows["k0"]["z.points"] == pytest.approx(1 + (0.25 + 3) / 6 * 9)


def test_zscore_minmax_and_percentile_without_spread_give_the_middle():
    header = 'source c = csv("c.csv") key id\npoints 2..8\nmissing -> exclude\n'
    rows = rate("indicator z = c.x weight 50% scale zscore\nindicator m = c.x weight 50% scale minmax\n",
                header=header, x=[3.0, 3.0, None])
    assert column(rows, "z.points") == [5, 5, None] and column(rows, "m.points") == [5, 5, None]
    rows = rate("indicator p = c.x weight 100% scale percentile\n", header=header, x=[3.0, None])
    assert column(rows, "p.points") == [5, None]  # one value: the middle (two equal ones rank 0: the bottom)


def test_minmax_percentile_and_quintile_by_hand():
    xs = [1.0, 2.0, 2.0, 3.0, 4.0, None]
    rows = rate("indicator m = c.x weight 20% scale minmax\n"
                "indicator p = c.x weight 20% scale percentile\nindicator ph = c.x weight 20% scale percentile(ties: high)\n"
                "indicator q = c.x weight 20% scale quintile\nindicator qh = c.x weight 20% scale quintile(ties: high)\n",
                header='source c = csv("c.csv") key id\npoints 1..10\nmissing -> exclude\n', x=xs)
    assert column(rows, "m.points")[:5] == pytest.approx([1, 4, 4, 7, 10]) and rows["k5"]["m.points"] is None
    assert column(rows, "p.points")[:5] == pytest.approx([1, 3.25, 3.25, 7.75, 10]) and rows["k5"]["p.points"] is None
    assert column(rows, "ph.points")[:5] == pytest.approx([1, 5.5, 5.5, 7.75, 10]) and rows["k5"]["ph.points"] is None
    # quintile q = 1 + floor(5r/n), n = 5: ranks 0,1,1,3,4 -> 1,2,2,4,5; ties high: 0,2,2,3,4 -> 1,3,3,4,5
    assert column(rows, "q.points")[:5] == pytest.approx([1, 3.25, 3.25, 7.75, 10]) and rows["k5"]["q.points"] is None
    assert column(rows, "qh.points")[:5] == pytest.approx([1, 5.5, 5.5, 7.75, 10]) and rows["k5"]["qh.points"] is None
    rows = rate("indicator m = c.x weight 50% scale minmax(reverse: true)\n"
                "indicator p = c.x weight 50% scale percentile(reverse: true)\n",
                header='source c = csv("c.csv") key id\npoints 1..10\nmissing -> exclude\n', x=xs)
    assert column(rows, "m.points")[:5] == pytest.approx([10, 7, 7, 4, 1])  # p -> lo + hi - p
    assert column(rows, "p.points")[:5] == pytest.approx([10, 7.75, 7.75, 3.25, 1])


def test_percentile_of_two_and_quintiles_of_ten():
    header = 'source c = csv("c.csv") key id\npoints 0..8\n'
    rows = rate("indicator p = c.x weight 100% scale percentile\n", header=header, x=[5.0, 1.0])
    assert column(rows, "p.points") == [8, 0]
    rows = rate("indicator q = c.x weight 100% scale quintile\n", header=header, x=[float(v) for v in range(10)])
    assert column(rows, "q.points") == [0, 0, 2, 2, 4, 4, 6, 6, 8, 8]  # q = 1 + floor(5r/10): two per quintile


def test_values_equal_but_for_float_noise_tie_in_a_rank():
    # 0.1 + 0.2 is 0.30000000000000004 in doubles, 0.3 + 0 is 0.3: equal numbers, so they share a rank
    # (ranking the raw doubles put them 1 apart: points 0 and 4 of 0..8 instead of 0 and 0); the same for
    # noise near zero against an exact 0 (3·0.1 - 0.3 is 5.6e-17)
    header = 'source c = csv("c.csv") key id\npoints 0..8\n'
    body = ("indicator p = c.x + c.y weight 25% scale percentile\nindicator ph = c.x + c.y weight 25% scale percentile(ties: high)\n"
            "indicator q = c.x + c.y weight 25% scale quintile\nindicator qh = c.x + c.y weight 25% scale quintile(ties: high)\n")
    rows = rate(body, header=header, x=[0.1, 0.3, 1.0, 2.0, 3.0], y=[0.2, 0.0, 0.0, 0.0, 0.0])
    assert column(rows, "p")[:2] == [0.30000000000000004, 0.3]
    assert column(rows, "p.points") == pytest.approx([0, 0, 4, 6, 8])
    assert column(rows, "ph.points") == pytest.approx([2, 2, 4, 6, 8])
    assert column(rows, "q.points") == pytest.approx([0, 0, 4, 6, 8])  # q = 1 + floor(5r/5): ranks 0,0,2,3,4
    assert column(rows, "qh.points") == pytest.approx([2, 2, 4, 6, 8])  # ties high: ranks 1,1,2,3,4
    rows = rate("indicator p = c.x * 3 - c.y weight 100% scale percentile\n", header=header,
                x=[0.1, 0.0, 1.0], y=[0.3, 0.0, 0.0])
    assert rows["k0"]["p"] != 0 and column(rows, "p.points") == pytest.approx([0, 0, 8])
    # values apart by more than the noise stay apart
    rows = rate("indicator p = c.x weight 100% scale percentile\n", header=header, x=[0.3, 0.3000000001, 1.0])
    assert column(rows, "p.points") == pytest.approx([0, 4, 8])


# ---- scoring: weights, missing policies, additive caps -----------------------------------------------------

def test_exclude_re_spreads_weights_and_error_leaves_no_score():
    rows = rate("score 0..100\n"
                "dimension D weight 60% {\n  indicator a = c.a weight 25% missing -> exclude\n"
                "  indicator b = c.b weight 75% missing -> exclude\n}\n"
                "indicator e = c.e weight 40% missing -> points 5\n",
                a=[8.0, None, None], b=[4.0, 4.0, None], e=[10.0, None, 10.0])
    assert column(rows, "D") == [5, 4, None]
    # k0: 0.6·5 + 0.4·10 = 7; k1: 0.6·4 + 0.4·5 = 4.4; k2: D excluded, e alone = 10
    assert column(rows, "score") == pytest.approx([70, 44, 100])
    rows = rate("missing -> error\nindicator a = c.a weight 50%\nindicator b = c.b weight 50% missing -> points 2\n",
                a=[4.0, None], b=[None, 6.0])
    assert column(rows, "score") == [3, None] and column(rows, "tier") == [None, None]
    # an error indicator beside an excluded one: the dimension may not be dropped as if excluded
    rows = rate("dimension D weight 50% {\n  indicator a = c.a weight 50% missing -> exclude\n"
                "  indicator b = c.b weight 50% missing -> error\n}\nindicator e = c.e weight 50%\n",
                a=[2.0, 2.0, None], b=[4.0, None, 4.0], e=[6.0, 6.0, 6.0])
    assert column(rows, "score") == [4.5, None, 5]


def test_the_score_without_a_score_range_is_the_composite_and_with_one_is_scaled_by_the_top_of_points():
    rows = rate("indicator a = c.a weight 100%\n", header='source c = csv("c.csv") key id\npoints 1..5\n', a=[4.0])
    assert rows["k0"]["score"] == 4
    rows = rate("indicator a = c.a weight 100%\n", header='source c = csv("c.csv") key id\npoints 1..5\nscore 0..100\n',
                a=[4.0])
    assert rows["k0"]["score"] == 80


ADDITIVE = 'source c = csv("c.csv") key id\npoints -50..50\nscoring additive base 100\ncap 160\nmissing -> points 0\n'


def test_additive_caps_bind_exactly_and_negative_points_subtract():
    rows = rate("indicator a = c.a cap 10\n"
                "dimension D cap 30 {\n  indicator p = c.p\n  indicator q = c.q { >= 0 -> 20; else -> -40 }\n}\n"
                "indicator e = c.e missing -> exclude\n",
                header=ADDITIVE, a=[10.0, 10.5, 9.5, None, 50.0], p=[10.0, 10.5, -5.0, None, 50.0],
                q=[1.0, 1.0, -1.0, None, 1.0], e=[0.0, -3.0, None, None, 50.0])
    assert column(rows, "a.points") == [10, 10, 9.5, 0, 10]
    assert column(rows, "D") == [30, 30, -45, 0, 30]
    # 100 + a + D + e, the total capped at 160
    assert column(rows, "score") == [140, 137, 64.5, 100, 160]


def test_additive_exclude_counts_a_missing_indicator_as_nothing_inside_a_dimension_too():
    rows = rate("dimension D {\n  indicator p = c.p missing -> exclude\n  indicator q = c.q missing -> exclude\n}\n"
                "indicator e = c.e missing -> exclude\n",
                header='source c = csv("c.csv") key id\npoints -50..50\nscoring additive base 7\n',
                p=[3.0, None, None], q=[-1.0, 4.0, None], e=[None, 1.0, None])
    assert column(rows, "D") == [2, 4, 0]
    assert column(rows, "score") == [9, 12, 7]


def test_additive_error_inside_a_dimension_leaves_the_dimension_and_the_score_missing():
    rows = rate("dimension D {\n  indicator a = c.a missing -> error\n  indicator b = c.b missing -> exclude\n}\n",
                header='source c = csv("c.csv") key id\npoints -50..50\nscoring additive base 5\n',
                a=[2.0, None, 2.0], b=[3.0, 3.0, None])
    assert column(rows, "D") == [5, None, 2] and column(rows, "score") == [10, None, 7]


def test_additive_error_policy_leaves_no_score_and_a_cap_keeps_missing_missing():
    rows = rate("indicator a = c.a cap 10 missing -> error\n",
                header='source c = csv("c.csv") key id\npoints -50..50\nscoring additive base 5\n', a=[20.0, None])
    assert column(rows, "a.points") == [10, None] and column(rows, "score") == [15, None]


# ---- aggregates ----------------------------------------------------------------------------------------------

def test_aggregates_with_where_and_within_and_a_customer_without_rows():
    orders = {"id": ["k0", "k0", "k0", "k1"], "amt": [10.0, 20.0, None, 5.0],
              "st": ["paid", "refund", "paid", "paid"],
              "dt": [date(2026, 6, 30), date(2025, 12, 30), date(2025, 12, 29), date(2026, 7, 1)]}
    header = 'source c = csv("c.csv") key id\nsource o = csv("o.csv") key id\npoints 0..100\n'
    rows = rate("indicator s = sum(o.amt where o.dt within 6 months) weight 20%\n"
                "indicator n = count(o where o.st == \"paid\") weight 20%\n"
                "indicator a = avg(o.amt) weight 20%\nindicator mx = max(o.amt where o.st != \"paid\") weight 20%\n"
                "indicator d = count_distinct(o.st) weight 20%\n", header=header, orders=orders, x=[1.0, 2.0, 3.0])
    assert column(rows, "s") == [30, 0, 0]  # 2025-12-30 is the first day of the 6 months; 2026-07-01 is after as_of
    assert column(rows, "n") == [2, 1, 0]
    assert column(rows, "a") == [15, 5, None]
    assert column(rows, "mx") == [20, None, None]
    assert column(rows, "d") == [2, 1, 0]


def test_population_mean_median_and_percentile_in_segments():
    rows = rate("measure m = c.x\nindicator i = c.x weight 100%\n"
                "label hi when m >= mean(m)\nlabel mid when m == median(m)\nlabel top when m >= percentile(m, 75%)\n"
                "segment S {\n  big when m > percentile(m, 75%)\n  small when m < median(m)\n  rest otherwise\n}\n",
                x=[1.0, 2.0, 4.0, 9.0, None])
    # of 1, 2, 4, 9: mean 4, median 3, 75th percentile at position 2.25: 4 + 0.25·5 = 5.25
    assert [set(filter(None, s.split(","))) for s in column(rows, "labels")] == [set(), set(), {"hi"}, {"hi", "top"},
                                                                                 set()]
    assert column(rows, "S") == ["small", "small", "rest", "big", "rest"]


def test_a_segment_of_only_otherwise_and_one_without_otherwise():
    rows = rate("indicator i = c.x weight 100%\nsegment All {\n  everyone otherwise\n}\n"
                "segment Some {\n  big when c.x >= 5\n  small when c.x < 2\n}\n", x=[6.0, 1.0, 3.0, None])
    assert column(rows, "All") == ["everyone"] * 4
    assert column(rows, "Some") == ["big", "small", None, None]  # no case matched, no otherwise: missing


def test_within_days_weeks_months_and_years_include_their_first_day():
    days = [date(2026, 6, 20), date(2026, 6, 19), date(2026, 6, 16), date(2026, 6, 15), date(2025, 12, 30),
            date(2025, 12, 29), date(2025, 6, 30), date(2025, 6, 29), date(2026, 7, 1), date(2026, 5, 31),
            date(2026, 5, 30)]
    orders = {"id": ["k0"] * len(days), "amt": [1.0] * len(days), "dt": days}
    header = 'source c = csv("c.csv") key id\nsource o = csv("o.csv") key id\npoints 0..100\n'
    rows = rate("indicator d = count(o where o.dt within 10 days) weight 20%\n"
                "indicator w = count(o where o.dt within 2 weeks) weight 20%\n"
                "indicator m = count(o where o.dt within 6 months) weight 20%\n"
                "indicator m1 = count(o where o.dt within 1 months) weight 20%\n"
                "indicator y = count(o where o.dt within 1 years) weight 20%\n", header=header, orders=orders, x=[1.0])
    assert AS_OF == date(2026, 6, 30)
    assert rows["k0"]["d"] == 1  # 06-20 .. 06-30
    assert rows["k0"]["w"] == 3  # 06-16 .. 06-30
    assert rows["k0"]["m"] == 7  # 2025-12-30 .. 06-30
    assert rows["k0"]["m1"] == 6  # 05-30 .. 06-30
    assert rows["k0"]["y"] == 9  # 2025-06-30 .. 06-30 (not 2025-06-29, not 07-01)


def test_population_aggregates_of_a_per_customer_value():
    rows = rate("measure m = c.x\n"
                "indicator mean = mean(m) weight 10%\nindicator med = median(m) weight 10%\n"
                "indicator p = percentile(m, 25%) weight 10%\nindicator sd = stddev(m) weight 10%\n"
                "indicator n = count(m) weight 10%\nindicator nd = count_distinct(m) weight 10%\n"
                "indicator lo = min(m) weight 10%\nindicator hi = max(m) weight 10%\nindicator s = sum(m) weight 10%\n"
                "indicator a = avg(m) weight 10%\n", x=[1.0, 3.0, 3.0, 9.0, None])
    r = rows["k4"]  # the same for everyone, the customer without a value too
    assert (r["mean"], r["med"], r["p"], r["n"], r["nd"], r["lo"], r["hi"], r["s"], r["a"]) == (4, 3, 2.5, 4, 3, 1, 9, 16, 4)
    assert r["sd"] == pytest.approx(math.sqrt((9 + 1 + 1 + 25) / 4))  # the population σ, not the sample's


def test_blank_text_is_missing_and_a_literal_on_the_left_is_flipped_with_the_tolerance():
    rows = rate("measure w = c.a * 0.7\nindicator i = c.a weight 100%\n"
                'label blank when c.t == ""\nlabel filled when c.t != ""\nlabel blank_left when "" == c.t\n'
                "label flip when 2.1 <= w\nlabel flip_gt when 2.1 > w\n",
                a=[3.0, 1.0, 3.0], t=["A", "", None])
    labels = [set(filter(None, s.split(","))) for s in column(rows, "labels")]
    assert labels == [{"filled", "flip"}, {"blank", "blank_left", "flip_gt"}, {"blank", "blank_left", "flip"}]


def test_a_computed_empty_text_is_blank_too():
    # a source's empty cell is missing already; coalesce(c.t, "") makes a present "" that `== ""` must still see
    rows = rate('indicator i = c.a weight 100%\nlabel blank when coalesce(c.t, "") == ""\n'
                'label filled when coalesce(c.t, "") != ""\nlabel blank_left when "" == coalesce(c.t, "")\n',
                a=[1.0, 1.0, 1.0], t=["A", "", None])
    labels = [set(filter(None, s.split(","))) for s in column(rows, "labels")]
    assert labels == [{"filled"}, {"blank", "blank_left"}, {"blank", "blank_left"}]


def test_two_missing_values_are_not_equal():
    """A missing value equals nothing, another missing value included (x == y is false, x != y true)."""
    rows = rate("missing -> points 0\nindicator i = c.a weight 100%\nlabel same when c.a == c.b\n"
                "label differ when c.a != c.b\n", a=[None, 1.0, 2.0], b=[None, 1.0, None])
    assert [set(filter(None, s.split(","))) for s in column(rows, "labels")] == [{"differ"}, {"same"}, {"differ"}]


def test_two_computed_numbers_within_float_noise_compare_as_equal():
    # the mean of three 0.1s is 0.10000000000000002 in floating point: each customer IS the mean
    rows = rate("label 高于均值 when c.r >= mean(c.r)\nlabel 等于均值 when c.r == mean(c.r)\n"
                "label 低于均值 when c.r < mean(c.r)\n"
                "indicator r = c.r weight 100%\n", r=[0.1, 0.1, 0.1])
    assert column(rows, "labels") == ["高于均值,等于均值"] * 3
    # a real difference still counts: 0.1 against the mean 0.4 of (0.1, 0.1, 1.0)
    rows = rate("label 高于均值 when c.r >= mean(c.r)\nindicator r = c.r weight 100%\n", r=[0.1, 0.1, 1.0])
    assert column(rows, "labels") == ["", "", "高于均值"]


def test_unary_minus_and_division_by_one_and_by_zero():
    rows = rate("label 负 when -c.x > 1\nlabel 商 when c.x / c.d == 4\nindicator x = c.x weight 100% scale minmax\n",
                x=[-2.0, 4.0, 4.0], d=[1.0, 1.0, 0.0])
    assert [rows[f"k{i}"]["labels"] for i in range(3)] == ["负", "商", ""]  # x / 0 is missing: no label
