"""A sheet's number and date columns come typed when every cell holds one (connectors_xlsx.typed_column):
they type to exactly what the same cells give as text — the values, the missing cells and the bad ones —
and anything else (a text cell, a boolean, a date outside 1900..2200, the key) stays text."""
import dataclasses
import datetime as dt

import ibis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from tierwise.engine.build import compile_text
from tierwise.engine.fetch import fetch_rows
from tierwise.engine.plugin_api import ConnectorContext
from tierwise.engine.plugin_manager import default_registry
from tierwise.engine.prepare import typed_columns
from tierwise.plugins.connectors import XlsxConnector, XlsxOptions
from tierwise.plugins.connectors_xlsx import typed_column

RULES = '''source w = xlsx("w.xlsx") key id
points 0..10
score 0..100
indicator 金额 = w.金额 weight 50% {
  >= 5 -> 10
  else -> 1
}
indicator 天数 = days_since(w.日期) weight 50% {
  <= 30 -> 10
  else -> 1
}
tier A when score >= 50
tier B otherwise
'''


def test_a_column_of_numbers_or_dates_comes_typed():
    assert typed_column([1.5, 2, None, "", "  "], "number") == ([1.5, 2.0, None, None, None], "DOUBLE")
    day, moment = dt.date(2026, 6, 30), dt.datetime(2026, 1, 2, 10, 30)
    assert typed_column([day, moment, None], "date") == ([dt.datetime(2026, 6, 30), moment, None], "TIMESTAMP")


@pytest.mark.parametrize("cells, want", [
    ([1.0, "n/a"], "number"), ([1.0, True], "number"), ([1.0, "5"], "number"), ([dt.datetime(2026, 1, 1)], "number"),
    ([dt.datetime(2026, 1, 1), "2026-01-02"], "date"), ([dt.datetime(9999, 12, 31)], "date"),
    ([dt.date(1899, 12, 31)], "date"), ([dt.time(10, 0)], "date"), ([45000.0], "date"), ([1.0], "string"),
    ([1.0], "any")])
def test_anything_else_stays_text(cells, want):
    assert typed_column(cells, want) is None


cells = st.one_of(
    st.none(), st.sampled_from(["", " ", "n/a", "-", "12", "1,200", "5%", "2026-06-30", "abc", "2026/6/1"]),
    st.floats(-1e6, 1e6, allow_nan=False), st.integers(-10 ** 6, 10 ** 6), st.booleans(),
    st.datetimes(dt.datetime(1890, 1, 1), dt.datetime(2300, 1, 1)).map(lambda d: d.replace(microsecond=0)),
    st.dates(dt.date(1890, 1, 1), dt.date(2300, 1, 1)))


def typed(tmp_path, plan, types):
    ctx = ConnectorContext(con=ibis.duckdb.connect(), base_dir=tmp_path, temp_dir=tmp_path / "tmp",
                           columns=frozenset({"id", "金额", "日期"}), types=types)
    table = XlsxConnector().open(XlsxOptions(path="w.xlsx"), ctx)
    staged, values, bad = typed_columns(plan, plan.sources[0], table)
    flags = {f"bad {c}": ibis.coalesce(f, False) for c, f in bad.items()}
    rows = fetch_rows(staged.select("id", **values, **flags))
    # a typed column has no bad-cell flag where the text's is False in every row; a text date is typed
    # as a timestamp at midnight (a serial date is a date plus days), a typed one as a date: the same day
    return {c: str(table[c].type()) for c in table.columns}, [
        {k: (v.date() if isinstance(v, dt.datetime) and v.time() == dt.time(0) else v) for k, v in r.items()
         if not (k.startswith("bad ") and v is False)} for r in rows]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(cells, cells), min_size=1, max_size=8))
def test_typed_cells_type_as_their_text_does(tmp_path, rows):
    wb = Workbook()
    ws = wb.active
    ws.append(["id", "金额", "日期"])
    for i, (amount, day) in enumerate(rows):
        ws.append([float(1000 + i), amount, day])  # a number key: text "1000", typed or not
    wb.save(tmp_path / "w.xlsx")
    plan, diags, _ = compile_text(RULES, str(tmp_path / "r.tier"), default_registry())
    assert plan is not None, diags.format()
    types = {"金额": "number", "日期": "date"}
    kinds, as_typed = typed(tmp_path, plan, types)
    _, as_text = typed(tmp_path, plan, None)
    assert as_typed == as_text
    assert kinds["id"] == "string"
    for column, want in types.items():
        column_cells = [r[0 if column == "金额" else 1] for r in rows]
        expect = "string" if typed_column(column_cells, want) is None else ("float64" if want == "number" else "timestamp(6)")
        assert kinds[column] == expect


def test_the_engine_tells_the_connector_how_the_rules_read_each_column(tmp_path, monkeypatch):
    """open_sources hands the connector the type the rules read each column as (not the key's)."""
    seen = []
    real = XlsxConnector.open

    def spy(self, options, ctx):
        seen.append(dict(ctx.types))
        return real(self, options, ctx)

    monkeypatch.setattr(XlsxConnector, "open", spy)
    wb = Workbook()
    wb.active.append(["id", "金额", "日期"])
    wb.active.append(["K1", 7.0, dt.datetime(2026, 6, 20)])
    wb.save(tmp_path / "w.xlsx")
    from tierwise.engine.run import rate_customers

    plan, _, _ = compile_text(RULES, str(tmp_path / "r.tier"), default_registry())
    rated = rate_customers(plan, default_registry(), tmp_path, dt.date(2026, 6, 30), ["K1"])
    assert seen == [{"金额": "number", "日期": "date"}]
    assert rated.rows["K1"]["score"] == 100.0
    assert dataclasses.fields(ConnectorContext)[[f.name for f in dataclasses.fields(ConnectorContext)].index("types")]
