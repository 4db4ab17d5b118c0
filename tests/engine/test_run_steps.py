"""A run is its steps in order (open -> check data -> fit -> evaluate -> compute -> summarise -> deliver),
each usable alone; every run has its own id; a given calibration is used instead of fitting."""
from __future__ import annotations

import uuid
from datetime import date

import pytest

from tierwise.engine.build import compile_text
from tierwise.engine.calibration import Calibration, FittedNormalizer
from tierwise.engine.evaluate import evaluate
from tierwise.engine.fit import fit, fit_measuring
from tierwise.engine.plugin_manager import default_registry
from tierwise.engine.quality import check_data
from tierwise.engine.run import compute, open_step, rate_customers, run
from tierwise.engine.summary import indicator_columns, indicator_metrics, summarise

AS_OF = date(2026, 6, 30)
RULES = '''source c = csv("c.csv") key id
points 1..10
indicator 量 = c.量 weight 50% scale minmax
indicator 级 = c.级 weight 50% {
  >= 5 -> 10
  else -> 1
}
tier A when score >= 6
tier B otherwise
on tier A -> log(message: "A")
'''


@pytest.fixture
def ruleset(tmp_path):
    (tmp_path / "c.csv").write_text("id,量,级\nK1,10,6\nK2,20,1\nK3,30,9\n K3,5,5\n", encoding="utf-8")
    reg = default_registry()
    plan, diags, _ = compile_text(RULES, str(tmp_path / "r.tier"), reg)
    assert plan is not None, diags.format()
    return plan, reg, tmp_path


def test_every_run_has_its_own_id(ruleset):
    plan, reg, d = ruleset
    a, b = run(plan, reg, d, AS_OF), run(plan, reg, d, AS_OF)
    assert a.run_id != b.run_id
    assert uuid.UUID(a.run_id).version == 4
    assert any(a.run_id in line for line in a.log)  # the actions carry it


def test_the_steps_one_by_one_give_what_run_gives(ruleset, tmp_path):
    plan, reg, d = ruleset
    outcome = run(plan, reg, d, AS_OF)
    opened = open_step(plan, reg, d)
    try:
        quality = check_data(plan, opened.tables, opened.backend)
        assert [i.what for i in quality.issues] == ["duplicate key (first row used)"]
        calibration = fit(plan, opened.tables, AS_OF, opened.backend, registry=reg, keys=quality.keys)
        assert calibration == outcome.calibration == Calibration({"量": FittedNormalizer("minmax",
                                                                                        {"min": 10.0, "max": 30.0})})
        ev = evaluate(plan, opened.tables, AS_OF, calibration, registry=reg, backend=opened.backend, keys=quality.keys)
        computed = compute(ev, opened.backend, tmp_path / "out.parquet")
        summary = summarise(plan, computed.table, opened.backend)
        rows = opened.backend.fetch_rows(computed.table)
    finally:
        opened.backend.close()
    assert rows == outcome.table.to_pylist()
    assert summary.distribution == outcome.distribution


def test_a_given_calibration_is_used_instead_of_fitting(ruleset):
    plan, reg, d = ruleset
    stored = Calibration({"量": FittedNormalizer("minmax", {"min": 0.0, "max": 20.0})})
    outcome = run(plan, reg, d, AS_OF, calibration=stored)
    assert outcome.calibration == stored
    assert outcome.find("K2")["量.points"] == 10.0  # 20 is the top of the stored range


SUMMARY_RULES = '''source c = csv("c.csv") key id
points 0..10
missing -> exclude
indicator 额 = c.额 weight 30% {
  >= 100 -> 10
  >= 10 -> 5
}
indicator 率 = c.率 weight 20% {
  >= 90% -> 10
  else -> 3
}
indicator 分 = c.分 weight 20%
indicator 量 = c.量 weight 30% scale percentile
tier A "核心" when score >= 7
tier B when score >= 4
'''
SUMMARY_ERROR_RULES = SUMMARY_RULES.replace("indicator 分 = c.分 weight 20%",
                                            "indicator 分 = c.分 weight 20% missing -> error")
# nothing to fit: a narrow run's summary evaluates the indicators' values in a query of their own
SUMMARY_UNFITTED_RULES = SUMMARY_RULES.replace(" scale percentile", "")
SUMMARY_CSV = "id,额,率,分,量\nK1,200,0.95,9,3\nK2,5,95,12,1\nK3,,,,\nK4,50,0.5,,7\nK5,20,0.2,1,2\n K1,1,1,1,1\n"


@pytest.mark.parametrize("rules", [SUMMARY_RULES, SUMMARY_ERROR_RULES, SUMMARY_UNFITTED_RULES],
                         ids=["exclude", "error", "unfitted"])
def test_the_summary_does_not_depend_on_the_columns_written(tmp_path, rules):
    # every metric the summary has fires here: missing values, a value no band matched (额 = 5), a
    # percentage above 1 (率 = 95), raw points outside 0..10 (分 = 12), customers without a score or a tier,
    # and (second case) a customer left without a score by `missing -> error`
    (tmp_path / "c.csv").write_text(SUMMARY_CSV, encoding="utf-8")  # K1 twice (padded): the first row is used
    reg = default_registry()
    plan, diags, _ = compile_text(rules, str(tmp_path / "r.tier"), reg)
    assert plan is not None, diags.format()

    def summary(columns):
        try:
            o = run(plan, reg, tmp_path, AS_OF, columns=columns)
        except Exception as exc:  # missing -> error fails the run: its message carries the summary's count
            return str(exc)
        return (o.rows, o.distribution, o.missing_counts, [(i.what, i.where, i.count) for i in o.issues],
                o.warnings, o.unscored)

    full = summary(None)
    if rules is SUMMARY_RULES:
        rows, dist, missing, issues, warnings, unscored = full
        assert rows == 5 and missing == {"额": 1, "率": 1, "分": 2, "量": 1}
        assert ("value matched no band (scored as missing)", "额", 1) in issues
        assert ("points outside 0..10 (the value is used as points)", "分", 1) in issues
        assert any("率 is compared with percentages" in w for w in warnings)
        assert [t.tier for t in dist][-1] is None  # K3 has no score
    for columns in (["score", "tier"], ["tier", "score"], ["tier"], ["score"], ["tier_label"], ["分.points"]):
        assert summary(columns) == full, columns


def test_fit_aggregates_the_summarys_indicator_side_in_its_own_query(tmp_path):
    """What a narrow run's summary reads of the indicators comes from fit's query, equal to aggregating the
    evaluated values on their own; the calibration is the one fit alone gives."""
    (tmp_path / "c.csv").write_text(SUMMARY_CSV, encoding="utf-8")
    reg = default_registry()
    plan, diags, _ = compile_text(SUMMARY_RULES, str(tmp_path / "r.tier"), reg)
    assert plan is not None, diags.format()
    opened = open_step(plan, reg, tmp_path)
    be = opened.backend
    try:
        keys = check_data(plan, opened.tables, be).keys
        calibration, row = fit_measuring(plan, opened.tables, AS_OF, be, registry=reg, keys=keys,
                                         columns=indicator_columns(plan),
                                         measure=lambda values, missing: indicator_metrics(plan, values, missing))
        assert calibration == fit(plan, opened.tables, AS_OF, be, registry=reg, keys=keys)
        values = evaluate(plan, opened.tables, AS_OF, calibration, registry=reg, backend=be, keys=keys,
                          columns=[plan.key_column, *indicator_columns(plan)]).table
        alone = be.fetch_one(values.aggregate(**indicator_metrics(plan, values)))
    finally:
        be.close()
    assert row == alone
    assert row["m0"] == 1 and row["u0"] == 1 and row["pc1"] == 1 and row["r2"] == 1  # every kind fires


MISSING_RULES = """source c = csv("c.csv") key id
points 0..10
missing -> points 0
indicator 年 = years_between(c.起, as_of) weight 10% scale minmax
indicator 天 = days_since(c.起) weight 10% scale minmax
indicator 小 = min(c.x, abs(c.y)) weight 10% scale minmax
indicator 绝 = abs(c.x) weight 10% scale minmax
indicator 合 = coalesce(c.x, c.y) weight 20% scale minmax
indicator 对 = log(c.y) weight 20% scale minmax
indicator 和 = c.x + c.y weight 20% scale minmax
"""
MISSING_CSV = "id,起,x,y\nK1,2020-01-31,1,2\nK2,,3,\nK3,不是日期,,-4\nK4,2024-02-29,-5,0\nK5,2019-06-30,x,7\n"


def test_a_missing_value_read_off_its_columns_is_where_the_value_is_missing(tmp_path):
    """Through strict functions (missing exactly when an argument is) a value's missing cells are its
    columns' — counted without computing it; coalesce, log (missing for x <= 0) and arithmetic are not read
    off, they are computed."""
    (tmp_path / "c.csv").write_text(MISSING_CSV, encoding="utf-8")
    reg = default_registry()
    plan, diags, _ = compile_text(MISSING_RULES, str(tmp_path / "r.tier"), reg)
    assert plan is not None, diags.format()
    opened = open_step(plan, reg, tmp_path)
    be = opened.backend
    read_off: list[str] = []

    def measure(values, missing):
        read_off.extend(missing)
        return {**{f"d_{n}": (m != values[n].isnull()).cast("int64").sum() for n, m in missing.items()},
                **{f"m_{n}": m.cast("int64").sum() for n, m in missing.items()}}

    try:
        keys = check_data(plan, opened.tables, be).keys
        _, row = fit_measuring(plan, opened.tables, AS_OF, be, registry=reg, keys=keys,
                               columns=indicator_columns(plan), measure=measure)
    finally:
        be.close()
    assert sorted(read_off) == sorted(["年", "天", "小", "绝"])
    assert row is not None and all(row[f"d_{n}"] == 0 for n in read_off)
    assert (row["m_年"], row["m_天"], row["m_小"], row["m_绝"]) == (2, 2, 3, 2)  # blank and bad dates, x or y


HELD_RULES = '''source c = parquet("c.parquet") key id
source o = parquet("o.parquet") key id
points 0..10
indicator 量 = c.量 weight 50% scale minmax
indicator 单 = count(o) weight 50% scale minmax
'''


def test_a_parquet_source_of_one_row_per_customer_is_read_once_and_a_log_left_to_its_census(tmp_path):
    """Every query over a Parquet view decodes the file again: a source the counting, fitting and scoring
    queries all read is held as a table of the columns the rules read, rows in file order (the first
    of a repeated key is used); a log, read once by its census, stays a view. The ratings are the same."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tierwise.engine.run import held_sources

    pq.write_table(pa.table({"id": ["K2", "K1", "K2", "K3"], "量": [1.0, 2.0, 9.0, 3.0], "备注": ["a", "b", "c", "d"]}),
                   tmp_path / "c.parquet")
    pq.write_table(pa.table({"id": ["K1", "K1", "K3"], "x": [1, 2, 3]}), tmp_path / "o.parquet")
    reg = default_registry()
    plan, diags, _ = compile_text(HELD_RULES, str(tmp_path / "r.tier"), reg)
    assert plan is not None, diags.format()
    opened = open_step(plan, reg, tmp_path)
    be = opened.backend
    try:
        held = held_sources(plan, opened.tables, be)
        assert be._is_view(opened.tables["c"]) and not be._is_view(held["c"])
        assert list(held["c"].columns) == ["id", "量"]
        assert held["o"] is opened.tables["o"]
        assert be.fetch_tuples(held["c"])[1] == [("K2", 1.0), ("K1", 2.0), ("K2", 9.0), ("K3", 3.0)]
    finally:
        be.close()
    rows = run(plan, reg, tmp_path, AS_OF).table.to_pylist()
    assert [(r["id"], r["量"], r["单"]) for r in rows] == [("K1", 2.0, 2.0), ("K2", 1.0, 0.0), ("K3", 3.0, 1.0)]
    # rating one customer fits on everyone (two queries over the held source): the run's row
    one = rate_customers(plan, reg, tmp_path, AS_OF, ["K2"]).rows["K2"]
    assert (one["score"], one["量.points"]) == (rows[1]["score"], rows[1]["量.points"])


def test_the_steps_of_a_rating_type_each_source_once(ruleset, monkeypatch):
    """Fitting, scoring (and a run's summary) share their PreparedSources: each source is typed and keyed
    once per rating — on Spark that is one materialised table instead of one per step."""
    import tierwise.engine.prepare as prepare

    plan, reg, d = ruleset
    built: list[str] = []
    real = prepare.prepare_source

    def counting(plan_, sp, *args, **kwargs):
        built.append(sp.name)
        return real(plan_, sp, *args, **kwargs)

    monkeypatch.setattr(prepare, "prepare_source", counting)
    rated = rate_customers(plan, reg, d, AS_OF, ["K3"])
    assert built == ["c"]  # fit and the scoring of K3 (beside everyone, for the normalizer) read one
    assert rated.rows["K3"]["score"] is not None
    built.clear()
    outcome = run(plan, reg, d, AS_OF, columns=["score", "tier"])
    assert built == ["c"] and outcome.rows == 3


def test_rating_one_customer_holds_the_typed_source_only_when_everyone_is_read(ruleset, monkeypatch):
    """Fitting on everyone (or a normalizer that ranks the population) reads the source whole in two
    queries: it is typed and de-duplicated once, into a table both read. With a calibration that scores
    alone, only the customer's rows are read: nothing is held."""
    from tierwise.engine.backends.duckdb import DuckDBBackend

    plan, reg, d = ruleset
    held: list[str] = []
    real = DuckDBBackend.materialise

    def recording(self, expr, name):
        held.append(name)
        return real(self, expr, name)

    monkeypatch.setattr(DuckDBBackend, "materialise", recording)
    fitted = rate_customers(plan, reg, d, AS_OF, ["K3"])
    assert [n.rsplit("_", 1)[0] for n in held] == ["tierwise_typed_c"]
    assert fitted.rows["K3"]["量"] == 30.0  # the first row of the duplicate key, as a run keeps it
    assert fitted.calibration == run(plan, reg, d, AS_OF).calibration
    held.clear()
    given = rate_customers(plan, reg, d, AS_OF, ["K3"], calibration=fitted.calibration)
    assert held == [] and given.rows["K3"]["score"] == fitted.rows["K3"]["score"]


def test_prepared_sources_refuse_other_tables(ruleset):
    from tierwise.engine.prepare import KeyFacts, PreparedSources

    plan, reg, d = ruleset
    opened = open_step(plan, reg, d)
    try:
        sources = PreparedSources(plan, opened.tables, None, opened.backend)
        assert sources.over(opened.tables, {}) is sources
        with pytest.raises(ValueError, match="other tables or key facts"):
            sources.over(dict(opened.tables), None)
        with pytest.raises(ValueError, match="other tables or key facts"):
            sources.over(opened.tables, {"c": KeyFacts(False, False, False)})
        with pytest.raises(ValueError, match="other tables"):
            evaluate(plan, dict(opened.tables), AS_OF, None, registry=reg, backend=opened.backend, sources=sources)
    finally:
        opened.backend.close()
