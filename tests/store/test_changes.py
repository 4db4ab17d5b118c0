"""`changes`: the migration matrix between two stored runs, the movers and why they moved."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

from tierwise.engine.changes import compare_runs
from tierwise.engine.store import RunRecord, Store


def run(run_id: str, minutes: int) -> RunRecord:
    return RunRecord(id=run_id, kind="periodic", ruleset="R", version=None, text_hash="h", rule_text="",
                     rule_file="r.tier", as_of=date(2026, 6, 30), started_by="me",
                     started_at=datetime(2026, 7, 1, tzinfo=timezone.utc) + timedelta(minutes=minutes),
                     tier_counts={"A": 0, "B": 0, "C": 0})


def rating(customer: str, tier: str | None, score: float | None, **points: float) -> dict:
    return {"customer": customer, "final_tier": tier, "computed_tier": tier, "score": score,
            "points": json.dumps(points, ensure_ascii=False)}


def test_the_matrix_counts_final_tiers_and_movers_say_which_points_changed(store_url):
    store = Store.open(store_url)
    store.record(run("q1", 0), [rating("K1", "A", 92, 年交易额=10, 续约率=9), rating("K2", "B", 80, 年交易额=8, 续约率=7),
                                rating("K3", "B", 78, 年交易额=8, 续约率=7), rating("K4", "C", 60, 年交易额=5, 续约率=5),
                                rating("K5", "C", 61)])
    store.record(run("q2", 1), [rating("K1", "B", 85, 年交易额=8, 续约率=9), rating("K2", "B", 80, 年交易额=8, 续约率=7),
                                rating("K3", "A", 91, 年交易额=10, 续约率=10), rating("K4", None, None, 年交易额=5),
                                rating("K6", "A", 95)])
    before, after = store.run("q1"), store.run("q2")
    ch = compare_runs(store, before, after)
    assert ch.tiers == ["A", "B", "C", ""]
    assert ch.matrix == {("A", "B"): 1, ("B", "B"): 1, ("B", "A"): 1, ("C", ""): 1}
    assert (ch.both, ch.moved, ch.only_before, ch.only_after) == (4, 3, 1, 1)
    assert ch.share("B", "B") == 0.25
    [k1, k3, k4] = ch.movers
    assert (k1.customer, k1.tier_before, k1.tier_after, k1.score_before, k1.score_after) == ("K1", "A", "B", 92, 85)
    assert [(c.indicator, c.before, c.after) for c in k1.changes] == [("年交易额", 10, 8)]
    assert [(c.indicator, c.delta) for c in k3.changes] == [("年交易额", 2), ("续约率", 3)][::-1]  # biggest first
    assert [(c.indicator, c.before, c.after) for c in k4.changes] == [("续约率", 5, None)]
    # the score shift per tier before, over the customers scored in both (K4 has no score after)
    assert [(s.tier, s.customers, s.mean, s.median) for s in ch.shifts] == [("A", 1, -7, -7), ("B", 2, 6.5, 6.5)]
    store.close()


def test_the_median_shift_is_the_middle_of_an_odd_count_and_the_mean_of_the_two_middles_of_an_even_one(store_url):
    store = Store.open(store_url)
    before = [rating(f"K{i}", "B", 70) for i in range(7)]
    store.record(run("q1", 0), before)
    shifts = [-3, 0, 1, 2, 10, 40, 50]  # 7 customers: the median is 2, the mean 100/7
    store.record(run("q2", 1), [rating(f"K{i}", "B", 70 + d) for i, d in enumerate(shifts)])
    [b] = compare_runs(store, store.run("q1"), store.run("q2")).shifts
    assert (b.customers, b.median, b.mean) == (7, 2, round(100 / 7, 10))
    store.record(run("q3", 2), [rating(f"K{i}", "B", 70 + d) for i, d in enumerate(shifts[:6])])
    [b] = compare_runs(store, store.run("q1"), store.run("q3")).shifts
    assert (b.customers, b.median) == (6, 1.5)
    store.close()
