"""Trigger effects on the final tier: `cap tier at X`, `downgrade N`, in the triggers' order; an approved
override above them; the computed tier below. Checked against a plain reference on random customers."""
from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tierwise.engine.backends import open_backend
from tierwise.engine.build import compile_text
from tierwise.engine.evaluate import evaluate
from tierwise.engine.plugin_manager import default_registry

AS_OF = date(2026, 6, 30)
TIERS = ["A", "B", "C", "D"]
RULES = """source c = csv("c.csv") key id
points 0..100
indicator 分 = c.分 weight 100%
tier A when score >= 90
tier B when score >= 75
tier C when score >= 60
tier D otherwise
trigger 下滑 when change(分) <= -30% -> rerate, downgrade 1
trigger 投诉 when c.投诉 == 1 -> rerate, cap tier at B
trigger 预警 when c.预警 == 1 -> rerate, downgrade 2, review
"""


@pytest.fixture(scope="module")
def plan():
    p, diags, _ = compile_text(RULES, "t.tier", default_registry())
    assert p is not None, diags.format()
    return p


def reference(score: float | None, last: float | None, complaint: int, alert: int, override: str | None) -> str | None:
    """The final tier by hand: override, else trigger effects in order, else the computed tier."""
    if override in TIERS:
        return override
    if score is None:
        return None
    i = 0 if score >= 90 else 1 if score >= 75 else 2 if score >= 60 else 3
    if last not in (None, 0) and (score - last) / last <= -0.3 + 1e-9:
        i = min(i + 1, 3)
    if complaint == 1:
        i = max(i, 1)
    if alert == 1:
        i = min(i + 2, 3)
    return TIERS[i]


customer = st.tuples(st.one_of(st.none(), st.sampled_from([95.0, 90.0, 80.0, 75.0, 61.0, 30.0])),
                     st.one_of(st.none(), st.sampled_from([0.0, 100.0, 130.0, 95.0, 40.0])),
                     st.integers(0, 1), st.integers(0, 1), st.one_of(st.none(), st.sampled_from(["A", "D", "Z"])))


@settings(max_examples=40, deadline=None)
@given(st.lists(customer, min_size=1, max_size=25))
def test_final_tier_against_the_reference(plan, customers):
    be = open_backend("duckdb")
    try:
        ids = [f"K{i}" for i in range(len(customers))]
        data = be.from_arrow(pa.table({"id": pa.array(ids, pa.string()),
                                       "分": pa.array([c[0] for c in customers], pa.float64()),
                                       "投诉": pa.array([float(c[2]) for c in customers], pa.float64()),
                                       "预警": pa.array([float(c[3]) for c in customers], pa.float64())}), "c")
        prev = be.from_arrow(pa.table({"id": ids, "分": [c[1] for c in customers]}, schema=pa.schema(
            [("id", pa.string()), ("分", pa.float64())])), "prev")
        ov = [(k, c[4]) for k, c in zip(ids, customers) if c[4] is not None]
        overrides = be.from_arrow(pa.table({"id": [k for k, _ in ov], "tier": [t for _, t in ov]},
                                           schema=pa.schema([("id", pa.string()), ("tier", pa.string())])), "ov")
        ev = evaluate(plan, {"c": data}, AS_OF, None, prev, overrides)
        got = {r["id"]: r["final_tier"] for r in be.fetch_rows(ev.table)}
    finally:
        be.close()
    assert got == {k: reference(*c) for k, c in zip(ids, customers)}


def test_the_final_tier_is_in_the_default_output_when_triggers_move_tiers(plan):
    be = open_backend("duckdb")
    try:
        data = be.from_arrow(pa.table({"id": ["K1"], "分": [95.0], "投诉": [1.0], "预警": [0.0]}), "c")
        ev = evaluate(plan, {"c": data}, AS_OF, None)
        [row] = be.fetch_rows(ev.table)
    finally:
        be.close()
    assert "final_tier" in ev.columns and (row["tier"], row["final_tier"]) == ("A", "B")
