"""Benchmark: `tierwise explain` of one customer, as a whole process.

    python bench/explain.py [--rows 1000000] [--repeat 5]

1. On the demo data (`tierwise demo`: 3,000 customers in a GBK CSV, an order log in Parquet and
   service tickets in an xlsx workbook; rulesets/relationship_rating.tier): `tierwise explain`
   against `tierwise check` of the same file (the fixed cost: start-up, parse, check) and
   `tierwise run` of the same data (explain fits on the population once, then scores one customer,
   so it must cost well under a run). Target: explain <= 1.5 s.
2. On N customers (bench/scorecard.tier, Parquet): `tierwise explain` against the hand DuckDB SQL
   (hand.sql, which must score everyone to fit its normalizers) writing that one customer's row.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import HERE, race, tierwise_cli


def show(title: str, results: dict[str, list[tuple[float, float]]]) -> dict[str, float]:
    print(title)
    med = {}
    for name, runs in results.items():
        walls = [w for w, _ in runs]
        med[name] = statistics.median(walls)
        print(f"  {name:34} min {min(walls):6.2f} s  median {med[name]:6.2f} s  peak RSS "
              f"{max(r for _, r in runs):6.0f} MB")
    return med


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    tw = tierwise_cli()
    demo = Path(tempfile.mkdtemp(prefix="tierwise-bench-demo-"))
    from tierwise.rulesets.demo_data import write_demo_data

    paths = write_demo_data(demo)
    ruleset = str(next(p for p in paths if p.suffix == ".tier"))
    med = show("demo (3,000 customers; GBK CSV + Parquet + xlsx)", race({
        "tierwise explain": [tw, "explain", ruleset, "KH00042", "--as-of", "2026-06-30"],
        "tierwise check (fixed cost)": [tw, "check", ruleset],
        "tierwise run": [tw, "run", ruleset, "--as-of", "2026-06-30", "--out", str(demo / "r.parquet"), "--no-store"],
    }, args.repeat))
    print(f"  explain / run: {med['tierwise explain'] / med['tierwise run']:.2f}; target explain <= 1.5 s")

    data = HERE / "data" / f"customers_{args.rows}.parquet"
    if not data.exists():
        subprocess.run([sys.executable, str(HERE / "generate.py"), "--rows", str(args.rows), "--out", str(data)],
                       check=True)
    key = "C0000042"
    out = demo / "one.parquet"
    hand_sql = demo / "hand_one.sql"
    sql = (HERE / "hand.sql").read_text(encoding="utf-8")
    hand_sql.write_text(sql.replace("FROM t\nORDER BY", f"FROM t WHERE 客户编号 = '{key}'\nORDER BY"), encoding="utf-8")
    med = show(f"{args.rows:,} customers (bench/scorecard.tier, Parquet)", race({
        "tierwise explain": [tw, "explain", str(HERE / "scorecard.tier"), key, "--source", f"customers={data}",
                             "--as-of", "2026-06-30"],
        "hand DuckDB SQL, one customer": [sys.executable, str(HERE / "hand_sql.py"), str(hand_sql), str(out),
                                          f"src={data}"],
    }, args.repeat))
    print(f"  ratio hand / explain: {med['hand DuckDB SQL, one customer'] / med['tierwise explain']:.2f}")


if __name__ == "__main__":
    main()
