"""`tierwise run` records itself in the rating store; `runs`, `history` and `changes` read it back."""
from __future__ import annotations

import hashlib
import json

from click.testing import CliRunner

from tierwise.cli.main import cli
from tierwise.engine.store import Store

RULES = """\
ruleset "记录" version "3"
source customers = csv("c.csv") key 客户编号
points 1..10
indicator 年交易额 = customers.年交易额 weight 60% {
  >= 100 -> 10
  else -> 2
}
indicator 回款率 = customers.回款率 weight 40% scale minmax
tier A when score >= 7
tier B otherwise
"""


def test_runs_are_recorded_and_the_history_reads_them(store_url, tmp_path):
    rules = tmp_path / "r.tier"
    rules.write_text(RULES, encoding="utf-8")
    data = tmp_path / "c.csv"
    runner = CliRunner()
    data.write_text("客户编号,年交易额,回款率\nK1,150,0.9\nK2,50,0.1\nK3,120,0.5\n", encoding="utf-8")
    first = runner.invoke(cli, ["run", str(rules), "--as-of", "2026-03-31", "--db", store_url, "--by", "张三"])
    assert first.exit_code == 0, first.output
    data.write_text("客户编号,年交易额,回款率\nK1,80,0.9\nK2,50,0.1\nK3,120,0.5\n", encoding="utf-8")
    second = runner.invoke(cli, ["run", str(rules), "--as-of", "2026-06-30", "--db", store_url])
    assert second.exit_code == 0, second.output
    store = Store.open(store_url)
    newest, oldest = store.runs()
    assert (oldest.ruleset, oldest.version, oldest.started_by, str(oldest.as_of)) == ("记录", "3", "张三", "2026-03-31")
    assert oldest.rule_text == RULES and oldest.status == "complete" and oldest.rows == 3
    [source] = json.loads(oldest.sources)
    assert source["name"] == "customers" and source["size"] > 0 and len(source["sha256"]) == 64
    assert source["sha256"] != json.loads(newest.sources)[0]["sha256"]  # the data changed
    assert json.loads(newest.sources)[0]["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert json.loads(oldest.calibration)["indicators"]["回款率"]["params"] == {"min": 0.1, "max": 0.9}
    assert json.loads(oldest.tier_counts) == {"A": 2, "B": 1}
    [(_, k1_q1), (_, k1_q2)] = store.history("K1")
    assert (k1_q1.final_tier, k1_q2.final_tier) == ("A", "B")
    assert json.loads(k1_q1.points) == {"年交易额": 10, "回款率": 10}
    assert json.loads(k1_q1.indicator_values) == {"年交易额": 150, "回款率": 0.9}
    store.close()
    out = runner.invoke(cli, ["changes", "--db", store_url])
    assert out.exit_code == 0 and "1 of 3 customers moved" in out.output and "年交易额 10 → 2" in out.output


def test_a_failed_run_is_recorded_as_failed_and_no_store_records_nothing(store_url, tmp_path):
    rules = tmp_path / "r.tier"
    rules.write_text(RULES, encoding="utf-8")
    (tmp_path / "c.csv").write_text("客户编号,金额\nK1,1\n", encoding="utf-8")  # the rules' columns are missing
    runner = CliRunner()
    bad = runner.invoke(cli, ["run", str(rules), "--db", store_url])
    assert bad.exit_code == 1 and "has no column" in bad.output
    [failed] = Store.open(store_url).runs()
    assert failed.status == "failed" and "has no column" in failed.error and failed.rows == 0
    (tmp_path / "c.csv").write_text("客户编号,年交易额,回款率\nK1,150,0.9\n", encoding="utf-8")
    assert runner.invoke(cli, ["run", str(rules), "--db", store_url, "--no-store"]).exit_code == 0
    assert len(Store.open(store_url).runs()) == 1


def test_the_default_store_is_beside_the_rule_file(tmp_path, monkeypatch):
    monkeypatch.delenv("TIERWISE_DB", raising=False)
    rules = tmp_path / "r.tier"
    rules.write_text(RULES, encoding="utf-8")
    (tmp_path / "c.csv").write_text("客户编号,年交易额,回款率\nK1,150,0.9\n", encoding="utf-8")
    assert CliRunner().invoke(cli, ["run", str(rules)]).exit_code == 0
    assert [r.rows for r in Store.open(f"sqlite:///{tmp_path / 'tierwise.db'}").runs()] == [1]


TRIGGERED = RULES.replace("tier B otherwise\n", """tier B otherwise
trigger 交易额下降 when change(年交易额) <= -30% -> rerate, downgrade 1
""")


def test_a_run_compares_with_the_last_rating_and_applies_approved_overrides(store_url, tmp_path):
    rules = tmp_path / "r.tier"
    rules.write_text(TRIGGERED, encoding="utf-8")
    data = tmp_path / "c.csv"
    runner = CliRunner()
    data.write_text("客户编号,年交易额,回款率\nK1,150,0.9\nK2,200,0.8\nK3,120,0.1\n", encoding="utf-8")
    assert runner.invoke(cli, ["run", str(rules), "--db", store_url]).exit_code == 0
    out = runner.invoke(cli, ["override", "request", "K3", "--tier", "A", "--reason", "战略", "--by", "甲",
                              "--db", store_url])
    ov_id = out.output.split()[1]
    assert runner.invoke(cli, ["override", "approve", ov_id, "--by", "乙", "--db", store_url]).exit_code == 0
    # K1 150 -> 100: -33%, the trigger fires and downgrades A to B; K2 200 -> 190: -5%, stays A
    data.write_text("客户编号,年交易额,回款率\nK1,100,0.9\nK2,190,0.8\nK3,120,0.1\n", encoding="utf-8")
    assert runner.invoke(cli, ["run", str(rules), "--db", store_url]).exit_code == 0
    store = Store.open(store_url)
    latest = {g.customer: g for g in store.ratings(store.runs()[0].id)}
    assert (latest["K1"].computed_tier, latest["K1"].final_tier, latest["K1"].reason) == ("A", "B", "trigger 交易额下降")
    assert (latest["K2"].final_tier, latest["K2"].reason) == ("A", "periodic")
    assert (latest["K3"].computed_tier, latest["K3"].final_tier, latest["K3"].reason) == ("B", "A", f"override {ov_id}")
    store.close()
