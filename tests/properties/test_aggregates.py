"""Per-customer aggregates over a transaction log and population aggregates over per-customer values,
against plain Python on random data (real Parquet files).

Semantics checked (docs/language.md): `within N months` is as_of − N calendar months (the day clamped to
the month's end) ≤ date ≤ as_of, `within N days` likewise in days; rows with a missing amount are skipped;
a customer with no rows gets 0 from `sum` and `count` and a missing `avg`/`min`/`max`; `median` and
`percentile` interpolate linearly between order statistics; `stddev` is the population deviation; all
population aggregates skip missing values.
"""
import math
import statistics
import tempfile
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from dateutil.relativedelta import relativedelta
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tierwise.engine.build import compile_text
from tierwise.engine.plugin_manager import default_registry
from tierwise.engine.run import run

REGISTRY = default_registry()
AS_OFS = [date(2026, 6, 30), date(2026, 3, 31), date(2024, 2, 29), date(2026, 1, 1), date(2025, 12, 31)]
PRODUCTS = ["A", "B", "C", "软件", "服务"]


def close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= 1e-9 * max(1.0, abs(b))


def rules(months: int, days: int, q: float) -> str:
    indicators = {
        "s": "sum(orders.amt)",
        "sp": 'sum(orders.amt where orders.status == "paid")',
        "n": "count(orders)",
        "cm": f"count(orders where orders.dt within {months} months)",
        "cd": f"count(orders where orders.dt within {days} days)",
        "am": f"avg(orders.amt where orders.dt within {months} months)",
        "mn": "min(orders.amt)",
        "mx": 'max(orders.amt where orders.status == "paid" and orders.dt within 1 years)',
        "nd": "count_distinct(orders.product)",
        "med": "median(value(s))",
        "pq": f"percentile(value(s), {q * 100:g}%)",
        "mu": "mean(value(am))",
        "sd": "stddev(value(s))",
    }
    weights = [8] * (len(indicators) - 1) + [100 - 8 * (len(indicators) - 1)]
    body = "".join(f"indicator {k} = {e} weight {w}%\n" for (k, e), w in zip(indicators.items(), weights))
    return ('source c = parquet("c.parquet") key id\nsource orders = parquet("orders.parquet") key id\n'
            "points 0..1\n" + body)


@st.composite
def scenario(draw):
    as_of = draw(st.sampled_from(AS_OFS))
    months = draw(st.integers(1, 14))
    days = draw(st.integers(0, 400))
    start = as_of - relativedelta(months=months)
    n_customers = draw(st.integers(1, 12))
    customers = [f"K{i}" for i in range(n_customers)]
    day = st.one_of(
        st.integers(-30, 500).map(lambda k: as_of - timedelta(days=k)),  # mostly before as_of, some after
        st.sampled_from([as_of, start, start - timedelta(days=1), as_of + timedelta(days=1),
                         as_of - timedelta(days=days), as_of - timedelta(days=days + 1)]),  # the edges
    )
    order = st.tuples(
        st.sampled_from(customers),
        st.one_of(st.none(), st.integers(-1000, 100_000).map(lambda x: x / 4)),
        st.sampled_from(["paid", "refund"]),
        day,
        st.sampled_from(PRODUCTS),
    )
    orders = draw(st.lists(order, max_size=60))
    q = draw(st.sampled_from([0.1, 0.25, 0.5, 0.8, 0.95]))
    return as_of, months, days, q, customers, orders


def percentile(values: list[float], q: float) -> float | None:
    xs = sorted(values)
    if not xs:
        return None
    pos = (len(xs) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def reference(as_of, months, days, q, customers, orders) -> dict[str, dict[str, float | None]]:
    start_m = as_of - relativedelta(months=months)
    start_y = as_of - relativedelta(years=1)
    out = {}
    for k in customers:
        rows = [o for o in orders if o[0] == k]
        amounts = [a for _, a, _, _, _ in rows if a is not None]
        in_m = [o for o in rows if start_m <= o[3] <= as_of]
        am = [a for _, a, _, _, _ in in_m if a is not None]
        paid_y = [a for _, a, st_, d, _ in rows if a is not None and st_ == "paid" and start_y <= d <= as_of]
        out[k] = {
            "s": float(sum(amounts)),
            "sp": float(sum(a for _, a, st_, _, _ in rows if a is not None and st_ == "paid")),
            "n": len(rows),
            "cm": len(in_m),
            "cd": sum(1 for o in rows if as_of - timedelta(days=days) <= o[3] <= as_of),
            "am": statistics.fmean(am) if am else None,
            "mn": min(amounts) if amounts else None,
            "mx": max(paid_y) if paid_y else None,
            "nd": len({p for *_, p in rows}),
        }
    sums = [r["s"] for r in out.values()]
    avgs = [r["am"] for r in out.values() if r["am"] is not None]
    population = {"med": percentile(sums, 0.5), "pq": percentile(sums, q),
                  "mu": statistics.fmean(avgs) if avgs else None, "sd": statistics.pstdev(sums)}
    for r in out.values():
        r.update(population)
    return out


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scenario())
def test_aggregates_match_the_reference(case):
    as_of, months, days, q, customers, orders = case
    plan, diags, _ = compile_text(rules(months, days, q), "agg.tier", REGISTRY)
    assert plan is not None, [d.message for d in diags.errors]
    with tempfile.TemporaryDirectory() as tmp:
        pq.write_table(pa.table({"id": customers}), Path(tmp, "c.parquet"))
        pq.write_table(pa.table({"id": pa.array([o[0] for o in orders], pa.string()),
                                 "amt": pa.array([o[1] for o in orders], pa.float64()),
                                 "status": pa.array([o[2] for o in orders], pa.string()),
                                 "dt": pa.array([o[3] for o in orders], pa.date32()),
                                 "product": pa.array([o[4] for o in orders], pa.string())}),
                       Path(tmp, "orders.parquet"))
        outcome = run(plan, REGISTRY, Path(tmp), as_of)
        got = {r["id"]: r for r in outcome.table.to_pylist()}
    expected = reference(as_of, months, days, q, customers, orders)
    assert set(got) == set(expected)
    for k, exp in expected.items():
        for name, value in exp.items():
            assert close(got[k][name], value), (k, name, got[k][name], value)
