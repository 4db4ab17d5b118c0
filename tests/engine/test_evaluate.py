"""evaluate() builds and never runs; fit() gives a Calibration that round-trips through JSON; the
explanation columns (matched band, effective weight, why no score); previous ratings feed change();
overrides set final_tier; the data-quality step is one query for a clean source."""
from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.datatypes as dt
import pyarrow as pa
import pytest

from tierwise.engine import columns as C
from tierwise.engine.backends import open_backend
from tierwise.engine.backends.duckdb import DuckDBBackend
from tierwise.engine.build import compile_text
from tierwise.engine.calibration import Calibration, FittedNormalizer
from tierwise.engine.evaluate import evaluate
from tierwise.engine.fit import fit
from tierwise.engine.hookspecs import hookimpl
from tierwise.engine.plugin_api import DataError, Function
from tierwise.engine.plugin_manager import build_registry, default_registry, new_plugin_manager
from tierwise.engine.quality import check_data

AS_OF = date(2026, 6, 30)

RULES = '''source c = csv("c.csv") key id
points 0..10
score 0..100
dimension 交易 weight 60% {
  indicator 金额 = c.金额 weight 50% missing -> exclude {
    >= 100 -> 10
    >= 50 -> 6
    else -> 2
  }
  indicator 续约 = c.续约 weight 50% missing -> error {
    >= 90% -> 10
    >= 50% -> 5
  }
}
dimension 服务 weight 40% {
  indicator 满意 = c.满意 weight 100% scale minmax missing -> exclude
}
tier A "核心" when score >= 80
tier B otherwise
label 大 when 金额 >= 100
segment 段 {
  高 when 金额 >= 50
  低 otherwise
}
trigger 下滑 when change(金额) <= -30% -> rerate
'''

ROWS = {"id": ["K1", "K2", "K3", "K4", "K5"],
        "金额": [200.0, 60.0, None, 10.0, 120.0],
        "续约": [0.95, 0.6, 0.95, None, 0.2],
        "满意": [5.0, 1.0, 3.0, 4.0, None]}


def compiled(text: str = RULES):
    plan, diags, _ = compile_text(text, "t.tier", default_registry())
    assert plan is not None, diags.format()
    return plan


@pytest.fixture
def backend():
    be = open_backend("duckdb")
    yield be
    be.close()


_made = iter(range(10**6))


def tables(be, rows=ROWS):
    return {"c": be.from_arrow(pa.table(rows), f"c{next(_made)}")}


def rows_of(be, ev):
    return {r["id"]: r for r in be.fetch_rows(ev.table)}


def test_evaluate_runs_no_query_it_builds_on_unbound_tables():
    plan = compiled()
    t = ibis.table({"id": "string", "金额": "float64", "续约": "float64", "满意": "float64"}, name="c")
    cal = Calibration({"满意": FittedNormalizer("minmax", {"min": 1.0, "max": 5.0})})
    ev = evaluate(plan, {"c": t}, AS_OF, cal, columns=C.all_columns(plan))
    sql = ibis.to_sql(ev.table, dialect="duckdb")  # a complete query, never executed (no backend to run it on)
    assert ev.columns[0] == "id" and "no_score_reason" in ev.columns
    assert "1.0" in sql or "1" in sql


def test_fit_gives_a_calibration_that_round_trips_and_scores_the_same(backend):
    plan = compiled()
    cal = fit(plan, tables(backend), AS_OF, backend)
    assert cal == Calibration({"满意": FittedNormalizer("minmax", {"min": 1.0, "max": 5.0})})
    again = Calibration.from_json(cal.to_json())
    assert again == cal
    a = rows_of(backend, evaluate(plan, tables(backend), AS_OF, cal))
    b = rows_of(backend, evaluate(plan, tables(backend), AS_OF, again))
    c = rows_of(backend, evaluate(plan, tables(backend), AS_OF, None))  # fitted inside the query
    assert a == b
    assert {k: r["score"] for k, r in a.items()} == pytest.approx({k: r["score"] for k, r in c.items()})


def test_a_stored_calibration_rates_one_customer_as_the_population_did(backend):
    plan = compiled()
    cal = fit(plan, tables(backend), AS_OF, backend)
    everyone = rows_of(backend, evaluate(plan, tables(backend), AS_OF, cal))
    alone = {k: v for k, v in ROWS.items()}
    alone = {k: [v[1]] for k, v in alone.items()}  # K2 on its own: min = max = 1 if it were refitted
    one = rows_of(backend, evaluate(plan, {"c": backend.from_arrow(pa.table(alone), "c2")}, AS_OF, cal))
    assert one["K2"]["score"] == pytest.approx(everyone["K2"]["score"])
    refit = rows_of(backend, evaluate(plan, {"c": backend.from_arrow(pa.table(alone), "c3")}, AS_OF, None))
    assert refit["K2"]["满意.points"] == 5.0 != one["K2"]["满意.points"]  # no spread: the middle


@pytest.mark.parametrize("text", ['{"indicators": {"x": {"normalizer": "minmax", "params": {"min": "a"}}}}',
                                  '{"indicators": {"x": {"params": {}}}}', '[]'])
def test_a_bad_calibration_is_refused(text):
    with pytest.raises(ValueError):
        Calibration.from_json(text)


def test_a_calibration_of_other_rules_is_a_clear_error(backend):
    plan = compiled()
    with pytest.raises(DataError, match="no parameters for indicator '满意'"):
        evaluate(plan, tables(backend), AS_OF, Calibration())
    with pytest.raises(DataError, match="fitted zscore"):
        evaluate(plan, tables(backend), AS_OF, Calibration({"满意": FittedNormalizer("zscore", {"mean": 1, "std": 1})}))


def test_explanation_columns(backend):
    plan = compiled()
    cal = fit(plan, tables(backend), AS_OF, backend)
    rows = rows_of(backend, evaluate(plan, tables(backend), AS_OF, cal, columns=C.all_columns(plan)))
    k1, k2, k3, k4, k5 = (rows[k] for k in ("K1", "K2", "K3", "K4", "K5"))
    assert (k1["金额.band"], k2["金额.band"], k4["金额.band"]) == (0, 1, 2)  # else is a band too
    assert k3["金额.band"] is None  # missing
    assert k5["续约.band"] is None and k5["续约"] == 0.2  # no band matched
    assert k1["满意.band"] is None  # no bands
    assert plan.indicator("金额").bands[k2["金额.band"]].text == ">= 50 -> 6"
    # everyone present: declared weights; shares multiply through the dimension
    assert (k1["交易.weight"], k1["服务.weight"]) == pytest.approx((0.6, 0.4))
    assert (k1["金额.weight"], k1["续约.weight"], k1["满意.weight"]) == pytest.approx((0.3, 0.3, 0.4))
    # K3: 金额 missing (exclude): 续约 carries its dimension
    assert (k3["金额.weight"], k3["续约.weight"]) == pytest.approx((0.0, 0.6))
    # K5: 满意 missing (exclude): its dimension drops out, 交易 carries everything; but 续约 matched no
    # band under `missing -> error`: no score, and why
    assert (k5["服务.weight"], k5["交易.weight"]) == pytest.approx((0.0, 1.0))
    assert k5["score"] is None and k5["no_score_reason"] == "续约 matched no band (missing -> error)"
    assert k4["no_score_reason"] == "续约 is missing (missing -> error)"
    assert k1["no_score_reason"] is None
    score = sum(k1[f"{i.name}.points"] * k1[f"{i.name}.weight"] for i in plan.indicators) * 10
    assert score == pytest.approx(k1["score"])


def test_everything_excluded_says_so(backend):
    plan = compiled(RULES.replace("missing -> error", "missing -> exclude"))
    rows = {"id": ["K1", "K2"], "金额": [None, 100.0], "续约": [None, 0.95], "满意": [None, 2.0]}
    got = rows_of(backend, evaluate(plan, tables(backend, rows), AS_OF, None, columns=C.all_columns(plan)))
    assert got["K1"]["score"] is None
    assert got["K1"]["no_score_reason"] == "every indicator is missing (missing -> exclude)"
    assert got["K1"]["交易.weight"] == 0.0 and got["K1"]["金额.weight"] == 0.0


def test_previous_ratings_feed_change(backend):
    plan = compiled()
    previous = backend.from_arrow(pa.table({"id": ["K1", "K2", "K4", "K5"], "金额": [250.0, 100.0, 0.0, 120.0]}),
                                  "previous")
    cols = [plan.key_column, "triggers"]
    got = rows_of(backend, evaluate(plan, tables(backend), AS_OF, None, previous, columns=cols))
    # K1 200 vs 250: -20%; K2 60 vs 100: -40% fires; K3 no last rating; K4 last 0: no change; K5 unchanged
    assert {k: r["triggers"] for k, r in got.items()} == {"K1": "", "K2": "下滑", "K3": "", "K4": "", "K5": ""}
    without = rows_of(backend, evaluate(plan, tables(backend), AS_OF, None, columns=cols))
    assert {r["triggers"] for r in without.values()} == {""}  # no last rating: change() is missing


def test_previous_ratings_must_carry_the_values_change_reads(backend):
    plan = compiled()
    previous = backend.from_arrow(pa.table({"id": ["K1"], "金额x": [1.0]}), "previous")
    with pytest.raises(DataError, match="no value of '金额'"):
        evaluate(plan, tables(backend), AS_OF, None, previous)


def test_overrides_set_the_final_tier(backend):
    plan = compiled()
    overrides = backend.from_arrow(pa.table({"id": ["K2", "K4", "K9"], "tier": ["A", "Z", "B"]}), "overrides")
    ev = evaluate(plan, tables(backend), AS_OF, None, overrides=overrides)
    assert "final_tier" in ev.columns
    got = rows_of(backend, ev)
    assert set(got) == {"K1", "K2", "K3", "K4", "K5"}  # an override of no customer adds none
    assert got["K2"]["tier"] == "B" and got["K2"]["final_tier"] == "A"
    assert got["K4"]["final_tier"] == got["K4"]["tier"]  # Z is no tier of the rules: the computed tier
    assert got["K1"]["final_tier"] == got["K1"]["tier"]
    assert "final_tier" not in evaluate(plan, tables(backend), AS_OF, None).columns


def test_only_rates_the_customers_asked_for(backend):
    plan = compiled(RULES + "tier_placeholder\n".replace("tier_placeholder", ""))
    cal = fit(plan, tables(backend), AS_OF, backend)
    everyone = rows_of(backend, evaluate(plan, tables(backend), AS_OF, cal, columns=C.all_columns(plan)))
    one = rows_of(backend, evaluate(plan, tables(backend), AS_OF, cal, columns=C.all_columns(plan), only=["K2"]))
    assert one == {"K2": everyone["K2"]}
    quota = compiled(RULES.replace('tier A "核心" when score >= 80', 'tier A "核心" top 1'))
    everyone = rows_of(backend, evaluate(quota, tables(backend), AS_OF, cal))
    top = next(k for k, r in everyone.items() if r["tier"] == "A")
    assert rows_of(backend, evaluate(quota, tables(backend), AS_OF, cal, only=[top]))[top]["tier"] == "A"


def test_columns_prune_what_is_not_asked_for(backend):
    plan = compiled()
    ev = evaluate(plan, tables(backend), AS_OF, None, columns=["id", "score", "tier"])
    sql = ibis.to_sql(ev.table, dialect="duckdb")
    assert ev.columns == ["id", "score", "tier"]
    assert "label__" not in sql and "segment__" not in sql and "band__" not in sql and "weight__" not in sql
    full = ibis.to_sql(evaluate(plan, tables(backend), AS_OF, None).table, dialect="duckdb")
    assert "label__" in full and "segment__" in full
    with pytest.raises(C.ColumnError, match="did you mean 'score'"):
        C.choose_columns(plan, ["scor"])
    assert C.choose_columns(plan, ["tier", "score", "tier", "id"]) == ["id", "tier", "score"]


class CountingBackend(DuckDBBackend):
    """DuckDB, counting the queries the engine runs through the backend."""

    queries = 0

    def fetch_tuples(self, expr):  # every fetch goes through it (fetch_rows, fetch_one)
        type(self).queries += 1
        return super().fetch_tuples(expr)


def test_data_quality_is_one_query_for_clean_data_and_finds_dirty_keys():
    be = CountingBackend.connect()
    try:
        CountingBackend.queries = 0
        q = check_data(compiled(), tables(be), be)
        assert CountingBackend.queries == 1 and q.issues == []
        assert not (q.keys["c"].padded or q.keys["c"].blank or q.keys["c"].duplicates)
        dirty = dict(ROWS, id=[" K1", "K1", "", "K4", "K5"])
        q = check_data(compiled(), {"c": be.from_arrow(pa.table(dirty), "dirty")}, be)
        assert q.keys["c"].padded and q.keys["c"].blank and q.keys["c"].duplicates
        assert {i.what for i in q.issues} == {"missing key (row skipped)", "duplicate key (first row used)"}
        ev = evaluate(compiled(), {"c": be.from_arrow(pa.table(dirty), "dirty2")}, AS_OF, None, keys=q.keys)
        got = rows_of(be, ev)
        assert sorted(got) == ["K1", "K4", "K5"] and got["K1"]["金额"] == 200.0  # the first row of K1
    finally:
        be.close()


def test_previous_ratings_give_the_last_value_its_change_and_the_previous_tier(backend):
    plan = compiled()
    # keys padded as exports pad them; K2's first row is the one used; K9 is no customer of the data
    previous = backend.from_arrow(pa.table({"id": [" K1", "K2 ", "K2", "K4", "K5", "K9"],
                                            "金额": [250.0, 100.0, 1.0, 0.0, 1.0, 5.0],
                                            "tier": ["A", "B", "A", None, "A", "A"]}), "previous")
    rows = dict(ROWS, 金额=[200.0, 60.0, None, 10.0, 1.0])
    cols = [plan.key_column, "金额.last", "金额.change", "previous_tier", "triggers"]
    got = rows_of(backend, evaluate(plan, tables(backend, rows), AS_OF, None, previous, columns=cols))
    assert {k: (r["金额.last"], r["金额.change"], r["previous_tier"], r["triggers"]) for k, r in got.items()} == {
        "K1": (250.0, pytest.approx(-0.2), "A", ""),
        "K2": (100.0, pytest.approx(-0.4), "B", "下滑"),
        "K3": (None, None, None, ""),  # no last rating
        "K4": (0.0, None, None, ""),  # last value 0: no change
        "K5": (1.0, 0.0, "A", ""),  # a last value of 1 is a value like any other
    }
    one = rows_of(backend, evaluate(plan, tables(backend, rows), AS_OF, None, previous, columns=cols, only=["K2"]))
    assert one == {"K2": got["K2"]}
    no_tier = backend.from_arrow(pa.table({"id": ["K1"], "金额": [250.0]}), "previous_without_tier")
    got = rows_of(backend, evaluate(plan, tables(backend, rows), AS_OF, None, no_tier, columns=cols))
    assert {r["previous_tier"] for r in got.values()} == {None} and got["K1"]["金额.last"] == 250.0


def test_previous_ratings_and_overrides_without_the_key_are_clear_errors(backend):
    plan = compiled()
    run = lambda **kw: evaluate(plan, tables(backend), AS_OF, None, **kw)  # noqa: E731
    table = lambda **cols: backend.from_arrow(pa.table(cols), f"t{next(_made)}")  # noqa: E731
    with pytest.raises(DataError) as err:
        run(previous=table(idx=["K1"], 金额=[1.0]))
    assert str(err.value) == "the previous ratings have no key column 'id' — did you mean 'idx'?"
    with pytest.raises(DataError) as err:
        run(previous=table(客户=["K1"], 金额=[1.0]))
    assert str(err.value) == "the previous ratings have no key column 'id'"
    with pytest.raises(DataError) as err:
        run(previous=table(id=["K1"], 金额x=[1.0]))
    assert str(err.value) == "the previous ratings have no value of '金额' (change(金额) reads it) — did you mean '金额x'?"
    with pytest.raises(DataError) as err:
        run(previous=table(id=["K1"], 分=[1.0]))
    assert str(err.value) == "the previous ratings have no value of '金额' (change(金额) reads it)"
    with pytest.raises(DataError) as err:
        run(overrides=table(idx=["K1"], tier=["A"]))
    assert str(err.value) == "the tier overrides have no key column 'id' — did you mean 'idx'?"
    with pytest.raises(DataError) as err:
        run(overrides=table(id=["K1"], 等级=["A"]))
    assert str(err.value) == "the tier overrides have no column 'tier'"


def test_overrides_take_each_customers_first_override_that_names_a_tier(backend):
    plan = compiled()
    overrides = backend.from_arrow(pa.table({"id": ["K2", " K2", "K4 ", "K5", None],
                                             "tier": [None, "A", "A", "Z", "A"]}), "overrides")
    got = rows_of(backend, evaluate(plan, tables(backend), AS_OF, None, overrides=overrides))
    assert {k: (r["tier"], r["final_tier"]) for k, r in got.items()} == {
        "K1": ("A", "A"), "K2": ("B", "A"), "K3": ("A", "A"), "K4": (None, "A"), "K5": (None, None)}
    one = rows_of(backend, evaluate(plan, tables(backend), AS_OF, None, overrides=overrides, only=["K4"]))
    assert one == {"K4": got["K4"]}


EFFECT_RULES = """source c = csv("c.csv") key id
points 0..100
indicator 分 = c.分 weight 100%
tier A when score >= 90
tier B when score >= 75
tier C when score >= 60
tier D otherwise
trigger 降一 when c.降一 == 1 -> rerate, downgrade 1
trigger 封顶 when c.封顶 == 1 -> rerate, cap tier at B
trigger 降二 when c.降二 == 1 -> rerate, downgrade 2
"""


def test_trigger_effects_move_the_final_tier_in_the_triggers_order(backend):
    plan = compiled(EFFECT_RULES)
    cases = {  # id: (score, 降一, 封顶, 降二, final tier)
        "K1": (95.0, 0, 0, 0, "A"),  # nothing fired
        "K2": (95.0, 0, 0, 1, "C"),  # two tiers down
        "K3": (65.0, 1, 0, 0, "D"),  # one down
        "K4": (65.0, 0, 0, 1, "D"),  # two down from C: no lower than the last tier
        "K5": (80.0, 0, 0, 1, "D"),
        "K6": (95.0, 0, 1, 0, "B"),  # capped at B
        "K7": (65.0, 0, 1, 0, "C"),  # the cap does not lift a lower tier
        "K8": (95.0, 1, 1, 0, "B"),  # A -> B, then no better than B
        "K9": (80.0, 1, 1, 1, "D"),  # B -> C -> C -> D
        "K10": (None, 1, 1, 1, None),  # no computed tier: none from the effects
    }
    data = {"id": list(cases), **{col: [c[i] for c in cases.values()]
                                  for i, col in enumerate(["分", "降一", "封顶", "降二"])}}
    got = rows_of(backend, evaluate(plan, tables(backend, data), AS_OF, None,
                                    columns=["id", "tier", "final_tier", "triggers"]))
    assert {k: r["final_tier"] for k, r in got.items()} == {k: c[-1] for k, c in cases.items()}
    assert got["K2"]["tier"] == "A" and got["K9"]["triggers"] == "降一,封顶,降二"


def test_a_downgrade_without_tiers_leaves_no_final_tier(backend):
    plan = compiled("""source c = csv("c.csv") key id
points 0..100
indicator 分 = c.分 weight 100%
trigger 降一 when c.分 < 50 -> rerate, downgrade 1
""")
    data = {"id": ["K1", "K2"], "分": [40.0, 60.0]}
    got = rows_of(backend, evaluate(plan, tables(backend, data), AS_OF, None, columns=["id", "final_tier", "triggers"]))
    assert got == {"K1": {"id": "K1", "final_tier": None, "triggers": "降一"},
                   "K2": {"id": "K2", "final_tier": None, "triggers": ""}}


POPULATION_RULES = """source c = csv("c.csv") key id
points 0..10
measure 均 = mean(c.x)
indicator 差 = c.x - 均 weight 20% scale minmax
indicator 比 = c.x - median(c.x) weight 20% scale zscore
indicator 标 = c.x weight 30% scale minmax
indicator 位 = c.y weight 30% scale percentile
tier A top 2
tier B when score >= 4
tier C otherwise
label 高 when c.x >= median(c.x)
segment 段 {
  上 when c.x >= percentile(c.x, 75%)
  下 otherwise
}
trigger 偏 when c.y > mean(c.y) -> rerate
trigger 跌 when change(标) <= -30% and c.x >= mean(c.x) -> rerate
"""

POPULATION_ROWS = {"id": [f"K{i}" for i in range(8)],
                   "x": [1.0, 9.0, 4.0, 7.0, 2.0, 8.0, 5.0, 3.0],
                   "y": [10.0, 20.0, 30.0, 40.0, 15.0, 25.0, 35.0, 45.0]}


@pytest.mark.parametrize("calibrated", [False, True])
def test_only_rates_each_customer_as_the_whole_population_does(backend, calibrated):
    """Every value that reads other customers' rows (population aggregates, quota tiers, normalizers
    fitted in the query or ranking) is computed over everyone, also when only some customers are rated."""
    plan = compiled(POPULATION_RULES)
    data = tables(backend, POPULATION_ROWS)
    cal = fit(plan, data, AS_OF, backend) if calibrated else None
    previous = backend.from_arrow(pa.table({"id": POPULATION_ROWS["id"], "标": [2.0, 9.0, 9.0, 7.0, 2.0, 20.0, 5.0, 3.0]}),
                                  f"previous{next(_made)}")
    cols = C.all_columns(plan)
    everyone = rows_of(backend, evaluate(plan, data, AS_OF, cal, previous, columns=cols))
    assert {r["tier"] for r in everyone.values()} == {"A", "B", "C"}
    assert {r["triggers"] for r in everyone.values()} == {"", "偏", "跌"}
    for k in ["K0", "K1", "K5", "K6"]:
        assert rows_of(backend, evaluate(plan, data, AS_OF, cal, previous, columns=cols, only=[k])) == {k: everyone[k]}


def test_a_rank_normalizer_fitted_in_the_query_rates(backend):
    plan = compiled('source c = csv("c.csv") key id\npoints 0..10\nindicator 位 = c.y weight 100% scale percentile\n')
    got = rows_of(backend, evaluate(plan, tables(backend, POPULATION_ROWS), AS_OF, None, columns=["id", "位.points"]))
    assert got["K0"]["位.points"] == 0.0 and got["K7"]["位.points"] == 10.0


READS_RULES = """source c = csv("c.csv") key id
source p = csv("p.csv") key id
source o = csv("o.csv") key id
points 0..10
measure 单数 = count(o)
indicator 分 = c.分 weight 50% {
  >= 5 -> 10
  else -> 0
}
indicator 量 = 单数 weight 50% {
  >= 2 -> 10
  else -> 4
}
tier A "星级" when c.星 == 1
tier B otherwise
label 大 when p.规模 >= 100
segment 区 {
  东 when c.区 == "东"
  其他 otherwise
}
"""


def test_each_kind_of_value_reads_its_own_columns_and_sources(backend):
    """A tier, label or segment condition and a measure each read a column (or source) nothing else reads;
    a second one-row-per-customer source is joined, a many-rows source aggregated."""
    plan = compiled(READS_RULES)
    data = {"c": backend.from_arrow(pa.table({"id": ["K1", "K2", "K3"], "分": [6.0, 1.0, None],
                                              "星": [1.0, 0.0, 0.0], "区": ["东", "西", None]}), "rc"),
            "p": backend.from_arrow(pa.table({"id": ["K2", "K1"], "规模": [150.0, 20.0]}), "rp"),
            "o": backend.from_arrow(pa.table({"id": ["K1", "K1", "K3"], "x": [1.0, 2.0, 3.0]}), "ro")}
    got = rows_of(backend, evaluate(plan, data, AS_OF, None, columns=C.all_columns(plan)))
    assert {k: (r["tier"], r["tier_label"], r["labels"], r["区"], r["量"], r["score"]) for k, r in got.items()} == {
        "K1": ("A", "星级", "", "东", 2.0, 10.0), "K2": ("B", None, "大", "其他", 0.0, 2.0),
        "K3": (None, None, "", "其他", 1.0, None)}  # no score: no `otherwise` tier
    assert got["K3"]["missing"] == "分"


def test_given_points_replace_an_indicators_own(backend):
    plan = compiled(READS_RULES)
    data = {"c": backend.from_arrow(pa.table({"id": ["K1", "K2"], "分": [6.0, None], "星": [0.0, 0.0],
                                              "区": ["东", "西"]}), "gc"),
            "p": backend.from_arrow(pa.table({"id": ["K1"], "规模": [1.0]}), "gp"),
            "o": backend.from_arrow(pa.table({"id": ["K1"], "x": [1.0]}), "go")}
    cols = ["id", "score", "分.points", "分.band", "量.points", "量.band", "missing"]
    ev = evaluate(plan, data, AS_OF, None, columns=cols, points={"分": 7})
    got = rows_of(backend, ev)
    assert {k: tuple(r[c] for c in cols[1:]) for k, r in got.items()} == {
        "K1": (5.5, 7.0, None, 4.0, 1, ""), "K2": (5.5, 7.0, None, 4.0, 1, "")}  # K2 has no orders: 0
    types = ev.table.schema()
    assert (types["分.points"], types["分.band"], types["missing"]) == (dt.float64, dt.int64, dt.string)
    only_given = evaluate(compiled(READS_RULES), data, AS_OF, None, columns=["id", "missing"], points={"分": 1, "量": 2})
    assert {r["missing"] for r in backend.fetch_rows(only_given.table)} == {""}


def test_indicator_values_are_numbers_and_an_undefined_result_is_missing(backend):
    plan = compiled('source c = csv("c.csv") key id\npoints 0..10\n'
                    "indicator 整 = c.n weight 50% scale minmax\nindicator 对数 = log(c.x) weight 50% scale minmax\n")
    ev = evaluate(plan, tables(backend, {"id": ["K1", "K2", "K3"], "n": [1, 2, 3], "x": [0.0, 1.0, 10.0]}), AS_OF, None,
                  columns=["id", "整", "对数"])
    assert ev.table.schema()["整"] == dt.float64  # an integer column is rated as a number
    got = rows_of(backend, ev)
    assert (got["K1"]["对数"], got["K2"]["对数"]) == (None, 0.0)  # log(0) is -inf: missing


class _Root(Function):
    """A plugin function that does not say it is finite: sqrt(-1) is NaN, 1/0 is inf on DuckDB."""

    name = "root_of"

    def build(self, args, ctx):
        return args[0].sqrt()


class _Inverse(Function):
    name = "inverse_of"

    def build(self, args, ctx):
        return 1.0 / args[0]


def test_a_function_not_declared_finite_is_guarded_and_the_built_ins_are_finite(backend):
    pm = new_plugin_manager(load_entry_points=False)

    class Extra:
        @staticmethod
        @hookimpl
        def tierwise_register_functions():
            return [_Root, _Inverse]

    pm.register(Extra(), name="extra")
    registry = build_registry(pm)
    plan, diags, _ = compile_text('source c = csv("c.csv") key id\npoints 0..10\n'
                                  "indicator 根 = root_of(c.x) weight 50% scale minmax\n"
                                  "indicator 倒 = inverse_of(c.x) weight 50% scale minmax\n", "t.tier", registry)
    assert plan is not None, diags.format()
    ev = evaluate(plan, tables(backend, {"id": ["K1", "K2", "K3"], "x": [-1.0, 0.0, 4.0]}), AS_OF, None,
                  registry=registry, columns=["id", "根", "倒"])
    got = rows_of(backend, ev)
    assert [(got[k]["根"], got[k]["倒"]) for k in ("K1", "K2", "K3")] == [(None, -1.0), (0.0, None), (2.0, 0.25)]
    assert not _Root.finite and not Function.finite  # a plugin's function is guarded unless it says otherwise
    assert all(cls.finite for name, cls in default_registry().functions.items()
               if default_registry().provided_by[("functions", name)].startswith("tierwise.plugins"))


def test_only_ranks_a_customer_among_everyone_with_a_stored_calibration(backend):
    """A rank normalizer reads the population even with a calibration (min-max and z-score do not): rating
    only some customers ranks them among everyone (nothing else here reads the population)."""
    plan = compiled('source c = csv("c.csv") key id\npoints 0..10\nindicator 位 = c.y weight 100% scale percentile\n'
                    "tier A when score >= 5\ntier B otherwise\n")
    data = tables(backend, POPULATION_ROWS)
    cal = fit(plan, data, AS_OF, backend)
    everyone = rows_of(backend, evaluate(plan, data, AS_OF, cal))
    assert rows_of(backend, evaluate(plan, data, AS_OF, cal, only=["K7"])) == {"K7": everyone["K7"]}
    assert everyone["K7"]["score"] == 10.0


def test_a_many_rows_primary_source_gives_one_row_per_customer(backend):
    plan = compiled('source o = csv("o.csv") key id\npoints 0..10\nmeasure 单数 = count(o)\n'
                    "indicator 量 = 单数 weight 100% {\n  >= 2 -> 10\n  else -> 4\n}\n")
    assert next(s for s in plan.sources if s.name == plan.primary).multi_row
    data = {"o": backend.from_arrow(pa.table({"id": ["K1", "K2", "K1", "K1"], "x": [1.0, 2.0, 3.0, 4.0]}), "mo")}
    got = backend.fetch_rows(evaluate(plan, data, AS_OF, None, columns=["id", "量", "score"]).table)
    assert sorted((r["id"], r["量"], r["score"]) for r in got) == [("K1", 3.0, 10.0), ("K2", 1.0, 4.0)]


POPULATION_PARTS = {
    "a measure": "measure 离均 = 量 - mean(量)\nindicator 差 = 离均 weight 100% {\n  >= 0 -> 10\n  else -> 1\n}\n",
    "an indicator's value": "indicator 比 = 量 / max(量) weight 100% {\n  >= 80% -> 10\n  else -> 1\n}\n",
    "a label": "indicator 比 = c.x weight 100% scale minmax\nlabel 高 when 量 > median(量)\n",
    "a segment": "indicator 比 = c.x weight 100% scale minmax\nsegment 段 {\n  上 when 量 >= percentile(量, 80%)\n"
                 "  中 when 量 >= mean(量)\n  下 otherwise\n}\n",
    "a trigger": "indicator 比 = c.x weight 100% scale minmax\ntrigger 超 when 量 > mean(量) + stddev(量) -> rerate\n",
    "a tier": "indicator 比 = c.x weight 100% scale minmax\n",
}


@pytest.mark.parametrize("part", sorted(POPULATION_PARTS))
def test_only_computes_what_reads_the_population_on_everyone(backend, part):
    """Each rule part that reads a population aggregate (a measure, an indicator's value, a label, a segment,
    a trigger, a tier's condition) is computed on everyone before the rows are cut to the customers asked
    for: each customer rated alone gets its row among everyone, every column of it."""
    tiers = ("tier A when 量 >= mean(量)\ntier B otherwise\n" if part == "a tier"
             else "tier A when score >= 5\ntier B otherwise\n")
    plan = compiled('source c = csv("c.csv") key id\npoints 0..10\nmeasure 量 = c.x\n' + POPULATION_PARTS[part]
                    + tiers)
    data = tables(backend, {"id": ["K1", "K2", "K3", "K4", "K5", "K6"], "x": [1.0, 2.0, 3.0, 10.0, 40.0, 41.0]})
    cal = fit(plan, data, AS_OF, backend)
    cols = C.all_columns(plan)
    everyone = rows_of(backend, evaluate(plan, data, AS_OF, cal, columns=cols))
    assert len({repr({k: v for k, v in r.items() if k != "id"}) for r in everyone.values()}) > 1
    for k in everyone:
        assert rows_of(backend, evaluate(plan, data, AS_OF, cal, columns=cols, only=[k])) == {k: everyone[k]}, k


def test_population_nodes_are_what_reads_other_customers(backend):
    """Rating one customer computes on everyone only what reads other customers' rows: without a
    calibration every normalized indicator's points (fitted in the query); with one, only a rank's (min-max
    and z-score score from their parameters alone) — none where the points are given, and none from
    parameters that are missing (nothing to score with: the points are missing, whoever else is read)."""
    from tierwise.engine.evaluate import population_nodes

    plan = compiled('source c = csv("c.csv") key id\npoints 0..10\n'
                    "indicator 量 = c.x weight 30% scale minmax\nindicator 标 = c.x weight 30% scale zscore\n"
                    "indicator 位 = c.x weight 40% scale percentile\ntier A when score >= 5\ntier B otherwise\n")
    reg = default_registry()
    cal = fit(plan, tables(backend, {"id": ["K1", "K2", "K3"], "x": [1.0, 5.0, 9.0]}), AS_OF, backend)
    assert set(cal.indicators) == {"量", "标", "位"}
    assert population_nodes(plan, reg, None, {}) == {"points__量", "points__标", "points__位"}
    assert population_nodes(plan, reg, cal, {}) == {"points__位"}
    assert population_nodes(plan, reg, cal, {"位": 5.0}) == set()
    assert population_nodes(plan, reg, Calibration({"量": cal.indicators["量"]}), {}) == {"points__标", "points__位"}
    unfitted = Calibration({**cal.indicators, "量": FittedNormalizer("minmax", {"min": None, "max": None})})
    assert population_nodes(plan, reg, unfitted, {}) == {"points__位"}


def test_the_key_column_comes_first_when_the_columns_asked_for_lack_it(backend):
    """The key is put first when the columns asked for lack it (an export needs it to say whose row)."""
    plan = compiled()
    for asked, want in ((["score", "tier"], ["id", "score", "tier"]), (["tier"], ["id", "tier"]),
                        (["score", "id", "tier"], ["score", "id", "tier"])):
        ev = evaluate(plan, tables(backend), AS_OF, None, columns=asked)
        assert ev.columns == want
        got = backend.fetch_rows(ev.table)
        assert sorted(r["id"] for r in got) == ROWS["id"] and all(list(r) == want for r in got)


def test_given_points_need_no_calibration_for_that_indicator(backend):
    """An example gives the points of a normalized indicator: the calibration may lack it (nothing to fit);
    one lacking an indicator whose points are not given is refused."""
    plan = compiled()
    empty = Calibration()
    got = rows_of(backend, evaluate(plan, tables(backend), AS_OF, empty, points={"满意": 4.0}, columns=["id", "满意.points"]))
    assert {r["满意.points"] for r in got.values()} == {4.0}
    with pytest.raises(DataError, match="no parameters for indicator '满意'"):
        evaluate(plan, tables(backend), AS_OF, empty)


def test_only_with_the_key_facts_of_a_data_check(backend):
    """A run's evaluation gets what its data check found about the keys: rating some customers with those
    facts, beside a population part, gives their rows among everyone."""
    plan = compiled(POPULATION_RULES)
    data = tables(backend, {"id": [" K1", "K2", "K2", "K3", "", "K4"], "x": [1.0, 9.0, 4.0, 7.0, 2.0, 8.0],
                            "y": [10.0, 20.0, 30.0, 40.0, 15.0, 25.0]})
    facts = check_data(plan, data, backend).keys
    assert facts["c"].duplicates and facts["c"].padded and facts["c"].blank
    cal = fit(plan, data, AS_OF, backend, keys=facts)
    cols = C.all_columns(plan)
    everyone = rows_of(backend, evaluate(plan, data, AS_OF, cal, columns=cols, keys=facts))
    assert sorted(everyone) == ["K1", "K2", "K3", "K4"] and everyone["K2"]["标"] == 9.0
    for k in everyone:
        assert rows_of(backend, evaluate(plan, data, AS_OF, cal, columns=cols, keys=facts, only=[k])) == {k: everyone[k]}


def test_only_reads_no_one_else_when_nothing_reads_the_population(backend):
    """With a calibration that scores alone (min-max) and no rule part reading other customers, the customers
    asked for are cut out of the source before anything else: no population side is computed and joined in
    (without the calibration the normalizer is fitted in the query, on everyone, beside them)."""
    import ibis.expr.operations as ops
    from ibis.common.graph import Graph

    def joins(ev):
        return sum(isinstance(n, ops.JoinChain) for n in Graph.from_bfs(ev.table.op()))

    plan = compiled('source c = csv("c.csv") key id\npoints 0..10\nindicator 量 = c.x weight 100% scale minmax\n'
                    "tier A when score >= 5\ntier B otherwise\n")
    data = tables(backend, {"id": ["K1", "K2", "K3"], "x": [1.0, 5.0, 9.0]})
    cal = fit(plan, data, AS_OF, backend)
    alone = evaluate(plan, data, AS_OF, cal, only=["K2"])
    assert joins(alone) == 0 and rows_of(backend, alone)["K2"]["score"] == 5.0
    beside = evaluate(plan, data, AS_OF, None, only=["K2"])
    assert joins(beside) == 1 and rows_of(backend, beside)["K2"]["score"] == 5.0
