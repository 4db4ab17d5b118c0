"""The language's expressions evaluated end to end on real files, each against values worked out by hand:
functions, operators, missing values inside expressions, measures, labels, segments, env() in sources,
quota tiers and the CLI's view of them."""
import math
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from tierwise.cli.main import cli
from tierwise.engine.build import compile_text
from tierwise.engine.plugin_api import DataError
from tierwise.engine.plugin_manager import default_registry
from tierwise.engine.run import run

AS_OF = date(2026, 6, 30)

CUSTOMERS = {
    "id": ["C1", "C2", "C3", "C4"],
    "amount": [1_000_000.0, 250_000.0, None, 80_000.0],
    "start": [date(2016, 6, 30), date(2025, 6, 30), date(2026, 5, 31), None],
    "delta": [-3.5, 2.0, None, 0.0],
    "city": ["上海", "北京", "深圳", None],
}


def rate(tmp_path: Path, body: str, data: dict | None = None, header: str | None = None):
    pq.write_table(pa.table(data or CUSTOMERS), tmp_path / "c.parquet")
    text = (header or 'source c = parquet("c.parquet") key id\npoints 0..10\n') + body
    registry = default_registry()
    plan, diags, _ = compile_text(text, "t.tier", registry)
    assert plan is not None, [d.message for d in diags.errors]
    outcome = run(plan, registry, tmp_path, AS_OF)
    return {r["id"]: r for r in outcome.table.to_pylist()}, outcome


def passthrough(**exprs: str) -> str:
    """Indicators that pass an expression through (points = the value), weights spread to 100%."""
    n = len(exprs)
    weights = [100 // n] * n
    weights[-1] += 100 - sum(weights)
    return "".join(f"indicator {name} = {e} weight {w}%\n" for (name, e), w in zip(exprs.items(), weights))


def test_date_functions(tmp_path):
    rows, _ = rate(tmp_path, passthrough(d="days_since(c.start)", y="years_between(c.start, as_of)",
                                         m="months_between(c.start, as_of)"))
    assert rows["C1"]["d"] == 3652  # 2016-06-30 .. 2026-06-30, three leap days
    assert rows["C1"]["y"] == 10.0  # an anniversary is a whole number of calendar years
    assert rows["C2"]["d"] == 365 and rows["C2"]["m"] == 12.0
    assert rows["C3"]["d"] == 30
    assert rows["C4"]["d"] is None and rows["C4"]["y"] is None  # no start date: missing, not zero


def test_number_functions_and_arithmetic(tmp_path):
    rows, _ = rate(tmp_path, passthrough(a="abs(c.delta)", l10="log(c.amount, 10)", ln="log(c.delta)",
                                         lo="min(c.delta, 1)", hi="max(c.delta, 1)",
                                         co="coalesce(c.amount, 0) / 1万", div="c.amount / c.delta"))
    assert rows["C1"]["a"] == 3.5 and rows["C4"]["a"] == 0.0
    assert rows["C1"]["l10"] == pytest.approx(6.0, rel=1e-12)
    assert rows["C2"]["ln"] == pytest.approx(math.log(2.0), rel=1e-12)
    assert rows["C1"]["ln"] is None and rows["C4"]["ln"] is None  # log of x <= 0 is missing
    assert rows["C1"]["lo"] == -3.5 and rows["C2"]["lo"] == 1.0 and rows["C1"]["hi"] == 1.0
    assert rows["C3"]["co"] == 0.0 and rows["C2"]["co"] == 25.0  # 万 = 10,000
    assert rows["C4"]["div"] is None  # division by zero is missing
    assert rows["C1"]["div"] == pytest.approx(1_000_000 / -3.5)


def test_comparisons_in_between_not_and_labels(tmp_path):
    body = passthrough(v="1") + """
label 大客户 when c.amount >= 25万
label 中间 when c.amount between 8万 and 25万
label 一线 when c.city in ("北京", "上海")
label 非一线 when not (c.city in ("北京", "上海"))
label 其他城市 when c.city not in ("北京", "上海") or c.city == "深圳"
label 新客户 when c.start within 2 months
"""
    rows, _ = rate(tmp_path, body)
    labels = {k: set(filter(None, (r["labels"] or "").split(","))) for k, r in rows.items()}
    assert labels["C1"] == {"大客户", "一线"}
    assert labels["C2"] == {"大客户", "中间", "一线"}  # 25万 is on both edges: between counts both ends
    # C3: no amount, 深圳; within 2 months of 2026-06-30 starts 2026-04-30
    assert labels["C3"] == {"非一线", "其他城市", "新客户"}
    # C4: no city — a missing value equals nothing and is in no list (as in Excel, blank <> "北京"):
    # `not in` and `not (... in ...)` hold for it, `==` and `in` do not
    assert labels["C4"] == {"中间", "非一线", "其他城市"}


def test_measures_and_indicator_points_in_expressions(tmp_path):
    body = """measure 万元 = c.amount / 1万
indicator 规模 = 万元 weight 50% {
  >= 50 -> 10
  >= 10 -> 6
  else -> 2
}
indicator 两倍 = 规模 * 0.5 + value(规模) / 1000 weight 50%
missing -> points 0
tier A when 规模 >= 10 and score >= 5
tier B otherwise
"""
    rows, _ = rate(tmp_path, body)
    assert rows["C1"]["规模"] == 100.0 and rows["C1"]["规模.points"] == 10.0
    assert rows["C1"]["两倍"] == pytest.approx(10 * 0.5 + 100 / 1000)
    assert rows["C2"]["规模.points"] == 6.0 and rows["C4"]["规模.points"] == 2.0
    assert rows["C3"]["规模.points"] == 0.0 and rows["C3"]["两倍"] is None  # missing propagates
    assert rows["C1"]["tier"] == "A" and rows["C2"]["tier"] == "B"
    assert rows["C3"]["missing"] == "规模,两倍"


def test_segments_first_match_wins(tmp_path):
    body = passthrough(v="1") + """
segment 客群 {
  大 when c.amount >= 25万
  中 when c.amount >= 1万
  未知 when c.amount == 0 or c.city == "深圳"
  其他 otherwise
}
"""
    rows, _ = rate(tmp_path, body)
    assert {k: r["客群"] for k, r in rows.items()} == {"C1": "大", "C2": "大", "C3": "未知", "C4": "中"}


def test_env_in_a_source_is_read_at_run_time_and_never_stored(tmp_path, monkeypatch):
    header = 'source c = parquet(env("TIERWISE_TEST_CUSTOMERS")) key id\npoints 0..10\n'
    monkeypatch.delenv("TIERWISE_TEST_CUSTOMERS", raising=False)
    with pytest.raises(DataError, match="environment variable TIERWISE_TEST_CUSTOMERS is not set"):
        rate(tmp_path, passthrough(v="1"), header=header)
    monkeypatch.setenv("TIERWISE_TEST_CUSTOMERS", str(tmp_path / "c.parquet"))
    rows, outcome = rate(tmp_path, passthrough(v="c.delta"), header=header)
    assert rows["C1"]["v"] == -3.5
    assert str(tmp_path) not in repr(outcome.plan)  # the plan keeps the variable's name, not its value
    assert outcome.plan.sources[0].options["path"] == "<env:TIERWISE_TEST_CUSTOMERS>"


def test_quota_tiers_with_ties_at_the_cut(tmp_path):
    data = {"id": [f"K{i}" for i in range(11)], "v": [10.0, 9.0, 9.0, 8.0, 7.0, 6.0, 5.0, 4.0, None, 1.0, 3.0]}
    body = """indicator v = c.v weight 100%
tier S top 20%
tier A top 3
tier B when score >= 5
tier C otherwise
"""
    rows, outcome = rate(tmp_path, body, data)
    tiers = {k: r["tier"] for k, r in rows.items()}
    # top 20% of the 10 scored customers = 2, but K1 and K2 tie at the cut: both are in
    assert [k for k, t in tiers.items() if t == "S"] == ["K0", "K1", "K2"]
    # `top 3` means rank 1..3 among everyone, not the next three after S: K0..K2, already S
    assert "A" not in tiers.values()
    assert tiers["K3"] == "B"
    assert tiers["K8"] is None  # no value and no missing policy: no score, no tier
    assert tiers["K6"] == "B" and tiers["K7"] == "C" and tiers["K10"] == "C"
    assert {t.tier: t.count for t in outcome.distribution}[None] == 1


def test_quota_tiers_take_the_floor_and_ties_within_float_noise(tmp_path):
    # 0.1·10 + 0.2·2 + 0.7·8 and 0.1·8 + 0.2·10 + 0.7·6 are both 7 on paper; floating point gives
    # 7.000000000000001 and 6.999999999999999 — still a tie for `top 1`
    data = {"id": ["K1", "K2", "K3"], "a": [10.0, 8.0, 1.0], "b": [2.0, 10.0, 1.0], "c": [8.0, 6.0, 1.0]}
    body = ("indicator A = c.a weight 10%\nindicator B = c.b weight 20%\nindicator C = c.c weight 70%\n"
            "tier S top 1\ntier X otherwise\n")
    rows, _ = rate(tmp_path, body, data)
    assert 0.1 * 10 + 0.2 * 2 + 0.7 * 8 != 0.1 * 8 + 0.2 * 10 + 0.7 * 6  # the noise is really there
    assert rows["K1"]["score"] == rows["K2"]["score"] == 7  # and the output is rounded for people
    assert {k: r["tier"] for k, r in rows.items()} == {"K1": "S", "K2": "S", "K3": "X"}
    # top 10% of 25 customers is 2 (the floor of 2.5), not 3
    data = {"id": [f"K{i:02d}" for i in range(25)], "a": [float(i) for i in range(25)]}
    rows, _ = rate(tmp_path, "indicator A = c.a weight 100%\ntier T top 10%\ntier R otherwise\n", data)
    assert sorted(k for k, r in rows.items() if r["tier"] == "T") == ["K23", "K24"]


def test_explain_shows_the_gap_to_the_next_tier(tmp_path):
    pq.write_table(pa.table(CUSTOMERS), tmp_path / "c.parquet")
    rules = tmp_path / "r.tier"
    rules.write_text('source c = parquet("c.parquet") key id\npoints 0..10\nscore 0..100\n'
                     'indicator 规模 = c.amount / 1万 weight 100% {\n  >= 50 -> 10\n  >= 10 -> 6\n  else -> 2\n}\n'
                     'tier A when score >= 90\ntier B when score >= 50\ntier C otherwise\n', encoding="utf-8")
    res = CliRunner().invoke(cli, ["explain", str(rules), "C2", "--as-of", "2026-06-30"])
    assert res.exit_code == 0, res.output
    assert "60" in res.stdout and "tier B" in res.stdout
    assert "30 more points to reach tier A" in res.stdout
