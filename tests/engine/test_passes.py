"""The compile passes: the interval set the band and tier checks use."""
from __future__ import annotations

import math

from hypothesis import assume, given, settings, strategies as st

from tierwise.engine.checks import IntervalSet, _intersect, _nonempty, difference

ends = st.sampled_from([-math.inf, -2.0, -1.0, 0.0, 0.5, 1.0, 2.0, 3.0, math.inf])
intervals = st.tuples(ends, st.booleans(), ends, st.booleans()).map(
    lambda t: (min(t[0], t[2]), t[1] and min(t[0], t[2]) != -math.inf, max(t[0], t[2]),
               t[3] and max(t[0], t[2]) != math.inf))


@settings(max_examples=400)
@given(st.lists(intervals, max_size=8), intervals)
def test_interval_set_covers_what_the_pairwise_difference_says(added, probe):
    assume(_nonempty(probe))
    s = IntervalSet(added)
    assert s.covers(probe) == (not difference([probe], added))
    assert s.gaps() == sorted(s.gaps())
    assert bool(s.gaps()) == bool(difference([(-math.inf, False, math.inf, False)], added))
    for gap in s.gaps():  # a gap is never covered, and nothing added lies in it
        assert not s.covers(gap)
        assert not any(_nonempty(_intersect(gap, iv)) for iv in added)


# ---- the passes over the Plan ------------------------------------------------------------------------

from datetime import date  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from tierwise.engine import coerce, dates, evaluate  # noqa: E402
from tierwise.engine import plan as P  # noqa: E402
from tierwise.engine.build import compile_text  # noqa: E402
from tierwise.engine.plugin_manager import default_registry  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
RULESETS = sorted((ROOT / "rulesets").glob("*.tier")) + sorted((Path(__file__).parent / "plan_golden").glob("*.tier"))


def compiled(text: str) -> P.Plan:
    plan, diags, _ = compile_text(text, "t.tier", default_registry())
    assert plan is not None, diags.format()
    return plan


@pytest.mark.parametrize("path", RULESETS, ids=[p.stem for p in RULESETS])
def test_every_use_of_a_column_carries_the_one_type_it_is_read_as(path):
    plan = compiled(path.read_text(encoding="utf-8"))
    uses = [n for n in plan.nodes() if isinstance(n, (P.Col, P.RowCol))]
    assert uses
    types = plan.column_types
    for n in uses:
        assert n.type == types[(n.source, n.column)], n
        assert n.span is not None and n.span.line > 0


def test_a_column_typed_by_a_later_use_is_typed_on_its_earlier_uses_too():
    plan = compiled('source c = csv("c.csv") key id\n'
                    'measure m = c.x\n'  # resolved first: nothing here says what c.x is
                    'indicator v = c.x weight 100% {\n  >= 5 -> 10\n  else -> 1\n}\n')  # a number
    assert plan.measures["m"] == P.Col("c", "x", "number")
    assert {n.type for n in plan.nodes() if isinstance(n, P.Col)} == {"number"}


def test_one_walk_over_plan_expressions():
    assert evaluate.walk is P.walk
    e = P.Logic("and", P.Cmp(">=", P.Ref("score"), P.Lit(90, "number")),
                P.InList(P.Col("c", "g"), (P.Lit("A", "string"), P.Lit("B", "string"))))
    assert [type(n).__name__ for n in P.walk(e)] == ["Logic", "Cmp", "Ref", "Lit", "InList", "Col", "Lit", "Lit"]
    deep: P.Expr = P.Lit(1, "number")
    for _ in range(5000):  # iterative: no recursion limit
        deep = P.Neg(deep)
    assert sum(1 for _ in P.walk(deep)) == 5001


def test_the_dependency_graph_is_recorded_once_in_the_plan():
    plan = compiled('source c = csv("c.csv") key id\nmeasure m = c.a * 2\n'
                    'indicator v = m weight 100%\nlabel L when v > 5 and score > 1\ntier A otherwise\n')
    assert plan.deps[("value", "v")] == {("measure", "m")}
    assert plan.deps[("label", "L")] == {("points", "v"), ("score", "")}
    assert plan.deps[("score", "")] == {("points", "v")}
    assert plan.spans[("label", "L")].line == 4


def test_trigger_effects_and_expectations_are_typed():
    plan = compiled('source c = csv("c.csv") key id\nindicator v = c.a weight 100%\n'
                    'tier A when score >= 5\ntier B otherwise\n'
                    'trigger t when change(v) < -30% -> rerate, cap tier at B\n'
                    'example "e" {\n  points v 6\n  expect score 6 ± 0.1, tier A\n}\n')
    assert plan.triggers[0].effects == [P.TriggerEffect("rerate"), P.TriggerEffect("cap", tier="B")]
    assert plan.triggers[0].effects[1].span.line == 5
    assert plan.examples[0].expectations == [P.Expectation("score", score=6, tolerance=0.1),
                                             P.Expectation("tier", name="A")]
    assert plan.tiers[0].span.line == 3 and plan.label_rules == []


def test_one_table_of_date_spellings():
    assert coerce.DATE_FORMATS == dates.STRPTIME_FORMATS
    for s in dates.SPELLINGS:
        assert dates.parse_date(s.example) == date(2026, 6, 30), s
    assert dates.parse_date("2026.6.31") is None and dates.date_hint("2026.6.31") == "month 6 has no day 31"


def test_a_data_cell_reads_every_spelling_a_rule_literal_does():
    import ibis

    con = ibis.duckdb.connect()
    t = ibis.memtable({"d": [s.example for s in dates.SPELLINGS]})
    got = con.execute(t.select(d=coerce.parse_date(t.d)))["d"].tolist()
    assert [g.date() if hasattr(g, "date") else g for g in got] == [date(2026, 6, 30)] * len(dates.SPELLINGS)
