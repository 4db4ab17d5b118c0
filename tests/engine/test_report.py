"""What the report shows, gathered from a result: tier cuts, histograms (bins by query), segment sizes."""
from __future__ import annotations

import pyarrow as pa
import pytest

from tierwise.engine.backends import open_backend
from tierwise.engine.build import compile_text
from tierwise.engine.plugin_manager import default_registry
from tierwise.engine.report import nice_bins, result_facts, tier_cuts

RULES = """\
ruleset "R"
source customers = csv("c.csv") key k
points 1..10
score 0..100
dimension 价值 weight 50% {
  indicator a = customers.a weight 100%
}
dimension 稳定 weight 50% {
  indicator b = customers.b weight 100%
}
tier S top 2
tier A when score >= 90 expect 10%..15%
tier B when 75 <= score
tier C when score > 60
tier D otherwise
segment 分群 {
  高 when a >= 8
  中 when a >= 5
}
"""


@pytest.fixture
def plan():
    plan, diags, _ = compile_text(RULES, "r.tier", default_registry())
    assert plan is not None, diags.items
    return plan


def test_the_cuts_are_the_score_tiers_written_either_way_and_the_lowest_score_of_a_quota_tier(plan):
    cuts = tier_cuts(plan, {"S": 97.5})
    assert [(c.tier, c.value, c.op, c.quota) for c in cuts] == [
        ("S", 97.5, ">=", True), ("A", 90.0, ">=", False), ("B", 75.0, ">=", False), ("C", 60.0, ">", False)]
    assert [c.tier for c in tier_cuts(plan)] == ["A", "B", "C"]  # no quota cut without the result's


@pytest.mark.parametrize("lo, hi, want", [
    (0, 100, (0, 2.5, 40)), (1, 10, (1, 0.25, 36)), (-37, 512, (-40, 20, 28)), (5, 5, (5, 1, 1)),
])
def test_bins_have_round_widths(lo, hi, want):
    start, width, count = nice_bins(lo, hi)
    assert (start, width, count) == pytest.approx(want)
    assert start <= lo and start + width * count >= hi


def test_histograms_count_every_customer_once_with_scores_on_a_cut_in_the_bin_above_it(plan):
    scores = [100.0, 99.0, 90.0, 89.99999999999997, 89.9, 75.0, 60.0, 0.0, None]
    dims = [10.0, 9.0, 1.0, 5.0, 5.0, 5.5, 1.0, 1.0, None]
    tiers = ["S", "S", "A", "A", "B", "B", "D", "D", None]
    table = pa.table({"k": [f"K{i}" for i in range(len(scores))], "score": scores, "tier": tiers,
                      "价值": dims, "稳定": dims, "分群": ["高", "高", None, "中", "中", "中", None, None, None]})
    be = open_backend("duckdb")
    try:
        facts = result_facts(plan, be.from_arrow(table, "result"), be)
    finally:
        be.close()
    h = facts.score
    assert (h.lo, h.width, len(h.counts), h.missing, h.total) == (0, 2.5, 40, 1, 8)
    assert h.counts[36] == 2  # 90 and 90 less float noise: on the cut, as the tiers count them
    assert h.counts[35] == 1  # 89.9
    assert h.counts[39] == 2  # 99 and 100 (the top edge is in the last bin)
    assert h.counts[0] == 1 and h.counts[30] == 1 and h.counts[24] == 1
    assert set(facts.dimensions) == {"价值", "稳定"}
    d = facts.dimensions["价值"]
    assert (d.lo, d.width, d.total, d.missing) == (1, 0.25, 8, 1)
    assert d.counts[0] == 3 and d.counts[-1] == 1 and d.counts[16] == 2  # 1 ×3; 10 in the last bin; 5 ×2
    assert facts.quota_cuts == {"S": 99.0}
    [seg] = facts.segments
    assert seg.name == "分群" and seg.counts == [("高", 2), ("中", 3), (None, 4)]  # the rule file's order


def test_a_result_without_the_report_columns_gives_no_charts_for_them(plan):
    be = open_backend("duckdb")
    try:
        facts = result_facts(plan, be.from_arrow(pa.table({"k": ["K1"], "score": [50.0]}), "narrow"), be)
    finally:
        be.close()
    assert facts.score.total == 1 and facts.dimensions == {} and facts.segments == [] and facts.quota_cuts == {}
