"""tierwise.load(path).rate(records, calibration=...): in-process rating, identical to the batch run."""
from __future__ import annotations

import csv
import math
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tierwise
from tierwise.dsl import RuleFileError
from tierwise.engine.plugin_api import DataError
from tierwise.engine.plugin_manager import default_registry
from tierwise.engine.run import run

AS_OF = date(2026, 6, 30)
RULES = """\
ruleset "API" version "1"
source customers = csv("customers.csv") key 客户编号
points 1..10
score 0..100
missing -> points 1

dimension 价值 weight 60% {
  indicator 年交易额 = customers.年交易额 weight 50% {
    >= 500万 -> 10
    100万..500万 -> 6
    else -> 2
  }
  indicator 回款率 = customers.回款率 weight 50% scale minmax
}
dimension 稳定 weight 40% {
  indicator 合作年限 = years_between(customers.签约日期, as_of) weight 60% scale zscore
  indicator 等级 = customers.等级 weight 40% {
    == "VIP" -> 10
    in ("金", "银") -> 7
    else -> 3
  }
}
tier A "核心" when score >= 75
tier B "重要" when score >= 50
tier C "一般" otherwise
label 大客户 when 年交易额 >= 8
segment 阶段 {
  成熟 when 合作年限 >= 5
  成长 otherwise
}
"""
COLUMNS = ["客户编号", "年交易额", "回款率", "签约日期", "等级"]


@pytest.fixture
def rules(tmp_path):
    path = tmp_path / "api.tier"
    path.write_text(RULES, encoding="utf-8")
    return path


def write_csv(path: Path, records: list[dict]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for r in records:
            w.writerow(["" if r.get(c) is None else (repr(r[c]) if isinstance(r[c], float) else str(r[c]))
                        for c in COLUMNS])


def batch(rules: Path, records: list[dict]):
    write_csv(rules.parent / "customers.csv", records)
    plan = tierwise.load(rules).plan
    outcome = run(plan, default_registry(), rules.parent, AS_OF)
    return outcome, {r["客户编号"]: r for r in outcome.table.to_pylist()}


def same(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return a == b if isinstance(a, str) else math.isclose(a, b, rel_tol=0, abs_tol=1e-9)


money = st.one_of(st.none(), st.floats(0, 2e7, allow_nan=False), st.sampled_from([5e6, 1e6, "500万", "120万", "8,000"]))
customer = st.fixed_dictionaries({
    "年交易额": money,
    "回款率": st.one_of(st.none(), st.floats(0, 1, allow_nan=False), st.sampled_from(["95%", "0.5"])),
    "签约日期": st.one_of(st.none(), st.dates(date(2000, 1, 1), date(2026, 6, 30)),
                       st.sampled_from(["2021/6/30", "2020年1月2日", "2019.3.4"])),
    "等级": st.one_of(st.none(), st.sampled_from(["VIP", "金", "银", "铜", ""])),
})


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(customer, min_size=2, max_size=30))
def test_rate_is_the_batch_on_every_record(rules, customers):
    records = [{"客户编号": f"K{i:03d}", **c} for i, c in enumerate(customers)]
    outcome, rows = batch(rules, records)
    api = tierwise.load(rules)
    try:
        rated = api.rate(records, calibration=outcome.calibration, as_of=AS_OF)
        again = api.rate(list(reversed(records[:3])), calibration=outcome.calibration.to_json(), as_of=AS_OF)
    finally:
        api.close()
    assert [r.customer for r in rated] == [r["客户编号"] for r in records]
    assert [r.customer for r in again] == [r["客户编号"] for r in reversed(records[:3])]
    for r in rated + again:
        row = rows[r.customer]
        assert same(r.score, row["score"]) and r.tier == row["tier"], (r, row)
        assert r.labels == [x for x in (row["labels"] or "").split(",") if x]
        assert r.segments == {"阶段": row["阶段"]}
        assert all(same(r.points[i], row[f"{i}.points"]) for i in r.points)
        assert r.explanation.score == r.score and r.tier_label == {"A": "核心", "B": "重要", "C": "一般"}.get(r.tier)


def test_rate_needs_a_calibration_and_a_key(rules):
    api = tierwise.load(rules)
    with pytest.raises(DataError, match="needs that run's calibration"):
        api.rate([{"客户编号": "K1"}])
    outcome, _ = batch(rules, [{"客户编号": "K1", "回款率": 0.5}, {"客户编号": "K2", "回款率": 0.9}])
    with pytest.raises(DataError, match="needs one row of 'customers' with its key column '客户编号'"):
        api.rate([{"年交易额": 5}], calibration=outcome.calibration)
    with pytest.raises(DataError, match="not a calibration"):
        api.rate([{"客户编号": "K1"}], calibration={"indicators": []})
    api.close()


def test_rules_that_read_the_population_are_refused(tmp_path):
    path = tmp_path / "p.tier"
    path.write_text(RULES.replace("scale minmax", "scale percentile"), encoding="utf-8")
    outcome, _ = batch(path, [{"客户编号": "K1", "回款率": 0.5}, {"客户编号": "K2", "回款率": 0.9}])
    with pytest.raises(DataError, match="read the whole population"):
        tierwise.load(path).rate([{"客户编号": "K1"}], calibration=outcome.calibration)


def test_load_refuses_a_rule_file_with_errors(tmp_path):
    path = tmp_path / "bad.tier"
    path.write_text(RULES.replace("weight 40% {", "weight 30% {"), encoding="utf-8")
    with pytest.raises(RuleFileError) as err:
        tierwise.load(path)
    assert any("100%" in d.message for d in err.value.diagnostics.errors)


def test_many_records_typed_and_as_text_padded_and_repeated_keys_rate_as_the_batch(rules):
    """More records than go in as prepared INSERTs (the Arrow path and the optimized query), values
    given typed (floats, dates: DOUBLE and DATE inputs) and as text, keys padded and repeated (the
    first row of a key counts, as in a run)."""
    typed = [{"客户编号": f"K{i:03d}", "年交易额": 37_000.0 * i, "回款率": (i % 10) / 10,
              "签约日期": date(2000 + i % 26, 1 + i % 12, 1 + i % 28), "等级": ["VIP", "金", "铜", None][i % 4]}
             for i in range(100)]
    text = [{**r, "年交易额": f"{r['年交易额'] / 10_000:g}万", "签约日期": r["签约日期"].strftime("%Y/%m/%d")}
            for r in typed]
    outcome, rows = batch(rules, typed)
    api = tierwise.load(rules)
    try:
        for records in (typed, text, typed[:1], text[:1]):
            for r, rec in zip(api.rate(records, calibration=outcome.calibration, as_of=AS_OF), records):
                row = rows[rec["客户编号"]]
                assert same(r.score, row["score"]) and r.tier == row["tier"], (r, row)
        padded = [{**typed[5], "客户编号": " K005 "}, {**typed[6], "年交易额": None}, typed[6]]
        got = api.rate(padded, calibration=outcome.calibration, as_of=AS_OF)
        assert [r.customer for r in got] == ["K005", "K006", "K006"]
        assert same(got[0].score, rows["K005"]["score"])
        assert got[1].score == got[2].score  # a repeated key: its first row is the one rated
    finally:
        api.close()
