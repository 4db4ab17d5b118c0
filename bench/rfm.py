"""Benchmark: rulesets/rfm.tier on 1M customers × 50M order rows against a hand DuckDB SQL (hand_rfm.sql).

Both write the full output (key, score, tier, tier_label, R/F/M values and points, the segment, labels,
missing) as Parquet; whole processes, interleaved, in the same session; outputs compared on every column.

    python bench/rfm.py [--customers 1000000] [--orders 50000000] [--repeat 3]
                        [--backend duckdb|spark|postgresql|postgresql://USER@HOST:PORT/DB] [--spark-conf K=V]...

With --backend, tierwise evaluates there (`run --backend`); the baseline stays the hand DuckDB SQL.
`--backend postgresql` starts a throwaway server for the bench (tests/pg_server.py).

The data (bench/generate_orders.py) is written once into bench/data/ (about 1 GB for 50M orders).
"""
from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
from pathlib import Path

from generate_orders import write
from harness import HERE, add_backend_options, backend_args, compare, race, report, tierwise_cli


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--orders", type=int, default=50_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    add_backend_options(ap)
    args = ap.parse_args()
    with contextlib.ExitStack() as stack:
        bench(args, stack)


def bench(args: argparse.Namespace, stack: contextlib.ExitStack) -> None:
    data = HERE / "data"
    customers, orders = data / f"crm_{args.customers}.parquet", data / f"orders_{args.customers}_{args.orders}.parquet"
    if not (customers.exists() and orders.exists()):
        customers, orders = write(args.customers, args.orders, data, 42)
    tmp = Path(tempfile.mkdtemp(prefix="tierwise-bench-"))
    engine_out, hand_out = tmp / "engine.parquet", tmp / "hand.parquet"
    engine_cmd = [tierwise_cli(), "run", str(HERE.parent / "rulesets" / "rfm.tier"), "--source",
                  f"customers={customers}", "--source", f"orders={orders}", "--as-of", "2026-06-30",
                  "--out", str(engine_out), "--log", str(tmp / "actions.log"), "--no-store"]
    backend, backend_name = backend_args(args, stack)
    engine_cmd += backend
    hand_cmd = [sys.executable, str(HERE / "hand_sql.py"), str(HERE / "hand_rfm.sql"), str(hand_out),
                f"customers={customers}", f"orders={orders}"]
    results = race({f"tierwise run ({backend_name})": engine_cmd, "hand DuckDB SQL": hand_cmd}, args.repeat,
                   args.warm_up)
    differing = compare(engine_out, hand_out)
    report(f"rulesets/rfm.tier × {args.orders:,} orders", args.customers, results,
           "target: ratio >= 0.7, tierwise peak RSS <= 2 GB")
    print(f"outputs agree on {args.customers - differing:,} of {args.customers:,} customers, every column")
    shutil.rmtree(tmp, ignore_errors=True)
    if differing:
        sys.exit(1)


if __name__ == "__main__":
    main()
