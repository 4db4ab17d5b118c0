"""`tierwise report RUN` from the store (SQLite and PostgreSQL), and what migration 0004 keeps for it."""
from __future__ import annotations

import json

import sqlalchemy as sa
from click.testing import CliRunner

from tierwise.cli.main import cli
from tierwise.engine.plugin_manager import default_registry
from tierwise.engine.report_store import stored_report
from tierwise.engine.store import Store

RULES = """\
ruleset "存储报告" version "2"
source customers = csv("c.csv") key 客户编号
points 1..10
score 0..100
missing -> points 1
dimension 价值 weight 70% {
  indicator 年交易额 = customers.年交易额 weight 100% {
    >= 100 -> 10
    >= 50 -> 6
    else -> 2
  }
}
dimension 回款 weight 30% {
  indicator 回款率 = customers.回款率 weight 100% scale minmax
}
tier A when score >= 70 expect 20%..40%
tier B otherwise
segment 规模 {
  大 when 年交易额 >= 10
  小 otherwise
}
"""


def write(tmp_path, rows: str) -> None:
    (tmp_path / "c.csv").write_text("客户编号,年交易额,回款率\n" + rows, encoding="utf-8")


def test_a_stored_run_reports_what_the_run_summarised(store_url, tmp_path):
    (tmp_path / "r.tier").write_text(RULES, encoding="utf-8")
    write(tmp_path, "K1,150,0.9\nK2,60,x\nK3,20,0.5\nK4,120,0.1\n")
    runner = CliRunner()
    res = runner.invoke(cli, ["run", str(tmp_path / "r.tier"), "--as-of", "2026-03-31", "--db", store_url,
                              "--report", str(tmp_path / "first.html")])
    assert res.exit_code == 0, res.output
    write(tmp_path, "K1,40,0.9\nK2,60,0.4\nK3,20,0.5\nK4,120,0.1\nK5,200,0.8\n")
    res = runner.invoke(cli, ["run", str(tmp_path / "r.tier"), "--as-of", "2026-06-30", "--db", store_url])
    assert res.exit_code == 0, res.output
    store = Store.open(store_url)
    try:
        newest, oldest = store.runs()
        first = json.loads(oldest.summary)
        assert [(d["tier"], d["count"]) for d in first["distribution"]] == [("A", 2), ("B", 2)]
        assert first["missing"] == {"回款率": 1}
        assert first["issues"] == [{"what": "not a number (treated as missing)", "where": "customers.回款率",
                                    "count": 1, "samples": ["K2: 'x'"]}]
        dims = {r.customer: json.loads(r.dimensions) for r in store.ratings(oldest.id)}
        assert dims["K1"] == {"价值": 10, "回款": 10} and dims["K2"]["回款"] == 1  # missing -> the lowest points

        report = stored_report(store, newest, default_registry())
        assert [(t.tier, t.count) for t in report.distribution] == [("A", 2), ("B", 3)]
        assert report.facts.score.total == 5 and set(report.facts.dimensions) == {"价值", "回款"}
        assert report.facts.dimensions["价值"].total == 5
        assert report.facts.segments[0].counts == [("大", 2), ("小", 3)]
        assert [(c.tier, c.value) for c in report.cuts] == [("A", 70.0)]
        assert report.changes is not None and report.changes.moved == 1
        assert [(m.customer, m.tier_before, m.tier_after) for m in report.movers] == [("K1", "A", "B")]
        assert report.notes == []

        older = stored_report(store, oldest, default_registry())
        assert older.changes is None and "nothing to compare with" in older.history_note
        assert [i.samples for i in older.issues] == [["K2: 'x'"]]
    finally:
        store.close()
    res = runner.invoke(cli, ["report", oldest.id, "--db", store_url, "--out", str(tmp_path / "again.html")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "again.html").read_text(encoding="utf-8") == (tmp_path / "first.html").read_text(encoding="utf-8")


def test_a_run_recorded_before_0004_reports_what_the_store_has_and_says_what_it_lacks(store_url, tmp_path):
    (tmp_path / "r.tier").write_text(RULES, encoding="utf-8")
    write(tmp_path, "K1,150,0.9\nK2,60,0.3\nK3,20,0.5\n")
    res = CliRunner().invoke(cli, ["run", str(tmp_path / "r.tier"), "--as-of", "2026-03-31", "--db", store_url])
    assert res.exit_code == 0, res.output
    store = Store.open(store_url)
    with store.engine.begin() as conn:  # as a run recorded before migration 0004 is
        conn.execute(sa.text("UPDATE run SET summary = NULL"))
        conn.execute(sa.text("UPDATE rating SET dimensions = NULL"))
    [run] = store.runs()
    report = stored_report(store, run, default_registry())
    store.close()
    assert [(t.tier, t.count, t.expect) for t in report.distribution] == [("A", 1, (0.2, 0.4)), ("B", 2, None)]
    assert report.facts.score.total == 3 and report.facts.dimensions == {}
    assert report.missing is None and report.issues is None
    assert any(n.startswith("dimension scores: not in the store") for n in report.notes)
    assert any(n.startswith("data quality: this run was recorded before") for n in report.notes)
    out = tmp_path / "old.html"
    res = CliRunner().invoke(cli, ["report", "--db", store_url, "--out", str(out)])
    assert res.exit_code == 0, res.output
    html = out.read_text(encoding="utf-8")
    assert 'id="notes"' in html and "recorded before the store kept its summary" in html


def test_migration_0004_keeps_the_ratings_recorded_before_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    old = Store(engine)
    old.upgrade("0003")
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO run (id, kind, ruleset, text_hash, rule_text, rule_file, as_of, calibration, sources, "
            "started_at, status, started_by, rows, tier_counts) VALUES ('r1', 'periodic', 'R', 'h', '', 'r.tier', "
            "'2026-03-31', '{}', '[]', '2026-04-01 00:00:00', 'complete', 'me', 1, '{\"A\": 1}')"))
        conn.execute(sa.text("INSERT INTO rating (run_id, customer, score, labels, segments, indicator_values, "
                             "points, reason) VALUES ('r1', 'K1', 80, '', '{}', '{}', '{}', 'periodic')"))
    engine.dispose()
    store = Store.open(url)
    try:
        assert store.revision() == "0004"
        [run] = store.runs()
        [rating] = store.ratings("r1")
        assert (run.summary, rating.dimensions, rating.score, run.tier_counts) == (None, None, 80, '{"A": 1}')
    finally:
        store.close()


def test_a_narrow_run_says_its_dimensions_and_segments_are_not_stored(tmp_path):
    (tmp_path / "r.tier").write_text(RULES, encoding="utf-8")
    write(tmp_path, "K1,150,0.9\nK2,60,0.3\nK3,20,0.5\n")
    db = f"sqlite:///{tmp_path / 's.db'}"
    res = CliRunner().invoke(cli, ["run", str(tmp_path / "r.tier"), "--db", db, "--columns", "score,tier"])
    assert res.exit_code == 0, res.output
    store = Store.open(db)
    [run] = store.runs()
    report = stored_report(store, run, default_registry())
    store.close()
    assert report.facts.score.total == 3 and report.facts.dimensions == {} and report.facts.segments == []
    assert [n.split(":")[0] for n in report.notes] == ["dimension scores", "segments"]
    assert report.missing is not None  # the summary is the run's, whatever its output columns
