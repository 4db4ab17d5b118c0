"""Edge cases of real exports and rule files, each against values worked out by hand: NaN and
infinities, float keys from pandas, rows of another source that match no customer, caps, an empty
population, customers no tier rule matches, text that Excel would read as a formula."""
from datetime import date
from pathlib import Path

import openpyxl
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


def rate(tmp_path: Path, text: str, **tables: pa.Table):
    for name, table in tables.items():
        pq.write_table(table, tmp_path / f"{name}.parquet")
    registry = default_registry()
    plan, diags, _ = compile_text(text, "t.tier", registry)
    assert plan is not None, [d.message for d in diags.errors]
    outcome = run(plan, registry, tmp_path, AS_OF)
    return {r[plan.key_column]: r for r in outcome.table.to_pylist()}, outcome


def test_nan_and_infinity_are_missing_never_a_top_score(tmp_path):
    text = ('source c = parquet("c.parquet") key id\npoints 0..10\nmissing -> points 1\n'
            "indicator B = c.x weight 50% {\n  >= 4 -> 10\n  else -> 2\n}\n"
            "indicator Z = c.x weight 50% scale zscore\n"
            "indicator L = log(c.x, 1) weight 0%\n"
            "tier S top 1\ntier A when score >= 8\ntier C otherwise\n")
    x = [1.0, 2.0, float("nan"), 4.0, None, float("inf")]
    rows, outcome = rate(tmp_path, text, c=pa.table({"id": [f"K{i}" for i in range(6)], "x": x}))
    for k in ("K2", "K4", "K5"):  # NaN, null and inf: missing, scored by the missing policy
        assert rows[k]["B"] is None and rows[k]["B.points"] == 1 and rows[k]["Z.points"] == 1
    # the z-score is fitted on 1, 2, 4 only: mean 7/3, so 4 scores above the middle, 1 below
    assert 5 < rows["K3"]["Z.points"] < 10 and 0 < rows["K0"]["Z.points"] < 5
    assert all(r["L"] is None for r in rows.values())  # log base 1: no number
    assert rows["K3"]["tier"] == "S"
    assert {i.what for i in outcome.issues} == {"not a number (treated as missing)"}  # the inf is counted


def test_float_keys_from_pandas_join_integer_keys(tmp_path):
    text = ('source c = parquet("c.parquet") key id\nsource o = parquet("o.parquet") key id\npoints 0..1000\n'
            "indicator S = sum(o.amt) weight 100%\n")
    rows, outcome = rate(tmp_path, text, c=pa.table({"id": pa.array([1001, 1002], pa.int64())}),
                         o=pa.table({"id": [1001.0, 1001.0, 1002.0, None], "amt": [10.0, 20.0, 5.0, 7.0]}))
    assert {k: r["S"] for k, r in rows.items()} == {"1001": 30.0, "1002": 5.0}


def test_rows_of_another_source_that_match_no_customer_are_reported(tmp_path):
    text = ('source c = parquet("c.parquet") key id\nsource o = parquet("o.parquet") key id\npoints 0..1000\n'
            "indicator S = sum(o.amt) weight 100%\n")
    rows, outcome = rate(tmp_path, text, c=pa.table({"id": ["K1", "K2"]}),
                         o=pa.table({"id": ["K1", "k2", "K9", "K9"], "amt": [10.0, 200.0, 300.0, 1.0]}))
    assert rows["K1"]["S"] == 10 and rows["K2"]["S"] == 0
    (issue,) = outcome.issues
    assert issue.count == 3 and issue.samples == ["K9", "k2"] and issue.where == "o.id"
    assert "matches no customer" in issue.what


def test_additive_caps_on_indicator_dimension_and_total(tmp_path):
    text = ('source c = parquet("c.parquet") key id\nscoring additive base 600\ncap 650\nmissing -> points 0\n'
            "indicator Inc = c.inc cap 10 {\n  >= 10000 -> 40\n  else -> 5\n}\n"
            "dimension D cap 50 {\n  indicator P = c.p\n  indicator Q = c.q\n}\n"
            "indicator Late = c.late {\n  == 0 -> 20\n  else -> -100\n}\n")
    rows, _ = rate(tmp_path, text, c=pa.table({"id": ["K1", "K2", "K3"], "inc": [20000.0, 1.0, None],
                                                "p": [30.0, 60.0, None], "q": [40.0, 80.0, None],
                                                "late": [3.0, 0.0, 0.0]}))
    assert rows["K1"]["Inc.points"] == 10 and rows["K1"]["D"] == 50 and rows["K1"]["score"] == 600 + 10 + 50 - 100
    assert rows["K2"]["D"] == 50 and rows["K2"]["score"] == 650  # 600 + 5 + 50 + 20 = 675, capped at 650
    assert rows["K3"]["Inc.points"] == 0 and rows["K3"]["D"] == 0  # missing stays missing: 0 points, not the cap


def test_an_empty_population_is_an_error(tmp_path):
    pq.write_table(pa.table({"id": pa.array([], pa.string()), "v": pa.array([], pa.float64())}),
                   tmp_path / "c.parquet")
    registry = default_registry()
    plan, _, _ = compile_text('source c = parquet("c.parquet") key id\nindicator v = c.v weight 100%\n',
                              "t.tier", registry)
    with pytest.raises(DataError, match="no data rows"):
        run(plan, registry, tmp_path, AS_OF)


def test_customers_no_tier_matches_are_not_reported_as_unscored(tmp_path):
    pq.write_table(pa.table({"id": ["K1", "K2"], "a": [9.0, 3.0]}), tmp_path / "c.parquet")
    rules = tmp_path / "r.tier"
    rules.write_text('source c = parquet("c.parquet") key id\npoints 0..10\nindicator A = c.a weight 100%\n'
                     "tier A when score >= 6\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["run", str(rules), "--as-of", "2026-06-30"])
    assert res.exit_code == 0, res.output
    assert "no tier (no tier rule matched)" in res.output and "no score" not in res.output
    assert "1 customer(s) with a score match no tier" in res.output


def test_xlsx_output_keeps_text_as_text(tmp_path):
    pq.write_table(pa.table({"id": ["=1+2", '=HYPERLINK("http://x","y")', "K\x01"], "a": [1.0, 2.0, 3.0]}),
                   tmp_path / "c.parquet")
    rules = tmp_path / "r.tier"
    rules.write_text('source c = parquet("c.parquet") key id\npoints 0..10\nindicator A = c.a weight 100%\n',
                     encoding="utf-8")
    out = tmp_path / "out.xlsx"
    res = CliRunner().invoke(cli, ["run", str(rules), "--as-of", "2026-06-30", "--out", str(out)])
    assert res.exit_code == 0, res.output
    ws = openpyxl.load_workbook(out).active
    cells = {row[0].value: row[0].data_type for row in ws.iter_rows(min_row=2)}
    assert cells == {"=1+2": "s", '=HYPERLINK("http://x","y")': "s", "K\ufffd": "s"}


def test_write_errors_are_messages_not_tracebacks(tmp_path):
    pq.write_table(pa.table({"id": ["K1"], "a": [1.0]}), tmp_path / "c.parquet")
    rules = tmp_path / "r.tier"
    rules.write_text('source c = parquet("c.parquet") key id\npoints 0..10\nindicator A = c.a weight 100%\n',
                     encoding="utf-8")
    (tmp_path / "isdir.csv").mkdir()
    res = CliRunner().invoke(cli, ["run", str(rules), "--as-of", "2026-06-30", "--out", str(tmp_path / "isdir.csv")])
    assert res.exit_code == 1 and "cannot write" in res.output and "Traceback" not in res.output


def test_results_come_in_key_order_on_every_run(tmp_path):
    ids = [f"K{i:04d}" for i in range(5000)]
    shuffled = ids[::7] + [k for i, k in enumerate(ids) if i % 7]
    text = 'source c = parquet("c.parquet") key id\npoints 0..10\nindicator A = c.a weight 100%\n'
    rows, outcome = rate(tmp_path, text, c=pa.table({"id": shuffled, "a": [1.0] * len(ids)}))
    assert list(rows) == ids
    assert outcome.table.column("id").to_pylist() == ids


def test_explain_shows_weights_respread_by_exclude_and_adds_up_to_the_score(tmp_path):
    pq.write_table(pa.table({"id": ["K1"], "a": [8.0], "b": [None], "c": [None], "d": [None]}),
                   tmp_path / "c.parquet")
    rules = tmp_path / "r.tier"
    rules.write_text('source c = parquet("c.parquet") key id\npoints 0..10\nscore 0..100\nmissing -> exclude\n'
                     "dimension D1 weight 60% {\n  indicator A = c.a weight 40%\n  indicator B = c.b weight 60%\n}\n"
                     "dimension D2 weight 40% {\n  indicator C = c.c weight 50%\n  indicator D = c.d weight 50%\n}\n"
                     "tier T when score > 80\ntier U otherwise\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["explain", str(rules), "K1", "--as-of", "2026-06-30"], terminal_width=200)
    assert res.exit_code == 0, res.output
    # only A is present: it carries the whole score, 8 points = 80
    assert "score 80" in res.output
    assert "40% → 100%" in res.output and "60% → 100%" in res.output  # A in D1, D1 at the top
    a_row = next(line for line in res.output.splitlines() if " A " in line)
    assert a_row.rstrip(" │").endswith("80")  # its contribution is the whole score
    assert "0 more points and a little more to reach tier T (score > 80)" in res.output


def test_source_override_paths_are_relative_to_where_they_are_typed(tmp_path, monkeypatch):
    rules_dir, data_dir = tmp_path / "rules", tmp_path / "work"
    rules_dir.mkdir(), data_dir.mkdir()
    pq.write_table(pa.table({"id": ["K1"], "a": [7.0]}), data_dir / "export.parquet")
    rules = rules_dir / "r.tier"
    rules.write_text('source c = parquet("c.parquet") key id\npoints 0..10\nindicator A = c.a weight 100%\n',
                     encoding="utf-8")
    monkeypatch.chdir(data_dir)
    out = data_dir / "o.csv"
    res = CliRunner().invoke(cli, ["run", str(rules), "--source", "c=export.parquet", "--as-of", "2026-06-30",
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "\"K1\",7," in out.read_text(encoding="utf-8-sig")
    res = CliRunner().invoke(cli, ["run", str(rules), "--source", "c=", "--as-of", "2026-06-30"])
    assert res.exit_code == 2 and "gives no path" in res.output


def test_a_sqlite_url_typed_on_the_command_line_is_relative_to_the_working_directory(tmp_path, monkeypatch):
    import sqlite3

    rules_dir, data_dir = tmp_path / "rules", tmp_path / "work"
    rules_dir.mkdir(), data_dir.mkdir()
    with sqlite3.connect(data_dir / "crm.db") as db:
        db.execute("CREATE TABLE t (id TEXT, a REAL)")
        db.execute("INSERT INTO t VALUES ('K1', 6)")
    rules = rules_dir / "r.tier"
    rules.write_text('source c = sql("sqlite:///other.db", table: "t") key id\npoints 0..10\n'
                     "indicator A = c.a weight 100%\n", encoding="utf-8")
    monkeypatch.chdir(data_dir)
    out = data_dir / "o.csv"
    res = CliRunner().invoke(cli, ["run", str(rules), "--source", "c=sqlite:///crm.db", "--as-of", "2026-06-30",
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert '"K1",6,' in out.read_text(encoding="utf-8-sig")


def test_percent_cells_against_bands_in_plain_numbers_are_reported(tmp_path):
    (tmp_path / "c.csv").write_text("id,r\nK1,95%\nK2,80%\nK3,0.5\n", encoding="utf-8")
    registry = default_registry()
    text = ('source c = csv("c.csv") key id\npoints 0..10\nindicator R = c.r weight 100% {\n'
            "  >= 90 -> 10\n  else -> 1\n}\n")
    plan, _, _ = compile_text(text, "t.tier", registry)
    outcome = run(plan, registry, tmp_path, AS_OF)
    (issue,) = outcome.issues
    assert issue.where == "c.r" and issue.count == 2 and "cells written with %" in issue.what
    # written with % in the bands too: nothing to report
    plan, _, _ = compile_text(text.replace(">= 90", ">= 90%"), "t.tier", registry)
    assert run(plan, registry, tmp_path, AS_OF).issues == []


def test_missing_values_equal_nothing_and_blank_means_missing(tmp_path):
    (tmp_path / "c.csv").write_text("id,h,t\nK1,5,输单\nK2,,\nK3,7,赢单\n", encoding="utf-8")
    registry = default_registry()
    text = ('source c = csv("c.csv") key id\npoints 0..10\n'
            "indicator a = coalesce(c.h, 0) weight 100%\n"  # a text column read only inside coalesce: a number
            'label NE when c.t != "输单"\nlabel NI when c.t not in ("输单", "暂停")\n'
            'label NOTEQ when not (c.t == "输单")\nlabel EQ when c.t == "输单"\n'
            'label BLANK when c.t == ""\nlabel FILLED when c.t != ""\nlabel LOW when c.h < 6\n')
    plan, diags, _ = compile_text(text, "t.tier", registry)
    assert plan is not None, [d.message for d in diags.errors]
    rows = {r["id"]: r for r in run(plan, registry, tmp_path, AS_OF).table.to_pylist()}
    labels = {k: set(filter(None, (r["labels"] or "").split(","))) for k, r in rows.items()}
    assert labels == {"K1": {"EQ", "FILLED", "LOW"},
                      "K2": {"NE", "NI", "NOTEQ", "BLANK"},  # blank: equal to nothing but "", below nothing
                      "K3": {"NE", "NI", "NOTEQ", "FILLED"}}
    assert {k: r["a"] for k, r in rows.items()} == {"K1": 5.0, "K2": 0.0, "K3": 7.0}


def test_no_score_from_exclude_is_reported_and_from_error_fails_the_run(tmp_path):
    pq.write_table(pa.table({"id": ["K1", "K2", "K3"], "a": [9.0, None, None], "b": [1.0, 1.0, None],
                             "n": [2.0, 0.0, 0.0]}), tmp_path / "c.parquet")
    rules = tmp_path / "r.tier"
    rules.write_text('source c = parquet("c.parquet") key id\npoints 0..10\nmissing -> exclude\n'
                     "indicator A = c.a weight 100%\n"
                     "tier 无记录 when c.n == 0 and c.a == 0\ntier 空 when c.n == 0 and score >= 0\n"
                     "tier X when c.b == 1\ntier Z otherwise\n", encoding="utf-8")
    out = tmp_path / "o.csv"
    res = CliRunner().invoke(cli, ["run", str(rules), "--as-of", "2026-06-30", "--out", str(out)])
    assert res.exit_code == 0, res.output  # excluded values are not errors: reported, the run succeeds
    assert "2 row(s): no score: every indicator is missing (missing -> exclude)" in res.output
    lines = out.read_text(encoding="utf-8-sig").splitlines()[1:]
    # K2 has no score but meets `tier X when c.b == 1`; K3 meets no `when` tier and gets no `otherwise`
    assert [ln.split(",")[:3] for ln in lines] == [['"K1"', "9", '"X"'], ['"K2"', "", '"X"'], ['"K3"', "", ""]]
    rules.write_text(rules.read_text(encoding="utf-8").replace("missing -> exclude", "missing -> error"),
                     encoding="utf-8")
    res = CliRunner().invoke(cli, ["run", str(rules), "--as-of", "2026-06-30"])
    assert res.exit_code == 1 and "2 customer(s) have no score" in res.output


def test_output_has_tier_labels_rounded_scores_and_the_final_tier_after_triggers(tmp_path):
    pq.write_table(pa.table({"id": ["K1", "K2"], "a": [10.0, 8.0], "b": [2.0, 10.0], "c": [8.0, 6.0],
                             "投诉": [1.0, 0.0]}), tmp_path / "c.parquet")
    rules = tmp_path / "r.tier"
    rules.write_text('source c = parquet("c.parquet") key id\npoints 0..10\nscore 0..100\n'
                     "indicator A = c.a weight 10%\nindicator B = c.b weight 20%\nindicator C = c.c weight 70%\n"
                     'tier T "重点" when score >= 70\ntier U otherwise\n'
                     "trigger 重大投诉 when c.投诉 >= 1 -> rerate, cap tier at U\n", encoding="utf-8")
    out = tmp_path / "o.csv"
    res = CliRunner().invoke(cli, ["run", str(rules), "--as-of", "2026-06-30", "--out", str(out)])
    assert res.exit_code == 0, res.output
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith('"id","score","tier","tier_label","final_tier","A","A.points"')
    # 10·10% + 2·20% + 8·70% = 7 points → 70.00000000000001 in floating point, written 70; K1's complaint
    # caps its final tier at U
    assert lines[1].startswith('"K1",70,"T","重点","U"') and lines[2].startswith('"K2",70,"T","重点","T"')
    assert "not applied" not in res.output


def test_a_quota_swollen_by_ties_is_said(tmp_path):
    text = ('source c = parquet("c.parquet") key id\npoints 0..10\nindicator A = c.a weight 100%\n'
            "tier T top 10%\ntier R otherwise\n")
    rows, outcome = rate(tmp_path, text, c=pa.table({"id": [f"K{i}" for i in range(10)],
                                                      "a": [5.0] * 8 + [1.0, 2.0]}))
    assert sum(r["tier"] == "T" for r in rows.values()) == 8
    assert outcome.warnings == ["tier T (top 10%) holds 8 customers where the quota is 1: "
                                "scores tie at the cut, and ties all go in"]


def test_what_the_checks_let_through_is_a_message_not_a_traceback(tmp_path):
    from tierwise.engine.run import cannot_evaluate

    err = cannot_evaluate(TypeError("Arguments s__orders__下单日期:date and value__年交易额:float64 are not comparable"))
    assert str(err).startswith("cannot evaluate the rules on this data: Arguments orders.下单日期:date and 年交易额")
    assert "\n" not in str(err)


@pytest.mark.parametrize("expr, message", [
    ("c.amt", "column 'amt' holds date values; the rules use it as a number"),
    ("days_since(c.flag)", "column 'flag' holds boolean values; the rules use it as a date"),
])
def test_a_typed_column_of_the_wrong_type_is_named(tmp_path, expr, message):
    from datetime import date as day

    pq.write_table(pa.table({"id": ["K1"], "amt": [day(2020, 1, 1)], "flag": [True]}), tmp_path / "c.parquet")
    registry = default_registry()
    plan, _, _ = compile_text(f'source c = parquet("c.parquet") key id\npoints 0..10\nindicator a = {expr} weight 100%\n',
                              "t.tier", registry)
    with pytest.raises(DataError, match=message):
        run(plan, registry, tmp_path, AS_OF)
