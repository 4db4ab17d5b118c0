"""Benchmark: `tierwise rate` of one customer of N (default 1M), as a whole process.

    python bench/rate.py [--rows 1000000] [--repeat 5]

bench/scorecard.tier with its one rank normalizer (`scale percentile`, which reads the population by
its nature) scaled by min-max instead, so every part of the rules scores from the calibration: one full
`tierwise run` records the calibration into a throwaway SQLite store, then, side by side in the same
session:

- `tierwise rate RULES C0500000` (the key filter pushed into the Parquet source, the frozen calibration
  and the customer's last rating read from the store);
- `tierwise check RULES`: the fixed cost of starting tierwise and checking the rules;
- the floor: a fresh Python process that imports duckdb and reads that customer's row from the Parquet
  file (what any process that rates one customer from this file must at least do).

Target (issue 8): rate <= 0.5 s as a whole process.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import HERE, race, tierwise_cli


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    data = HERE / "data" / f"customers_{args.rows}.parquet"
    if not data.exists():
        subprocess.run([sys.executable, str(HERE / "generate.py"), "--rows", str(args.rows), "--out", str(data)],
                       check=True)
    work = Path(tempfile.mkdtemp(prefix="tierwise-bench-rate-"))
    rules = work / "scorecard.tier"
    rules.write_text((HERE / "scorecard.tier").read_text(encoding="utf-8").replace("scale percentile", "scale minmax"),
                     encoding="utf-8")
    db = f"sqlite:///{work / 'tierwise.db'}"
    tw = tierwise_cli()
    key = f"C{args.rows // 2:07d}"
    common = ["--source", f"customers={data}", "--as-of", "2026-06-30", "--db", db]
    subprocess.run([tw, "run", str(rules), *common], check=True, stdout=subprocess.DEVNULL)
    floor = (f"import duckdb; duckdb.sql(\"SELECT * FROM read_parquet('{data}') WHERE 客户编号 = '{key}'\")"
             ".fetchall()")
    results = race({
        "tierwise rate (one customer)": [tw, "rate", str(rules), key, *common],
        "tierwise check (fixed cost)": [tw, "check", str(rules)],
        "python + duckdb, the row only": [sys.executable, "-c", floor],
    }, args.repeat)
    print(f"tierwise rate of one customer of {args.rows:,} (Parquet), {args.repeat} runs each")
    med = {}
    for name, runs in results.items():
        walls = [w for w, _ in runs]
        med[name] = statistics.median(walls)
        print(f"  {name:32} min {min(walls):6.2f} s  median {med[name]:6.2f} s  peak RSS "
              f"{max(r for _, r in runs):6.0f} MB")
    rate = med["tierwise rate (one customer)"]
    print(f"  ratio floor / rate: {med['python + duckdb, the row only'] / rate:.2f}; "
          f"check / rate: {med['tierwise check (fixed cost)'] / rate:.2f}; target rate <= 0.5 s")


if __name__ == "__main__":
    main()
