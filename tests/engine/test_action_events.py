"""When an action fires: `on tier X`, `enter X`, `leave X`, `upgrade`, `downgrade`, `trigger NAME`,
`label NAME` against the customer's last stored final tier. Random pairs of consecutive ratings
(last final tier × fresh data × overrides) against a plain reference."""
from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tierwise.engine import columns as C
from tierwise.engine.backends import open_backend
from tierwise.engine.build import compile_text
from tierwise.engine.deliver import decide
from tierwise.engine.evaluate import evaluate
from tierwise.engine.plugin_manager import default_registry

AS_OF = date(2026, 6, 30)
TIERS = ["A", "B", "C"]
RULES = """source c = csv("c.csv") key id
points 0..100
indicator 分 = c.分 weight 100%
tier A when score >= 80
tier B when score >= 50
tier C otherwise
label 低分 when score < 20
trigger 投诉 when c.投诉 == 1 -> rerate, cap tier at B
on tier B -> log(message: "b")
on enter A -> log(message: "in A"), log(message: "again")
on leave A -> log(message: "out A")
on enter C -> log(message: "in C")
on upgrade -> log(message: "up")
on downgrade -> log(message: "down")
on trigger 投诉 -> log(message: "complaint")
on label 低分 -> log(message: "low")
"""


@pytest.fixture(scope="module")
def plan():
    p, diags, _ = compile_text(RULES, "t.tier", default_registry())
    assert p is not None, diags.format()
    return p


def reference(score: float | None, complaint: int, override: str | None, last: str | None) -> set[str]:
    """The `on` lines that fire for one customer, by hand."""
    computed = None if score is None else "A" if score >= 80 else "B" if score >= 50 else "C"
    final = computed
    if final is not None and complaint == 1 and final == "A":
        final = "B"
    if override is not None:
        final = override
    fired = set()
    rank = {t: i for i, t in enumerate(TIERS)}
    if final == "B":
        fired.add("tier B")
    if final == "A" and last != "A":
        fired |= {"enter A"}
    if last == "A" and final != "A":
        fired.add("leave A")
    if final == "C" and last != "C":
        fired.add("enter C")
    if final in rank and last in rank and rank[final] < rank[last]:
        fired.add("upgrade")
    if final in rank and last in rank and rank[final] > rank[last]:
        fired.add("downgrade")
    if complaint == 1:
        fired.add("trigger 投诉")
    if score is not None and score < 20:
        fired.add("label 低分")
    return fired


rating = st.tuples(st.one_of(st.none(), st.sampled_from([95.0, 80.0, 79.99, 50.0, 30.0, 10.0])),
                   st.integers(0, 1), st.one_of(st.none(), st.sampled_from(TIERS)),
                   st.one_of(st.none(), st.sampled_from(TIERS)))


@settings(max_examples=40, deadline=None)
@given(st.lists(rating, min_size=1, max_size=20))
def test_events_against_the_reference(plan, customers):
    be = open_backend("duckdb")
    try:
        ids = [f"K{i}" for i in range(len(customers))]
        data = be.from_arrow(pa.table({"id": pa.array(ids, pa.string()),
                                       "分": pa.array([c[0] for c in customers], pa.float64()),
                                       "投诉": pa.array([float(c[1]) for c in customers], pa.float64())}), "c")
        prev = be.from_arrow(pa.table({"id": pa.array(ids, pa.string()),
                                       "tier": pa.array([c[3] for c in customers], pa.string())}), "prev")
        ov = [(k, c[2]) for k, c in zip(ids, customers) if c[2] is not None]
        overrides = be.from_arrow(pa.table({"id": pa.array([k for k, _ in ov], pa.string()),
                                            "tier": pa.array([t for _, t in ov], pa.string())}), "ov")
        columns = [plan.key_column, "score", "tier", "final_tier", "previous_tier", "labels", "triggers"]
        ev = evaluate(plan, {"c": data}, AS_OF, None, prev, overrides, backend=be, columns=columns)
        got: dict[str, set[str]] = {k: set() for k in ids}
        keys = set()
        for d in decide(plan, ev.table, "run-1", be):
            got[d.customer].add(d.rule)
            keys.add(d.key)
            assert d.previous_tier == customers[ids.index(d.customer)][3]
    finally:
        be.close()
    assert got == {k: reference(*c) for k, c in zip(ids, customers)}
    # one delivery per (run, customer, action): `on enter A` has two actions, two keys
    enter_a = [k for k, c in zip(ids, customers) if "enter A" in reference(*c)]
    assert {f"run-1:2.1:{k}" for k in enter_a} | {f"run-1:2.2:{k}" for k in enter_a} <= keys


def test_a_first_rating_enters_its_tier(plan):
    be = open_backend("duckdb")
    try:
        data = be.from_arrow(pa.table({"id": ["K1", "K2"], "分": [90.0, 10.0], "投诉": [0.0, 0.0]}), "c")
        ev = evaluate(plan, {"c": data}, AS_OF, None, backend=be,
                      columns=[plan.key_column, *C.default_columns(plan), "previous_tier", "labels", "triggers"])
        fired = {(d.customer, d.rule) for d in decide(plan, ev.table, "r", be)}
    finally:
        be.close()
    assert fired == {("K1", "enter A"), ("K2", "enter C"), ("K2", "label 低分")}
