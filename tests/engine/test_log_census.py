"""A transaction log is read once per run: quality counts its bad data in a census (one row per key as
written) that also computes every aggregate the rules read of it, and evaluation reads those. The census
must give what aggregating the rows gives — with clean keys (used), with padded keys (then evaluation
trims and aggregates the rows itself), with blank keys, keys of no customer and unreadable cells."""
from __future__ import annotations

from datetime import date

import pyarrow.parquet as pq
import pytest

from tierwise.engine.build import compile_text
from tierwise.engine.evaluate import evaluate
from tierwise.engine.fit import fit
from tierwise.engine.plugin_manager import default_registry
from tierwise.engine.quality import check_data
from tierwise.engine.run import open_step, run

AS_OF = date(2026, 6, 30)
RULES = '''source c = csv("c.csv") key id
source o = csv("o.csv") key id
points 0..100
missing -> exclude
indicator s = sum(o.amt where o.dt within 6 months) weight 20%
indicator n = count(o where o.st == "paid") weight 20%
indicator a = avg(o.amt) weight 20% scale minmax
indicator mx = max(o.amt where o.st != "paid") weight 20%
indicator d = count_distinct(o.st) weight 10%
indicator first = days_since(min(o.dt)) weight 10% {
  >= 180 -> 100
  else -> 50
}
tier A when score >= 50
tier B otherwise
'''
CUSTOMERS = "id,x\nk0,1\nk1,2\nk2,3\n"
# k0: 30 within 6 months (2025-12-30 is the first day), paid twice, amounts 10, 20, (abc: not a number)
# k1: one paid order after as_of; ghost: no customer (2 rows); two rows without a key
ORDERS = ("id,amt,st,dt\n{k0},10,paid,2026-06-30\nk0,20,refund,2025-12-30\nk0,abc,paid,2025-12-29\n"
          "k1,5,paid,2026-07-01\nghost,1,paid,2026-01-01\nghost,2,paid,2026-01-02\n,7,paid,2026-01-01\n"
          ",8,paid,2026-01-01\n")
EXPECTED = {"k0": {"s": 30, "n": 2, "a": 15, "mx": 20, "d": 2, "first": 183},
            "k1": {"s": 0, "n": 1, "a": 5, "mx": None, "d": 1, "first": -1},
            "k2": {"s": 0, "n": 0, "a": None, "mx": None, "d": 0, "first": None}}


def setup(tmp_path, k0: str):
    (tmp_path / "c.csv").write_text(CUSTOMERS, encoding="utf-8")
    (tmp_path / "o.csv").write_text(ORDERS.format(k0=k0), encoding="utf-8")
    reg = default_registry()
    plan, diags, _ = compile_text(RULES, str(tmp_path / "r.tier"), reg)
    assert plan is not None, diags.format()
    return plan, reg


@pytest.mark.parametrize("k0, census_used", [("k0", True), (" k0 ", False)], ids=["clean keys", "padded key"])
def test_the_census_gives_what_aggregating_the_rows_gives(tmp_path, k0, census_used):
    plan, reg = setup(tmp_path, k0)
    opened = open_step(plan, reg, tmp_path)
    try:
        be = opened.backend
        quality = check_data(plan, opened.tables, be, registry=reg, as_of=AS_OF)
        assert (quality.keys["o"].census is not None) is census_used
        found = {i.what: (i.count, i.samples) for i in quality.issues}
        assert found["missing key (row skipped)"] == (2, [])
        assert found["not a number (treated as missing)"][0] == 1
        assert found["key matches no customer of 'c' (row not used)"] == (2, ["ghost"])
        without = check_data(plan, opened.tables, be)  # no census: the rows are aggregated by evaluation
        assert all(k.census is None for k in without.keys.values())
        assert [(i.what, i.count) for i in without.issues] == [(i.what, i.count) for i in quality.issues]
        results = []
        for q in (quality, without):
            cal = fit(plan, opened.tables, AS_OF, be, registry=reg, keys=q.keys)
            ev = evaluate(plan, opened.tables, AS_OF, cal, registry=reg, backend=be, keys=q.keys)
            results.append({r["id"]: r for r in be.fetch_rows(ev.table)})
        assert results[0] == results[1]
        for key, values in EXPECTED.items():
            got = {name: results[0][key][name] for name in values}
            assert got == values, key
    finally:
        opened.backend.close()


def test_a_run_reads_the_log_once_and_reports_its_bad_rows(tmp_path):
    plan, reg = setup(tmp_path, "k0")
    outcome = run(plan, reg, tmp_path, AS_OF)
    found = {i.what: i.count for i in outcome.issues}
    assert found["missing key (row skipped)"] == 2 and found["key matches no customer of 'c' (row not used)"] == 2
    table = {r["id"]: r for r in pq.read_table(outcome.result_path).to_pylist()}
    assert {k: table[k]["n"] for k in EXPECTED} == {"k0": 2, "k1": 1, "k2": 0}
    assert table["k0"]["s"] == 30 and table["k2"]["a"] is None
