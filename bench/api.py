"""Benchmark: the Python API per record, against GoRules zen-engine evaluating the same scorecard.

    pip install -c constraints.txt -e '.[bench]'      # zen-engine
    python bench/api.py [--rows 1000000] [--calls 10000] [--batch 10000]

1. `generate.py` writes N customers (bench/data/, git-ignored); one run of bench/scorecard_api.tier
   over them (engine.run.run, as `tierwise run --no-store`) gives the calibration (the fitted min/max
   of 售后咨询量, mean/std of 服务响应满意度) and every customer's batch score and tier.
   scorecard_api.tier is bench/scorecard.tier with 行业增长率 banded instead of `scale percentile`
   (a percentile rank reads the whole population, so `rate` refuses it).
2. The same scorecard as a GoRules JSON Decision Model (written to bench/data/scorecard_api.jdm.json):
   an expression node for 合作时长 (whole years to the as-of date), one first-hit decision table per
   banded indicator (a missing value -> 1 point), an expression node for minmax / zscore with the
   run's calibration pasted in, the weighted score, and a decision table for the tier.
3. Times, interleaved call by call, in this process:
   - `tierwise.load(path).rate([record], calibration=...)`, one record a call (``--calls`` calls);
   - zen-engine `decision.evaluate(record)` (the record's names made ASCII, dates ISO text: zen's
     expression language takes no Chinese names), the same records;
   then one `rate(records)` call of ``--batch`` records, against zen over the same records in a loop.
4. Checks tierwise, zen and the batch run give the same score (within 1e-9) and tier on every record,
   then prints p50 / p99 per call, per-record time of the batch call, and the ratios zen / tierwise.

Target (issue 8): tierwise p50 <= 1 ms per single-record call.
"""
from __future__ import annotations

import argparse
import os
import json
import math
import statistics
import subprocess
import sys
import time
from datetime import date

from harness import HERE

AS_OF = date(2026, 6, 30)
RULES = HERE / "scorecard_api.tier"
KEY = "客户编号"

# bench/scorecard_api.tier, written out by hand as a GoRules analyst would: (indicator, dimension,
# weight in the dimension, bands as (zen unary test, points), first hit; "" is the else)
BANDED = [
    ("年交易额", [(">= 5000000", 10), (">= 3000000", 8), (">= 1000000", 5), ("", 2)]),
    ("客单价", [(">= 50000", 10), (">= 20000", 7), (">= 5000", 4), ("", 1)]),
    ("利润贡献率", [(">= 0.30", 10), (">= 0.20", 8), (">= 0.10", 5), ("", 2)]),
    ("合作时长", [(">= 5", 10), (">= 3", 8), (">= 1", 5), ("", 2)]),
    ("续约率", [(">= 0.90", 10), (">= 0.70", 7), (">= 0.50", 4), ("", 1)]),
    ("投诉次数", [("<= 0", 10), ("<= 2", 7), ("<= 5", 4), ("", 1)]),
    ("定制化需求频次", [(">= 6", 10), (">= 3", 8), (">= 1", 5), ("", 2)]),
    ("行业增长率", [(">= 0.15", 10), (">= 0.08", 8), (">= 0.02", 5), ("", 2)]),
    ("客户规模扩张速度", [(">= 0.30", 10), (">= 0.15", 8), (">= 0.05", 5), ("", 2)]),
]
DIMENSIONS = [
    (0.30, [("年交易额", 0.30), ("客单价", 0.30), ("利润贡献率", 0.40)]),
    (0.25, [("合作时长", 0.25), ("续约率", 0.40), ("投诉次数", 0.35)]),
    (0.20, [("售后咨询量", 0.30), ("定制化需求频次", 0.50), ("服务响应满意度", 0.20)]),
    (0.25, [("行业增长率", 0.30), ("客户规模扩张速度", 0.40), ("新产品采购意向", 0.30)]),
]
TIERS = [(">= 90", "A"), (">= 75", "B"), (">= 60", "C"), ("", "D")]
MISSING_POINTS = 1
# zen's expression language takes ASCII names only: the fields as an integrator would name them
ALIAS = {"客户编号": "id", "年交易额": "revenue", "客单价": "order_value", "利润贡献率": "margin",
         "合作起始时间": "since", "合作时长": "years", "续约率": "renewal", "投诉次数": "complaints",
         "售后咨询量": "inquiries", "定制化需求频次": "custom", "服务响应满意度": "satisfaction",
         "行业增长率": "industry_growth", "客户规模扩张速度": "expansion", "新产品采购意向": "intent",
         "重大投诉": "major_complaint"}


def jdm(calibration: dict) -> dict:
    """The scorecard as a zen JSON Decision Model, with the run's calibration pasted in."""
    nodes, edges = [{"id": "in", "type": "inputNode", "name": "record", "position": {"x": 0, "y": 0}}], []

    def add(node: dict) -> None:
        node.setdefault("position", {"x": 200 * len(nodes), "y": 0})
        edges.append({"id": f"e{len(edges)}", "type": "edge", "sourceId": nodes[-1]["id"], "targetId": node["id"]})
        nodes.append(node)

    def expressions(node_id: str, pairs: list[tuple[str, str]]) -> dict:
        return {"id": node_id, "type": "expressionNode", "name": node_id,
                "content": {"passThrough": True, "expressions": [
                    {"id": f"{node_id}{i}", "key": k, "value": v} for i, (k, v) in enumerate(pairs)]}}

    def table(node_id: str, field: str, out: str, rules: list[tuple[str, object]]) -> dict:
        return {"id": node_id, "type": "decisionTableNode", "name": node_id, "content": {
            "hitPolicy": "first", "passThrough": True,
            "inputs": [{"id": f"{node_id}i", "name": field, "field": field}],
            "outputs": [{"id": f"{node_id}o", "name": out, "field": out}],
            "rules": [{"_id": f"{node_id}r{i}", f"{node_id}i": test, f"{node_id}o": json.dumps(value)}
                      for i, (test, value) in enumerate(rules)]}}

    a = ALIAS
    add(expressions("derive", [("years", f'since == null ? null : d("{AS_OF}").diff(d(since), "year")')]))
    for n, (name, bands) in enumerate(BANDED):
        add(table(f"band{n}", a[name], f"p.{a[name]}", [("$ == null", MISSING_POINTS), *bands]))
    mm = calibration["indicators"]["售后咨询量"]["params"]
    zs = calibration["indicators"]["服务响应满意度"]["params"]
    lo, hi = 1, 10
    add(expressions("scale", [
        ("p.inquiries", f"inquiries == null ? {MISSING_POINTS} : "
                        f"{lo} + (inquiries - {mm['min']!r}) / ({mm['max']!r} - {mm['min']!r}) * {hi - lo}"),
        ("p.satisfaction", f"satisfaction == null ? {MISSING_POINTS} : {lo} + (max([min([(satisfaction - "
                           f"{zs['mean']!r}) / {zs['std']!r}, 3]), -3]) + 3) / 6 * {hi - lo}"),
        ("p.intent", f"intent == null ? {MISSING_POINTS} : intent"),
    ]))
    composite = " + ".join(f"{dw} * (" + " + ".join(f"{w} * p.{a[i]}" for i, w in inds) + ")"
                           for dw, inds in DIMENSIONS)
    add(expressions("score", [("score", f"round(({composite}) / {hi} * 100, 10)")]))
    add(table("tier", "score", "tier", TIERS))
    add({"id": "out", "type": "outputNode", "name": "result"})
    return {"contentType": "application/vnd.gorules.decision", "nodes": nodes, "edges": edges}


def zen_input(record: dict) -> dict:
    """A record as zen's input: ASCII names, JSON values (dates as ISO text, NaN as null)."""
    out = {}
    for k, v in record.items():
        if isinstance(v, date):
            v = v.isoformat()
        elif isinstance(v, float) and math.isnan(v):
            v = None
        out[ALIAS.get(k, k)] = v
    return out


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def same_score(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=0, abs_tol=1e-9)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000, help="the population the calibration is fitted on")
    ap.add_argument("--calls", type=int, default=10_000, help="single-record calls of each")
    ap.add_argument("--batch", type=int, default=10_000, help="records in the one batch call")
    args = ap.parse_args()
    try:
        import zen
    except ImportError:
        sys.exit("zen-engine is not installed: pip install -c constraints.txt -e '.[bench]'")
    import pyarrow.parquet as pq

    import tierwise
    from tierwise.engine.plugin_manager import default_registry
    from tierwise.engine.run import run

    data = HERE / "data" / f"customers_{args.rows}.parquet"
    if not data.exists():
        subprocess.run([sys.executable, str(HERE / "generate.py"), "--rows", str(args.rows), "--out", str(data)],
                       check=True)
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start")
    rules = tierwise.load(RULES)
    start = time.perf_counter()
    outcome = run(rules.plan, default_registry(), RULES.parent, AS_OF, {"customers": str(data)},
                  columns=[KEY, "score", "tier"])
    print(f"batch run of {outcome.rows:,} customers (the calibration): {time.perf_counter() - start:.2f} s")
    calibration = outcome.calibration
    wanted = max(args.calls, args.batch)
    records = pq.read_table(data).slice(0, wanted).to_pylist()
    batch = {r[KEY]: r for r in outcome.table.slice(0, wanted).to_pylist()}
    model = jdm(calibration.to_dict())
    (HERE / "data" / "scorecard_api.jdm.json").write_text(json.dumps(model, ensure_ascii=False, indent=1),
                                                          encoding="utf-8")
    decision = zen.ZenEngine().create_decision(json.dumps(model, ensure_ascii=False))

    # warm both (tierwise compiles and prepares its SQL on the first call)
    start = time.perf_counter()
    rules.rate([records[0]], calibration=calibration, as_of=AS_OF)
    first = time.perf_counter() - start
    decision.evaluate(zen_input(records[0]))

    ours, theirs, results = [], [], {}
    clock = time.perf_counter
    for rec in records[:args.calls]:
        t0 = clock()
        [r] = rules.rate([rec], calibration=calibration, as_of=AS_OF)
        t1 = clock()
        z = decision.evaluate(zen_input(rec))["result"]
        t2 = clock()
        ours.append(t1 - t0)
        theirs.append(t2 - t1)
        results[rec[KEY]] = (r.score, r.tier, z.get("score"), z.get("tier"))
    start = clock()
    rated = rules.rate(records[:args.batch], calibration=calibration, as_of=AS_OF)
    ours_batch = clock() - start
    start = clock()
    zen_batch = [decision.evaluate(zen_input(r))["result"] for r in records[:args.batch]]
    theirs_batch = clock() - start
    rules.close()

    bad = 0
    for rec, r, z in zip(records, rated, zen_batch):
        b = batch[rec[KEY]]
        single = results.get(rec[KEY])
        checks = [same_score(r.score, b["score"]) and r.tier == b["tier"],
                  same_score(z.get("score"), b["score"]) and z.get("tier") == b["tier"]]
        if single is not None:
            checks.append(same_score(single[0], b["score"]) and single[1] == b["tier"])
            checks.append(same_score(single[2], b["score"]) and single[3] == b["tier"])
        if not all(checks):
            bad += 1
            if bad <= 5:
                print(f"  differs: {rec[KEY]} batch {b['score']} {b['tier']} / rate {r.score} {r.tier} / "
                      f"zen {z.get('score')} {z.get('tier')}")
    checked = max(len(rated), len(results))
    print(f"same score and tier (tierwise rate, zen, batch run) on {checked - bad:,} of {checked:,} records")

    ours.sort()
    theirs.sort()
    ms = 1000
    print(f"\nsingle-record calls: {args.calls:,} each, interleaved; first tierwise call (compiles and prepares): "
          f"{first * ms:.0f} ms")
    print(f"  {'':32} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for name, t in (("tierwise rate([record])", ours), ("zen-engine evaluate(record)", theirs)):
        print(f"  {name:32} {percentile(t, 0.5) * ms:8.3f} {percentile(t, 0.99) * ms:8.3f} "
              f"{statistics.fmean(t) * ms:8.3f}")
    print(f"  ratio zen / tierwise: p50 {percentile(theirs, 0.5) / percentile(ours, 0.5):.4f}, "
          f"p99 {percentile(theirs, 0.99) / percentile(ours, 0.99):.4f} (target: tierwise p50 <= 1 ms)")
    n = len(rated)
    print(f"\none call of {n:,} records: tierwise rate(records) {ours_batch:.2f} s ({ours_batch / n * ms:.3f} ms a "
          f"record, {n / ours_batch:,.0f} records/s); zen in a loop {theirs_batch:.2f} s ({theirs_batch / n * ms:.3f} "
          f"ms a record); ratio zen / tierwise {theirs_batch / ours_batch:.3f}")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    if bad:
        sys.exit(f"{bad} records differ")


if __name__ == "__main__":
    main()
