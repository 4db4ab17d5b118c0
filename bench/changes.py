"""`tierwise changes` between two stored runs of N customers: the shared core (engine.changes.compare_tables,
the portable SQL `tierwise diff` runs in DuckDB, here in the store's SQLite: matrix, sizes, the score
shift per tier with its exact median by window functions, the movers) against the SQL compare_runs ran
before the core (the matrix, the sizes and the movers' join; no score shift), in the same run on the same store.

    python bench/changes.py [--customers 300000] [--repeat 3]

Prints the median times and the ratio baseline / core (1.0: as fast; below: slower).
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

import sqlalchemy as sa

from tierwise.engine.changes import NO_TIER, compare_runs, points_changes
from tierwise.engine.store import Rating, RunRecord, Store


def fill(store: Store, n: int) -> tuple[str, str]:
    rng = random.Random(7)
    tiers = ["A", "B", "C", "D"]
    ids = []
    first = [rng.uniform(40, 100) for _ in range(n)]
    for k in range(2):
        run_id = f"run{k}"
        ratings = []
        for i in range(n):
            score = first[i] + (rng.gauss(0, 1.5) if k else 0.0)  # a quarter later: a few customers move
            tier = tiers[0 if score >= 90 else 1 if score >= 75 else 2 if score >= 60 else 3]
            ratings.append({"customer": f"KH{i:07d}", "final_tier": tier, "computed_tier": tier, "score": score,
                            "points": json.dumps({"年交易额": rng.randint(1, 10), "续约率": rng.randint(1, 10)},
                                                 ensure_ascii=False)})
        store.record(RunRecord(id=run_id, kind="periodic", ruleset="R", version=None, text_hash="h", rule_text="",
                               rule_file="r.tier", as_of=date(2026, 6, 30), started_by="bench",
                               started_at=datetime(2026, 7, 1, k, tzinfo=timezone.utc),
                               tier_counts={t: 0 for t in tiers}), ratings)
        ids.append(run_id)
    return ids[0], ids[1]


def baseline(store: Store, before: str, after: str) -> int:
    """What compare_runs ran before the shared core: the matrix and the movers in the store's SQL."""
    r = Rating.__table__
    a, b = r.alias("a"), r.alias("b")
    on = sa.and_(a.c.customer == b.c.customer, a.c.run_id == before, b.c.run_id == after)
    ta, tb = sa.func.coalesce(a.c.final_tier, NO_TIER), sa.func.coalesce(b.c.final_tier, NO_TIER)
    with store.engine.connect() as conn:
        conn.execute(sa.select(ta, tb, sa.func.count()).select_from(a.join(b, on)).group_by(ta, tb)).all()
        conn.execute(sa.select(r.c.run_id, sa.func.count()).where(r.c.run_id.in_([before, after]))
                     .group_by(r.c.run_id)).all()
        moved = conn.execute(sa.select(a.c.customer, a.c.final_tier, b.c.final_tier, a.c.score, b.c.score, a.c.points,
                                       b.c.points).select_from(a.join(b, on)).where(ta != tb)
                             .order_by(a.c.customer)).all()
    return len([points_changes(pa, pb) for *_, pa, pb in moved])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=300_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        store = Store.open(f"sqlite:///{Path(d) / 'tierwise.db'}")
        before, after = fill(store, args.customers)
        runs = store.run(before), store.run(after)
        times: dict[str, list[float]] = {"baseline": [], "core": []}
        for _ in range(args.repeat):  # interleaved
            t = time.perf_counter()
            n_base = baseline(store, before, after)
            times["baseline"].append(time.perf_counter() - t)
            t = time.perf_counter()
            ch = compare_runs(store, *runs)
            times["core"].append(time.perf_counter() - t)
            assert len(ch.movers) == n_base
        store.close()
    base, core = statistics.median(times["baseline"]), statistics.median(times["core"])
    print(f"{args.customers} customers × 2 runs, {n_base} movers: store SQL {base:.2f} s, shared core {core:.2f} s, "
          f"ratio {base / core:.2f}")


if __name__ == "__main__":
    main()
