"""Text cells are typed in steps, each intermediate value computed once per row: the SQL a source's
typed columns compile to reads each cell's cleaned text once, and DuckDB plans no join for the
missing markers (an IN list of constants becomes one, and the typing is then computed again
wherever it is read: seconds for a few thousand rows). The staged and the one-expression forms
read every cell alike."""
import ibis
import pyarrow as pa
import pytest

from tierwise.engine import coerce
from tierwise.engine.backends.duckdb import DuckDBBackend
from tierwise.engine.build import compile_text
from tierwise.engine.plugin_manager import default_registry
from tierwise.engine.prepare import KeyFacts, prepare_source

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
