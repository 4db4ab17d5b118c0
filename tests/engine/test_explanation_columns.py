"""The explanation columns every result can carry (`--columns`): each indicator's and dimension's effective
weight, the matched band, why there is no score — on small rulesets worked out by hand, through the real
engine on DuckDB (data checks, fitting, evaluation), with every column of the catalogue asked for."""
from __future__ import annotations

from datetime import date

import ibis
import pyarrow as pa
import pytest

from tierwise.engine import columns as C
from tierwise.engine.backends.duckdb import DuckDBBackend
from tierwise.engine.build import compile_text
from tierwise.engine.evaluate import evaluate
from tierwise.engine.fit import fit
from tierwise.engine.plugin_manager import default_registry
from tierwise.engine.quality import check_data

AS_OF = date(2026, 6, 30)
REGISTRY = default_registry()
HEADER = 'source c = csv("c.csv") key id\npoints 0..10\n'


def rate(body: str, header: str = HEADER, **columns: list) -> list[dict]:
    """Every column of ``header + body`` over in-memory columns, one row per customer k0, k1, ... in order."""
    plan, diags, _ = compile_text(header + body, "explain.tier", REGISTRY)
    assert plan is not None, diags.format()
    n = len(next(iter(columns.values())))
    be = DuckDBBackend(ibis.duckdb.connect())
    tables = {"c": be.from_arrow(pa.table({"id": [f"k{i}" for i in range(n)], **columns}), "c")}
    quality = check_data(plan, tables, be)
    cal = fit(plan, tables, AS_OF, be, registry=REGISTRY, keys=quality.keys)
    ev = evaluate(plan, tables, AS_OF, cal, registry=REGISTRY, backend=be, keys=quality.keys,
                  columns=C.all_columns(plan))
    rows = {r["id"]: r for r in be.fetch_rows(ev.table)}
    return [rows[f"k{i}"] for i in range(n)]


def weights(rows: list[dict], *names: str) -> list[tuple]:
    return [tuple(r[f"{n}.weight"] for n in names) for r in rows]


def test_without_exclude_every_weight_is_the_declared_share():
    rows = rate("dimension D weight 60% {\n  indicator a = c.a weight 25%\n  indicator b = c.b weight 75%\n}\n"
                "indicator e = c.e weight 40% missing -> points 5\n", a=[8.0, None], b=[4.0, 4.0], e=[10.0, None])
    # no `missing -> exclude` anywhere: the shares are fixed, a missing value changes none of them
    assert weights(rows, "D", "e", "a", "b") == [pytest.approx((0.6, 0.4, 0.15, 0.45))] * 2


def test_a_zero_weight_keeps_a_zero_share_when_everything_else_drops_out():
    # D carries all the weight; when every indicator in it is missing (exclude), nothing weighs anything:
    # z's share is 0, not 0/0; inside D the present 0%-weighted y keeps 0 too
    rows = rate("dimension D weight 100% {\n  indicator a = c.a weight 100% missing -> exclude\n"
                "  indicator y = c.y weight 0% missing -> exclude\n}\nindicator z = c.z weight 0%\n",
                a=[4.0, None, None], y=[2.0, 2.0, None], z=[6.0, 6.0, 6.0])
    assert weights(rows, "D", "z", "a", "y") == [(1.0, 0.0, 1.0, 0.0), (0.0, 0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 0.0)]
    assert [r["score"] for r in rows] == [4.0, None, None]
    assert [r["D"] for r in rows] == [4.0, None, None]


def test_a_zero_weighted_dimension_has_a_zero_share_and_so_has_everything_in_it():
    rows = rate("dimension Z weight 0% {\n  indicator q = c.q weight 100%\n}\nindicator a = c.a weight 100%\n",
                a=[4.0], q=[8.0])
    assert weights(rows, "Z", "q", "a") == [(0.0, 0.0, 1.0)]
    assert rows[0]["score"] == 4.0


def test_no_score_reason_names_each_failing_error_indicator_and_only_those():
    rows = rate("missing -> error\nindicator a = c.a weight 40%\nindicator b = c.b weight 30% { >= 5 -> 9 }\n"
                "indicator c = c.c weight 30% { >= 5 -> 9 }\n",
                a=[1.0, None, None, 1.0], b=[6.0, 1.0, 6.0, 6.0], c=[6.0, None, 6.0, 1.0])
    assert [r["no_score_reason"] for r in rows] == [
        None, "a is missing, b matched no band, c is missing (missing -> error)",
        "a is missing (missing -> error)",  # b and c have points: not named
        "c matched no band (missing -> error)"]
    assert [r["score"] for r in rows] == [pytest.approx(0.4 + 2.7 + 2.7), None, None, None]


def test_no_score_because_everything_weighing_is_excluded_though_an_error_indicator_has_points():
    # e (0%, missing -> error) has its points; a carries all the weight and is missing (exclude): no score,
    # and the reason is the exclusion, not e
    rows = rate("indicator a = c.a weight 100% missing -> exclude\nindicator e = c.e weight 0% missing -> error\n",
                a=[None, 3.0], e=[5.0, 5.0])
    assert [r["score"] for r in rows] == [None, 3.0]
    assert [r["no_score_reason"] for r in rows] == ["every indicator is missing (missing -> exclude)", None]
