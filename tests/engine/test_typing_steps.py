"""Text cells are typed in steps, each intermediate value computed once per row: the SQL a source's
typed columns compile to reads each cell's cleaned text once, and DuckDB plans no join for the
missing markers (an IN list of constants becomes one, and the typing is then computed again
wherever it is read: seconds for a few thousand rows). The staged and the one-expression forms
read every cell alike."""
import ibis
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tierwise.engine import coerce
from tierwise.engine.backends.duckdb import DuckDBBackend
from tierwise.engine.build import compile_text
from tierwise.engine.plugin_manager import default_registry
from tierwise.engine.prepare import KeyFacts, compared_texts, prepare_source

RULES = """source c = csv("c.csv") key id
points 0..1
indicator n = c.n weight 50% {
  >= 0 -> 1
  else -> 0
}
indicator d = days_since(c.d) weight 50% {
  >= 0 -> 1
  else -> 0
}
"""
CELLS = {
    "n": ["1,234.5", " 12% ", "500万", "¥3,000", "3000元", "１２３", "N/A", "-", "", None, "1,2,3", "abc", "1e999",
          "  ", "无", "0.5", ".5", "1E+5", "7亿"],
    "d": ["2026-06-30", "2026/6/30", "2026.6.30", "2026年6月30日", "20260630", "45000", "2026-06-30 10:30",
          "2026-06-30T10:30:00Z", "N/A", "", None, "26/6/30", "2026-02-30", "soon", " 2026-1-2 ", "—",
          "1899-01-01", "99999", "2026-06-30"],
}


@pytest.fixture
def source():
    registry = default_registry()
    plan = compile_text(RULES, "t.tier", registry)[0]
    con = ibis.duckdb.connect()
    backend = DuckDBBackend(con)
    t = con.create_table("c", pa.table({"id": [f"K{i}" for i in range(len(CELLS["n"]))], **CELLS}), temp=True)
    return plan, plan.sources[0], t, backend


def test_each_cell_is_cleaned_once_per_query(source):
    plan, sp, t, backend = source
    prepared = prepare_source(plan, sp, t, KeyFacts(padded=True, blank=True, duplicates=True), backend)
    sql = backend.con.compile(prepared)
    assert sql.count("TRANSLATE(") == 1  # the number's text, cleaned once
    assert sql.count("TRY_STRPTIME(") == 1  # the date's text, read once
    assert sql.count("REGEXP_MATCHES(") == 2  # the number's shape, the date's serial form
    plan_text = "\n".join(r[1] for r in backend.con.con.execute("EXPLAIN " + sql).fetchall())
    assert "MARK" not in plan_text  # the missing markers are no join


def test_staged_and_flat_typing_read_every_cell_alike(source):
    plan, sp, t, backend = source
    prepared = prepare_source(plan, sp, t, KeyFacts(padded=False, blank=False, duplicates=False), backend)
    staged = backend.fetch_rows(prepared.order_by("__key"))
    flat = backend.fetch_rows(t.select(__key=t.id, n=coerce.parse_number(t.n), d=coerce.parse_date(t.d))
                              .order_by("__key"))
    assert [(r["__key"], r["s__c__n"], r["s__c__d"]) for r in staged] == [(r["__key"], r["n"], r["d"]) for r in flat]
    by_key = {r["__key"]: r for r in staged}
    assert by_key["K0"]["s__c__n"] == 1234.5 and by_key["K1"]["s__c__n"] == 0.12
    assert by_key["K6"]["s__c__n"] is None and by_key["K12"]["s__c__n"] is None  # N/A missing; 1e999 not finite
    assert str(by_key["K5"]["s__c__d"])[:10] == "2023-03-15" and by_key["K11"]["s__c__d"] is None  # year 26: bad


WHITESPACE_CELLS = st.lists(st.sampled_from(list(coerce.WHITESPACE) + ["已完成", "完", "a", "A", " "]),
                            max_size=5).map("".join)


@settings(max_examples=60, deadline=None)
@given(cells=st.lists(st.one_of(st.none(), WHITESPACE_CELLS), max_size=12),
       compared=st.lists(st.one_of(WHITESPACE_CELLS, st.sampled_from(["已完成", "a", " a", ""])), max_size=6))
def test_a_text_equal_to_a_compared_one_is_kept_and_every_other_cell_trimmed(cells, compared):
    """Skipping the trim of a cell equal to a text the rules compare with reads every cell as trimming it does."""
    con = ibis.duckdb.connect()
    t = ibis.memtable({"s": pa.array(cells, pa.string())})
    got = con.to_pyarrow(t.select(v=coerce.trimmed_text(t.s, compared)))["v"].to_pylist()
    assert got == [None if c is None else c.strip(coerce.WHITESPACE) for c in cells]


def test_the_texts_a_column_is_compared_with_are_collected_for_its_typing():
    plan = compile_text('source c = csv("c.csv") key id\npoints 0..1\n'
                        'indicator n = count(c where c.s == "已完成" or c.s in ("退", " 补 ")) weight 100% {\n'
                        '  >= 1 -> 1\n  else -> 0\n}\nlabel L when count(c where c.t != "x") > 0\n', "t.tier", default_registry())[0]
    assert plan is not None
    assert compared_texts(plan, "c") == {"s": ["已完成", "退", " 补 "], "t": ["x"]}
