"""Off-cycle re-rating (`tierwise rerate`), one customer at a time (`tierwise rate`, `explain`) with the
calibration frozen from the last full run, and the review list a trigger's `review` fills."""
from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from tierwise.cli.main import cli
from tierwise.engine.build import compile_text
from tierwise.engine.calibration import Calibration
from tierwise.engine.explain import number_text
from tierwise.engine.fit import fit
from tierwise.engine.plugin_manager import default_registry
from tierwise.engine.record import previous_values
from tierwise.engine.run import open_step, run
from tierwise.engine.store import Store
from tierwise.engine.store.decisions import audit_events, reviews

RULES = """\
ruleset "重评" version "1"
source customers = csv("c.csv") key 客户编号
points 1..10
indicator 年交易额 = customers.年交易额 weight 50% {
  >= 100 -> 10
  >= 50  -> 6
  else -> 2
}
indicator 回款率 = customers.回款率 weight 30% scale minmax
indicator 毛利 = customers.毛利 weight 20% scale zscore
tier A when score >= 8
tier B when score >= 5
tier C otherwise
trigger 交易额下滑 when change(年交易额) <= -30% -> rerate, review
trigger 重大投诉 when customers.投诉 >= 1 -> rerate, cap tier at C
"""

HEAD = "客户编号,年交易额,回款率,毛利,投诉\n"
Q1 = {"K1": (150, 0.9, 30, 0), "K2": (200, 0.8, 50, 0), "K3": (120, 0.1, 10, 0),
      "K4": (90, 0.5, 20, 0), "K5": (40, 0.3, 5, 0), "K6": (60, 0.7, 25, 0)}
# K2's revenue falls 40% (交易额下滑 fires), K4 has a major complaint (重大投诉 fires); everybody's
# 回款率 and 毛利 move too, so a calibration fitted again would move every score
Q2 = {"K1": (155, 0.95, 35, 0), "K2": (120, 0.6, 40, 0), "K3": (118, 0.05, 12, 0),
      "K4": (95, 0.55, 22, 1), "K5": (42, 0.2, 4, 0), "K6": (61, 0.75, 60, 0)}
RATING_COLUMNS = ("customer", "score", "computed_tier", "final_tier", "indicator_values", "points", "reason")


def write(path: Path, data: dict[str, tuple]) -> None:
    path.write_text(HEAD + "".join(f"{k},{','.join(map(str, v))}\n" for k, v in data.items()), encoding="utf-8")


@pytest.fixture
def rated(tmp_path, store_url):
    """The rules, a full run of Q1 in the store, and Q2's data in place of Q1's."""
    rules = tmp_path / "r.tier"
    rules.write_text(RULES, encoding="utf-8")
    write(tmp_path / "c.csv", Q1)
    out = CliRunner().invoke(cli, ["run", str(rules), "--as-of", "2026-03-31", "--db", store_url])
    assert out.exit_code == 0, out.output
    write(tmp_path / "c.csv", Q2)
    return rules


def plan_of(rules: Path):
    plan, diags, _ = compile_text(rules.read_text(encoding="utf-8"), str(rules), default_registry())
    assert plan is not None, diags.format()
    return plan


def test_rerate_moves_only_the_customers_a_trigger_fires_for(rated, store_url):
    store = Store.open(store_url)
    before = {r[0]: r for r in store.latest_ratings("重评", columns=RATING_COLUMNS)}
    [full] = store.runs()
    frozen = Calibration.from_json(full.calibration)
    store.close()

    out = CliRunner().invoke(cli, ["rerate", str(rated), "--as-of", "2026-04-15", "--db", store_url, "--by", "李四"])
    assert out.exit_code == 0, out.output
    assert "re-rated 2 customer(s)" in out.output and full.id[:8] in out.output

    store = Store.open(store_url)
    after = {r[0]: r for r in store.latest_ratings("重评", columns=RATING_COLUMNS)}
    newest = store.runs()[0]
    assert (newest.kind, newest.rows, newest.started_by, str(newest.as_of)) == ("rerate", 2, "李四", "2026-04-15")
    assert json.loads(newest.calibration) == json.loads(full.calibration)  # scored with the frozen calibration
    moved = {k for k in after if after[k] != before[k]}
    assert moved == {"K2", "K4"}
    for k in after.keys() - moved:  # every other customer's stored rating is the one of the full run
        assert after[k][-1] == full.id
    assert after["K2"][6] == "trigger 交易额下滑" and after["K4"][6] == "trigger 重大投诉"
    assert {r.customer for r in store.ratings(newest.id)} == {"K2", "K4"}

    # the re-rated scores are what a full run of Q2 with the frozen calibration gives those customers
    plan = plan_of(rated)
    previous = previous_values(plan, [(k, v[4]) for k, v in before.items()], ["年交易额"])
    frozen_run = run(plan, default_registry(), rated.parent, date(2026, 4, 15), calibration=frozen, previous=previous,
                     columns=None)
    for k in ("K2", "K4"):
        row = frozen_run.find(k)
        assert after[k][1] == pytest.approx(row["score"], rel=1e-12)
        assert (after[k][2], after[k][3]) == (row["tier"], row["final_tier"])
    assert (after["K4"][2], after["K4"][3]) == ("B", "C")  # computed B, capped at C by the complaint

    # ... and not what a calibration fitted again on Q2 would give
    opened = open_step(plan, default_registry(), rated.parent)
    try:
        refit = fit(plan, opened.tables, date(2026, 4, 15), opened.backend, registry=default_registry())
    finally:
        opened.backend.close()
    assert refit != frozen
    refit_run = run(plan, default_registry(), rated.parent, date(2026, 4, 15), calibration=refit)
    assert refit_run.find("K2")["score"] != pytest.approx(after["K2"][1], rel=1e-9)
    store.close()


def test_review_puts_a_customer_on_the_review_list_once(rated, store_url):
    runner = CliRunner()
    assert runner.invoke(cli, ["rerate", str(rated), "--as-of", "2026-04-15", "--db", store_url]).exit_code == 0
    store = Store.open(store_url)
    [item] = reviews(store)
    assert (item.customer, item.trigger, item.status) == ("K2", "交易额下滑", "open")
    assert item.run_id == store.runs()[0].id
    assert [(e.action, e.subject) for e in audit_events(store, "K2")] == [("review opened", item.id)]
    store.close()
    # a periodic run on the same data: K2 compared with its re-rated value no longer falls; nothing new
    assert runner.invoke(cli, ["run", str(rated), "--as-of", "2026-04-30", "--db", store_url]).exit_code == 0
    out = runner.invoke(cli, ["review", "list", "--db", store_url])
    assert out.exit_code == 0 and item.id in out.output and out.output.count("RV-") == 1
    done = runner.invoke(cli, ["review", "resolve", item.id, "--by", "王五", "--note", "核实无误", "--db", store_url])
    assert done.exit_code == 0, done.output
    store = Store.open(store_url)
    assert reviews(store) == []
    store.close()


def test_no_store_warns_that_nobody_is_put_on_the_review_list(rated):
    out = CliRunner().invoke(cli, ["run", str(rated), "--no-store"])
    assert out.exit_code == 0 and "nobody was put on it" in out.output


def test_rerate_needs_a_full_run_and_triggers(tmp_path, store_url):
    rules = tmp_path / "r.tier"
    rules.write_text(RULES, encoding="utf-8")
    write(tmp_path / "c.csv", Q1)
    runner = CliRunner()
    out = runner.invoke(cli, ["rerate", str(rules), "--db", store_url])
    assert out.exit_code == 1 and "no full run of '重评'" in out.output and "Traceback" not in out.output
    out = runner.invoke(cli, ["rerate", str(rules), "--db", store_url, "--calibration", "nope"])
    assert out.exit_code == 1 and "no run 'nope'" in out.output
    plain = tmp_path / "plain.tier"
    plain.write_text(RULES.split("trigger ")[0], encoding="utf-8")
    out = runner.invoke(cli, ["rerate", str(plain), "--db", store_url])
    assert out.exit_code == 1 and "declares no trigger" in out.output


def test_rate_and_explain_score_with_the_frozen_calibration(rated, store_url):
    runner = CliRunner()
    store = Store.open(store_url)
    [full] = store.runs()
    store.close()
    plan = plan_of(rated)
    frozen_run = run(plan, default_registry(), rated.parent, date(2026, 4, 15),
                     calibration=Calibration.from_json(full.calibration))
    out = runner.invoke(cli, ["rate", str(rated), "K2", "K5", "--as-of", "2026-04-15", "--db", store_url,
                              "--out", str(rated.parent / "two.csv")])
    assert out.exit_code == 0, out.output
    assert f"calibration: run {full.id[:8]}" in out.output
    for k in ("K2", "K5"):
        assert f"{frozen_run.find(k)['score']:.2f}" in out.output
    with open(rated.parent / "two.csv", encoding="utf-8-sig", newline="") as fh:
        assert [r[0] for r in csv.reader(fh)] == ["客户编号", "K2", "K5"]
    store = Store.open(store_url)
    assert len(store.runs()) == 1  # rate records nothing
    store.close()

    out = runner.invoke(cli, ["explain", str(rated), "K2", "--as-of", "2026-04-15", "--db", store_url])
    assert out.exit_code == 0, out.output
    assert "trigger 交易额下滑: fired" in out.output
    assert "change(年交易额): last 200 → fresh 120: -40.0%" in out.output
    assert f"calibration: run {full.id[:8]}" in out.output
    assert f"score {number_text(frozen_run.find('K2')['score'])}" in out.output

    bad = runner.invoke(cli, ["rate", str(rated), "k2", "--db", store_url])
    assert bad.exit_code == 1 and "did you mean 'K2'" in bad.output


def test_calibration_names_the_run_to_score_with(rated, store_url):
    runner = CliRunner()
    store = Store.open(store_url)
    [q1] = store.runs()
    store.close()
    assert runner.invoke(cli, ["run", str(rated), "--as-of", "2026-06-30", "--db", store_url]).exit_code == 0
    store = Store.open(store_url)
    q2 = store.runs()[0]
    store.close()
    assert json.loads(q1.calibration) != json.loads(q2.calibration)
    latest = runner.invoke(cli, ["rate", str(rated), "K6", "--db", store_url])
    older = runner.invoke(cli, ["rate", str(rated), "K6", "--db", store_url, "--calibration", q1.id[:8]])
    assert latest.exit_code == older.exit_code == 0
    assert f"run {q2.id[:8]}" in latest.output and f"run {q1.id[:8]}" in older.output
    plan = plan_of(rated)
    for out, cal in ((latest, q2), (older, q1)):
        expected = run(plan, default_registry(), rated.parent, date.today(),
                       calibration=Calibration.from_json(cal.calibration)).find("K6")["score"]
        assert f"{expected:.2f}" in out.output
