"""Benchmark: `tierwise run` against hand-written DuckDB SQL of the same scorecard.

Both run as whole processes (start-up, reading Parquet, scoring, writing Parquet),
interleaved, REPEAT times each, in the same session; the outputs are compared
row by row. Prints wall time (min / median), rows/s, peak RSS, and the ratios
hand_time / tierwise_time (tierwise throughput as a fraction of the hand SQL's)
and tierwise_RSS / hand_RSS.

    python bench/run.py [--rows 1000000] [--repeat 3] [--columns score,tier]
                        [--backend duckdb|spark|postgresql|postgresql://USER@HOST:PORT/DB] [--spark-conf K=V]...

With --columns, tierwise writes only the key and those columns (`run --columns`), and the
hand SQL writes the same columns. With --backend, tierwise evaluates there (`run --backend`); the
baseline stays the hand DuckDB SQL. `--backend postgresql` starts a throwaway server for the bench.
"""
from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import HERE, add_backend_options, backend_args, compare, race, report, tierwise_cli


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--columns", help="e.g. score,tier: the output columns of both (the key is always written)")
    add_backend_options(ap)
    args = ap.parse_args()
    with contextlib.ExitStack() as stack:
        bench(args, stack)


def bench(args: argparse.Namespace, stack: contextlib.ExitStack) -> None:
    data = HERE / "data" / f"customers_{args.rows}.parquet"
    if not data.exists():
        subprocess.run([sys.executable, str(HERE / "generate.py"), "--rows", str(args.rows), "--out", str(data)],
                       check=True)
    tmp = Path(tempfile.mkdtemp(prefix="tierwise-bench-"))
    engine_out, hand_out = tmp / "engine.parquet", tmp / "hand.parquet"
    engine_cmd = [tierwise_cli(), "run", str(HERE / "scorecard.tier"), "--source", f"customers={data}",
                  "--as-of", "2026-06-30", "--out", str(engine_out), "--no-store"]
    hand_cmd = [sys.executable, str(HERE / "hand_sql.py"), str(HERE / "hand.sql"), str(hand_out), f"src={data}"]
    backend, backend_name = backend_args(args, stack)
    engine_cmd += backend
    if args.columns:
        engine_cmd += ["--columns", args.columns]
        hand_cmd += ["--columns", "客户编号," + args.columns]
    results = race({f"tierwise run ({backend_name})": engine_cmd, "hand DuckDB SQL": hand_cmd}, args.repeat,
                   args.warm_up)
    differing = compare(engine_out, hand_out)
    report("relationship scorecard" + (f", --columns {args.columns}" if args.columns else ", full output"),
           args.rows, results, "targets: 1M --columns score,tier >= 0.5; 10M >= 0.8 with RSS <= 1.5")
    print(f"outputs agree on {args.rows - differing:,} of {args.rows:,} rows, every column")
    shutil.rmtree(tmp, ignore_errors=True)
    if differing:
        sys.exit(1)


if __name__ == "__main__":
    main()
