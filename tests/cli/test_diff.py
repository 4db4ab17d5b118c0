"""`tierwise diff OLD NEW`: a parallel run of two ruleset versions on the demo data (新旧标准并行)."""
from __future__ import annotations

import csv
import shutil

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from tierwise.cli.main import cli
from tierwise.rulesets.demo_data import write_demo_data

AS_OF = "2026-06-30"
TOL = 1e-9  # a score within 1e-9 (relative) of a cut is on the cut


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    d = tmp_path_factory.mktemp("diff")
    write_demo_data(d, customers=400, seed=3)
    return d


def read_csv(path):
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def variant(demo, name, *replacements):
    text = (demo / "relationship_rating.tier").read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new)
    path = demo / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_ruleset_against_itself_moves_nobody(demo, tmp_path):
    rules = demo / "relationship_rating.tier"
    out = tmp_path / "moved.csv"
    res = invoke("diff", rules, rules, "--as-of", AS_OF, "--out", out)
    assert res.exit_code == 0, res.stderr
    assert "no rule changes" in res.stdout
    assert "0 of 400 customers moved (0.0%)" in res.stdout
    assert read_csv(out) == []
    assert not (demo / "tierwise.db").exists()  # records nothing


def test_moving_one_cut_moves_exactly_the_customers_between_the_two_cuts(demo, tmp_path):
    old = demo / "relationship_rating.tier"
    new = variant(demo, "cut85.tier", ("tier A \"核心客户\" when score >= 90", "tier A \"核心客户\" when score >= 85"))
    scores = tmp_path / "old.csv"
    assert invoke("run", old, "--as-of", AS_OF, "--no-store", "--columns", "score,tier", "--out", scores).exit_code == 0
    expected = {r["客户编号"] for r in read_csv(scores)
                if r["score"] and 85 * (1 - TOL) <= float(r["score"]) < 90 * (1 - TOL)}
    assert expected  # the demo has customers there
    out = tmp_path / "moved.csv"
    res = invoke("diff", old, new, "--as-of", AS_OF, "--out", out)
    assert res.exit_code == 0, res.stderr
    moved = read_csv(out)
    assert {r["客户编号"] for r in moved} == expected
    assert {(r["old_tier"], r["new_tier"]) for r in moved} == {("B", "A")}
    assert all(r["old_score"] == r["new_score"] for r in moved)
    assert all(r["why"] == "tier A: cut `score >= 90` became `score >= 85`" for r in moved)
    assert "rule changes (1):\n  tier A: cut `score >= 90` became `score >= 85`" in res.stdout
    assert f"{len(expected)} of 400 customers moved" in res.stdout


def test_movers_say_which_points_changed_and_which_rule_differs(demo, tmp_path):
    old = demo / "relationship_rating.tier"
    new = variant(demo, "v2.tier", ('version "2026.1"', 'version "2026.2"'),
                  (">= 500万 -> 10", ">= 900万 -> 10"),
                  ("dimension 交易价值 weight 30%", "dimension 交易价值 weight 35%"),
                  ("dimension 潜力空间 weight 25%", "dimension 潜力空间 weight 20%"))
    out = tmp_path / "diff.xlsx"
    res = invoke("diff", old, new, "--as-of", AS_OF, "--out", out)
    assert res.exit_code == 0, res.stderr
    for line in ("ruleset: version `2026.1` became `2026.2`", "dimension 交易价值: weight 30% → 35%",
                 "dimension 潜力空间: weight 25% → 20%", "年交易额: band `>= 500万 -> 10` became `>= 900万 -> 10`"):
        assert line in res.stdout
    wb = load_workbook(out)
    assert wb.sheetnames == ["matrix", "movers", "rule changes"]
    movers = list(wb["movers"].iter_rows(values_only=True))
    header, rows = movers[0], movers[1:]
    assert header == ("客户编号", "old_tier", "new_tier", "old_score", "new_score", "score_change", "why")
    assert rows and all(r[1] != r[2] for r in rows)
    band = [r for r in rows if r[6].startswith("年交易额 10 → 8 (band `>= 500万 -> 10` → `>= 300万 -> 8`): "
                                               "年交易额: band `>= 500万 -> 10` became `>= 900万 -> 10`")]
    assert band  # a customer with 500万..900万 a year lost points by the band, and said so
    assert all("weight 30% → 35%" in r[6] for r in rows)  # every mover's score moved by the weights
    matrix = list(wb["matrix"].iter_rows(values_only=True))
    assert matrix[2] == ("old \\ new", "A", "B", "C", "D", "total")
    assert sum(sum(r[1:5]) for r in matrix[3:7]) == 400
    moved = sum(n for i, r in enumerate(matrix[3:7]) for j, n in enumerate(r[1:5]) if i != j)
    assert moved == len(rows)
    rules = [r[6] for r in list(wb["rule changes"].iter_rows(values_only=True))[1:]]
    assert "tier A: cut `score >= 90` became `score >= 88`" not in rules and len(rules) == 4
    page = tmp_path / "diff.html"
    assert invoke("diff", old, new, "--as-of", AS_OF, "--out", page).exit_code == 0
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "<script" not in text and "http" not in text
    assert "年交易额: band `&gt;= 500万 -&gt; 10` became `&gt;= 900万 -&gt; 10`" in text


def test_rulesets_reading_different_data_are_refused_unless_sources_are_given(demo, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    new = elsewhere / "relationship_rating.tier"
    shutil.copyfile(demo / "relationship_rating.tier", new)
    old = demo / "relationship_rating.tier"
    res = invoke("diff", old, new, "--as-of", AS_OF)
    assert res.exit_code == 1
    for name in ("customers", "orders", "tickets"):
        assert f"source '{name}': the old ruleset reads {demo / ''}" in res.stderr.replace("\n", "")
    assert "--source customers=PATH --source orders=PATH --source tickets=PATH" in res.stderr
    given = [f"--source=customers={demo / '客户档案.csv'}", f"--source=orders={demo / 'orders.parquet'}",
             f"--source=tickets={demo / '服务工单.xlsx'}"]
    res = invoke("diff", old, new, *given, "--as-of", AS_OF)
    assert res.exit_code == 0, res.stderr
    assert "0 of 400 customers moved" in res.stdout
    res = invoke("diff", old, new, "--source", "客户=x.csv", "--as-of", AS_OF)
    assert res.exit_code == 1 and "unknown source(s): 客户" in res.stderr
    assert "Traceback" not in res.stderr


def test_diff_refuses_an_unknown_output_suffix(demo):
    rules = demo / "relationship_rating.tier"
    res = invoke("diff", rules, rules, "--out", "x.parquet")
    assert res.exit_code == 2 and "--out" in res.stderr


def test_a_parallel_run_delivers_no_action(demo):
    from datetime import date

    from tierwise.cli.main import load
    from tierwise.engine.parallel_run import parallel_run
    from tierwise.engine.plugin_manager import default_registry
    from tierwise.engine.run import run

    rules = demo / "relationship_rating.tier"
    plan = load(rules)
    assert any(r.event == "tier" for r in plan.on_rules)  # `on tier A -> log(...)`
    ran = run(plan, default_registry(), demo, date(2026, 6, 30), record=None)
    assert ran.log  # a plain run without the store delivers at once
    pr = parallel_run(plan, rules, load(rules), rules, default_registry(), date(2026, 6, 30))
    assert pr.old_outcome.log == [] == pr.new_outcome.log
    assert not any(pr.old_outcome.deliveries.values()) and not any(pr.new_outcome.deliveries.values())
