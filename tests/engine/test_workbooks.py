"""The workbooks people open: the ratings workbook of `run --out x.xlsx` read back with openpyxl
(formats, frozen panes, autofilter, tier colours, the chart part, the summary read from the run),
and the scorecard of `explain --out card.xlsx`, whose formulas are evaluated with the `formulas`
library and must give the engine's score and tier — also after a points cell is edited."""
from __future__ import annotations

import importlib.util
import zipfile
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from tierwise.cli.main import cli
from tierwise.engine import columns as C
from tierwise.engine.build import compile_text
from tierwise.engine.evaluate import evaluate
from tierwise.engine.explain import scorecard
from tierwise.engine.fit import fit
from tierwise.engine.plugin_manager import default_registry
from tierwise.engine.run import evaluate_plan, open_step, run
from tierwise.engine.scorecard_workbook import write_scorecard_workbook
from tierwise.rulesets.demo_data import write_demo_data

ROOT = Path(__file__).resolve().parents[2]
AS_OF = date(2026, 6, 30)


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"_wb_sample_{name}", ROOT / "tests" / "rulesets" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sample(name: str, d: Path):
    """(plan, the rule file, --source overrides) with the shipped ruleset's sample data written into ``d``."""
    reg = default_registry()
    if name == "relationship_rating":
        write_demo_data(d, customers=300, seed=11, as_of=AS_OF)
        ruleset, overrides = d / "relationship_rating.tier", {}
    else:
        ruleset = ROOT / "rulesets" / f"{name}.tier"
        paths = _module(f"test_{name}").write_data(d)
        plan, _, _ = compile_text(ruleset.read_text(encoding="utf-8"), str(ruleset), reg)
        overrides = {sp.name: str(p) for sp, p in zip(plan.sources, paths)}
    plan, diags, _ = compile_text(ruleset.read_text(encoding="utf-8"), str(ruleset), reg)
    assert plan is not None, diags.format()
    return plan, ruleset, overrides


# ---- the ratings workbook ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_workbook(tmp_path_factory):
    d = tmp_path_factory.mktemp("wb")
    plan, ruleset, overrides = sample("relationship_rating", d)
    outcome = run(plan, default_registry(), ruleset.parent, AS_OF, overrides)
    out = d / "ratings.xlsx"
    outcome.write(out)
    return outcome, out


def test_the_ratings_sheet_has_frozen_headers_a_filter_formats_and_coloured_tiers(demo_workbook):
    outcome, out = demo_workbook
    wb = load_workbook(out)
    assert wb.sheetnames == ["评级结果", "等级分布", "数据质量"]  # a Chinese ruleset gets Chinese sheets and headers
    ws = wb["评级结果"]
    assert ws.freeze_panes == "B2"
    assert ws.auto_filter.ref == f"A1:{ws.cell(1, ws.max_column).column_letter}{outcome.rows + 1}"
    header = [c.value for c in ws[1]]
    assert header[:6] == ["客户编号", "综合得分", "等级", "等级名称", "最终等级", "年交易额"]
    assert "年交易额.得分" in header and header[-2:] == ["标签", "缺失项"]
    col = {h: i + 1 for i, h in enumerate(header)}
    rows = {r[plan_key(outcome)]: r for r in outcome.table.to_pylist()}
    tiers_seen = {}
    for r in range(2, 40):
        key = ws.cell(r, 1).value
        engine = rows[key]
        score = ws.cell(r, col["综合得分"])
        assert score.number_format == "0.00" and score.value == pytest.approx(engine["score"], abs=1e-12)
        assert ws.cell(r, col["年交易额"]).number_format == "#,##0.00"  # money: a sum of order amounts
        assert ws.cell(r, col["续约率"]).number_format == "0.0%"  # a rate: its bands cut at percentages
        assert ws.cell(r, col["投诉次数"]).number_format == "#,##0"  # a count
        assert ws.cell(r, col["年交易额.得分"]).number_format == "0.00"
        assert ws.cell(r, col["交易价值"]).number_format == "0.00"
        tier = ws.cell(r, col["等级"])
        assert tier.value == engine["tier"]
        tiers_seen[tier.value] = tier.fill.fgColor.rgb
    assert tiers_seen.get("A", "FFC6EFCE") == "FFC6EFCE" and tiers_seen.get("D", "FFFFC7CE") == "FFFFC7CE"
    assert len(set(tiers_seen.values())) == len(tiers_seen)  # one colour per tier
    widths = ws.column_dimensions
    assert widths["A"].width >= 9  # 客户编号: four CJK characters count double


def plan_key(outcome) -> str:
    return outcome.plan.key_column


def test_the_summary_sheet_is_the_run_s_distribution_with_a_native_chart(demo_workbook):
    outcome, out = demo_workbook
    ws = load_workbook(out)["等级分布"]
    rows = list(ws.iter_rows(values_only=True))
    head = rows.index(("等级", "等级名称", "客户数", "占比", "预期占比下限", "预期占比上限", "是否在预期内"))
    body = rows[head + 1: head + 1 + len(outcome.distribution)]
    for t, row in zip(outcome.distribution, body):
        assert row[0] == t.tier and row[1] == t.label and row[2] == t.count
        assert row[3] == pytest.approx(t.share, rel=1e-12)
        assert (row[4], row[5]) == pytest.approx(t.expect)
        assert row[6] == ("是" if t.within else "超出预期")
    assert ws.cell(head + 2, 4).number_format == "0.0%"
    assert len(ws._charts) == 1
    with zipfile.ZipFile(out) as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
        assert charts
        xml = z.read(charts[0]).decode("utf-8")
    assert "<c:barChart>" in xml and '<c:barDir val="col"/>' in xml and "<c:lineChart>" in xml
    assert "等级分布" in xml  # the series read the summary sheet's cells


def test_the_data_quality_sheet_has_the_run_s_missing_counts_and_issues(demo_workbook):
    outcome, out = demo_workbook
    ws = load_workbook(out)["数据质量"]
    rows = [r for r in ws.iter_rows(values_only=True)]
    by_indicator = {r[0]: r for r in rows if r[0] in {i.name for i in outcome.plan.indicators}}
    assert set(by_indicator) == {i.name for i in outcome.plan.indicators}
    for name, row in by_indicator.items():
        assert row[1] == outcome.missing_counts.get(name, 0)
        assert row[3] == "missing -> points 1"
    whats = [r[0] for r in rows]
    for issue in outcome.issues:
        assert issue.what in whats


def test_headers_en_and_the_machine_names_in_csv(tmp_path, demo_workbook):
    outcome, _ = demo_workbook
    outcome.write(tmp_path / "en.xlsx", "en")
    wb = load_workbook(tmp_path / "en.xlsx", read_only=True)
    assert wb.sheetnames == ["ratings", "summary", "data quality"]
    assert next(wb["ratings"].iter_rows(values_only=True))[:3] == ("客户编号", "score", "tier")
    outcome.write(tmp_path / "r.csv")
    assert (tmp_path / "r.csv").read_text(encoding="utf-8-sig").splitlines()[0].startswith('"客户编号","score","tier"')
    outcome.write(tmp_path / "zh.csv", "zh")
    assert (tmp_path / "zh.csv").read_text(encoding="utf-8-sig").splitlines()[0].startswith('"客户编号","综合得分","等级"')
    import pyarrow.parquet as pq

    outcome.write(tmp_path / "zh.parquet", "zh")
    names = pq.read_schema(tmp_path / "zh.parquet").names
    assert names[:3] == ["客户编号", "综合得分", "等级"] and "年交易额.得分" in names
    outcome.write(tmp_path / "en.parquet")
    assert pq.read_schema(tmp_path / "en.parquet").names[:3] == ["客户编号", "score", "tier"]


def test_csv_and_xlsx_numbers_carry_no_float_noise(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    amounts = {"K1": [24863052.61, 449.49], "K2": [0.1, 0.2]}  # sums to 24863502.099999998 and 0.30000000000000004
    pq.write_table(pa.table({"id": [k for k, v in amounts.items() for _ in v],
                             "amt": [x for v in amounts.values() for x in v]}), tmp_path / "o.parquet")
    pq.write_table(pa.table({"id": ["K1", "K2"]}), tmp_path / "c.parquet")
    rules = tmp_path / "r.tier"
    rules.write_text('source c = parquet("c.parquet") key id\nsource o = parquet("o.parquet") key id\n'
                     "points 0..10\nindicator 金额 = sum(o.amt) weight 100% {\n  >= 1000 -> 10\n  else -> 1\n}\n",
                     encoding="utf-8")
    for suffix in (".csv", ".xlsx", ".parquet"):
        res = CliRunner().invoke(cli, ["run", str(rules), "--as-of", "2026-06-30", "--no-store",
                                       "--out", str(tmp_path / f"out{suffix}")])
        assert res.exit_code == 0, res.output
    csv_text = (tmp_path / "out.csv").read_text(encoding="utf-8-sig")
    assert "24863502.1," in csv_text and "24863502.09" not in csv_text
    assert "0.3," in csv_text and "0.30000000000000004" not in csv_text
    with zipfile.ZipFile(tmp_path / "out.xlsx") as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<v>24863502.1</v>" in sheet and "<v>0.3</v>" in sheet
    # parquet keeps the full doubles
    assert pq.read_table(tmp_path / "out.parquet").column("金额").to_pylist() == [24863502.099999998,
                                                                                  0.30000000000000004]


# ---- the scorecard: formulas that recompute ------------------------------------------------------


class Evaluated:
    """A workbook's formulas as the formulas library computes them; ``cells(inputs)`` with A1 -> new values."""

    def __init__(self, path: Path):
        import formulas

        self.model = formulas.ExcelModel().loads(str(path)).finish()
        self.sheet = f"'[{path.name}]{model_sheet(path)}'!"

    def cells(self, inputs: dict[str, float] | None = None) -> dict[str, object]:
        sol = self.model.calculate(inputs={self.sheet + k: v for k, v in (inputs or {}).items()})
        out = {}
        for k, v in sol.items():
            if k.upper().startswith(self.sheet.upper()):
                value = getattr(v, "value", v)
                try:
                    value = value[0][0]
                except (TypeError, IndexError):
                    pass
                out[k[len(self.sheet):].upper()] = value
        return out


def model_sheet(path: Path) -> str:
    return load_workbook(path, read_only=True).sheetnames[0].upper()


def cards_for(name: str, d: Path, how_many: int):
    """(plan, engine rows of the population, scorecards of a few customers in different tiers, tables, backend)."""
    plan, ruleset, overrides = sample(name, d)
    reg = default_registry()
    outcome = run(plan, reg, ruleset.parent, AS_OF, overrides)
    ran = {r[plan.key_column]: r for r in outcome.table.to_pylist()}
    by_tier: dict = {}
    for key in sorted(ran):
        if ran[key]["score"] is not None:
            by_tier.setdefault(ran[key]["tier"], []).append(key)
    keys = []
    while len(keys) < how_many and any(by_tier.values()):
        for tier in list(by_tier):
            if by_tier[tier] and len(keys) < how_many:
                keys.append(by_tier[tier].pop(len(by_tier[tier]) // 2))
    opened = open_step(plan, reg, ruleset.parent, overrides)
    calibration = fit(plan, opened.tables, AS_OF, opened.backend, registry=reg)
    ev = evaluate(plan, opened.tables, AS_OF, calibration, registry=reg, backend=opened.backend,
                  columns=C.all_columns(plan), only=keys)
    rows = {r[plan.key_column]: r for r in opened.backend.fetch_rows(ev.table)}
    cards = [scorecard(plan, calibration, rows[k], AS_OF) for k in keys]
    return plan, ran, cards, opened, reg


def points_cells(path: Path) -> dict[str, str]:
    """indicator -> the A1 address of its points cell (column F of the indicator rows)."""
    ws = load_workbook(path).worksheets[0]
    out = {}
    for row in ws.iter_rows(min_row=1):
        name, points = row[2], row[5]
        if isinstance(name.value, str) and isinstance(points.value, (int, float)) and row[7].data_type == "f":
            out[name.value] = points.coordinate
    return out


@pytest.mark.parametrize("name,how_many", [("relationship_rating", 4), ("lifecycle", 3)])
def test_the_scorecard_formulas_recompute_to_the_engine_s_score_and_tier(tmp_path, name, how_many):
    plan, ran, cards, opened, reg = cards_for(name, tmp_path / "data", how_many)
    try:
        assert len({c.tier for c in cards}) >= 2  # customers of different tiers
        for card in cards:
            path = tmp_path / f"card_{card.key}.xlsx"
            write_scorecard_workbook(plan, card, path, "zh")
            wb = load_workbook(path)
            ws = wb.worksheets[0]
            labels: dict = {}
            for r in range(1, ws.max_row + 1):
                labels.setdefault(ws.cell(r, 1).value, r)
            total_at, tier_at, label_at = (f"I{labels[k]}" for k in ("综合得分", "等级", "等级名称"))
            assert ws[total_at].data_type == "f" and ws[tier_at].data_type == "f"
            model = Evaluated(path)
            cells = model.cells()
            engine = ran[card.key]
            assert cells[total_at] == pytest.approx(engine["score"], abs=1e-6), card.key
            assert cells[tier_at] == engine["tier"], card.key
            assert cells[label_at] == (engine.get("tier_label") or ""), card.key
            # a business user edits one points cell: the sheet's total and tier are the engine's for those points
            where = points_cells(path)
            ind = next(i for i in plan.indicators if i.name in where and ws[where[i.name]].value is not None)
            old = float(ws[where[ind.name]].value)
            new = plan.points_range[1] if old < plan.points_range[1] else plan.points_range[0]
            edited = model.cells({where[ind.name]: new})
            result, _ = evaluate_plan(plan, reg, opened.tables, AS_OF, opened.backend,
                                      points_override={ind.name: new})
            rescored = {r[plan.key_column]: r for r in opened.backend.fetch_rows(result)}[card.key]
            assert rescored["score"] != pytest.approx(engine["score"], abs=1e-6)  # the edit moves the score
            assert edited[total_at] == pytest.approx(rescored["score"], abs=1e-6), (card.key, ind.name)
            assert edited[tier_at] == rescored["tier"], (card.key, ind.name)
    finally:
        opened.backend.close()


def test_explain_out_writes_the_rating_form(tmp_path):
    plan, ruleset, overrides = sample("relationship_rating", tmp_path)
    out = tmp_path / "card.xlsx"
    key = "KH00007"
    res = CliRunner().invoke(cli, ["explain", str(ruleset), key, "--as-of", "2026-06-30", "--out", str(out)])
    assert res.exit_code == 0, res.output
    ws = load_workbook(out).worksheets[0]
    texts = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert "客户关系评级表" in texts and "客户编号" in texts and key in texts
    assert {"维度", "维度权重", "指标", "指标值", "得分", "权重", "加权得分", "综合得分", "等级", "等级名称"} <= set(texts)
    assert all(d.name in texts for d in plan.dimensions) and all(i.name in texts for i in plan.indicators)
    res = CliRunner().invoke(cli, ["explain", str(ruleset), key, "--as-of", "2026-06-30", "--out",
                                   str(tmp_path / "card_en.xlsx"), "--headers", "en"])
    assert res.exit_code == 0, res.output
    texts = [c.value for row in load_workbook(tmp_path / "card_en.xlsx").worksheets[0].iter_rows() for c in row]
    assert "customer rating form" in texts and "weighted score" in texts
    res = CliRunner().invoke(cli, ["explain", str(ruleset), key, "--as-of", "2026-06-30", "--out",
                                   str(tmp_path / "card.csv")])
    assert res.exit_code == 0, res.output
    lines = (tmp_path / "card.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith('"dimension","kind","name"') and len(lines) == len(plan.indicators) + 4 + 1 + 1
    bad = CliRunner().invoke(cli, ["explain", str(ruleset), key, "--out", str(tmp_path / "card.txt")])
    assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_text_stays_text_on_every_sheet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    keys = ["=1+2", "=1+2", '=HYPERLINK("http://x","y")', "K\x01"]  # a duplicate key: in the data problems too
    pq.write_table(pa.table({"id": keys, "a": [1.0, 2.0, 3.0, 4.0]}), tmp_path / "c.parquet")
    rules = tmp_path / "r.tier"
    rules.write_text('source c = parquet("c.parquet") key id\npoints 0..10\nindicator A = c.a weight 100%\n'
                     'tier T "=SUM(1)" when score >= 2\ntier U otherwise\n', encoding="utf-8")
    out = tmp_path / "out.xlsx"
    res = CliRunner().invoke(cli, ["run", str(rules), "--as-of", "2026-06-30", "--out", str(out), "--no-store"])
    assert res.exit_code == 0, res.output
    wb = load_workbook(out)
    assert wb.sheetnames == ["ratings", "summary", "data quality"]  # an English ruleset: English sheets
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row
             if isinstance(c.value, str) and c.value.startswith("=")]
    assert {c.value for c in cells} >= {"=1+2", '=HYPERLINK("http://x","y")', "=SUM(1)"}
    assert all(c.data_type == "s" for c in cells)
    samples = [c.value for row in wb["data quality"].iter_rows() for c in row if isinstance(c.value, str)]
    assert any("=1+2" in s for s in samples)
    res = CliRunner().invoke(cli, ["explain", str(rules), "=1+2", "--as-of", "2026-06-30", "--out",
                                   str(tmp_path / "card.xlsx")])
    assert res.exit_code == 0, res.output
    card = load_workbook(tmp_path / "card.xlsx").worksheets[0]
    key_cells = [c for row in card.iter_rows() for c in row if c.value == "=1+2"]
    assert key_cells and all(c.data_type == "s" for c in key_cells)
