"""Benchmark: `tierwise run` against hand-written DuckDB SQL of the same scorecard.

Both run as whole processes (start-up, reading Parquet, scoring, writing Parquet),
interleaved, REPEAT times each, in the same session; the outputs are compared
row by row. Prints wall time (min / median), rows/s, peak RSS, and the ratio
hand_time / tierwise_time (tierwise throughput as a fraction of the hand SQL's).

    python bench/run.py [--rows 1000000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"command failed ({code}): {' '.join(cmd)}\n{err}")
    return wall, usage.ru_maxrss / 1024


def compare(engine_out: Path, hand_out: Path) -> int:
    """Rows where any column differs (numbers beyond 1e-9 relative, text, missing-ness); prints a few."""
    import duckdb

    con = duckdb.connect()
    e = f"read_parquet('{engine_out}')"
    h = f"read_parquet('{hand_out}')"
    cols = con.execute(f"DESCRIBE SELECT * FROM {h}").fetchall()
    engine_cols = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {e}").fetchall()}
    if engine_cols != {c[0] for c in cols}:
        sys.exit(f"different columns: {sorted(engine_cols ^ {c[0] for c in cols})}")
    key = cols[0][0]
    conds = []
    for name, typ, *_ in cols[1:]:
        q = '"' + name.replace('"', '""') + '"'
        if typ in ("DOUBLE", "FLOAT", "BIGINT", "INTEGER") or typ.startswith("DECIMAL"):
            conds.append(f"(e.{q} IS NULL) <> (h.{q} IS NULL) OR "
                         f"abs(e.{q} - h.{q}) > 1e-9 * greatest(1, abs(h.{q}))")
        else:
            conds.append(f"e.{q} IS DISTINCT FROM h.{q}")
    differs = " OR ".join(f"({c})" for c in conds)
    n_e, n_h = (con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in (e, h))
    joined = f"FROM {e} e FULL JOIN {h} h ON e.{key} = h.{key}"
    bad = con.execute(f"SELECT count(*) {joined} WHERE e.{key} IS NULL OR h.{key} IS NULL OR {differs}").fetchone()[0]
    for row in con.execute(f"SELECT e.{key}, h.{key} {joined} WHERE e.{key} IS NULL OR h.{key} IS NULL "
                           f"OR {differs} LIMIT 5").fetchall():
        print(f"  differs: engine {row[0]} / hand {row[1]}")
    return bad + abs(n_e - n_h)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    data = HERE / "data" / f"customers_{args.rows}.parquet"
    if not data.exists():
        subprocess.run([sys.executable, str(HERE / "generate.py"), "--rows", str(args.rows), "--out", str(data)],
                       check=True)
    tierwise = shutil.which("tierwise") or str(Path(sys.executable).with_name("tierwise"))
    tmp = Path(tempfile.mkdtemp(prefix="tierwise-bench-"))
    engine_out, hand_out = tmp / "engine.parquet", tmp / "hand.parquet"
    engine_cmd = [tierwise, "run", str(HERE / "scorecard.tier"), "--source", f"customers={data}",
                  "--as-of", "2026-06-30", "--out", str(engine_out)]
    hand_cmd = [sys.executable, str(HERE / "hand_sql.py"), str(data), str(hand_out)]
    results: dict[str, list[tuple[float, float]]] = {"tierwise run": [], "hand DuckDB SQL": []}
    timed(engine_cmd), timed(hand_cmd)  # warm the page cache for both
    for _ in range(args.repeat):
        results["tierwise run"].append(timed(engine_cmd))
        results["hand DuckDB SQL"].append(timed(hand_cmd))
    differing = compare(engine_out, hand_out)
    print(f"{args.rows:,} customers, {args.repeat} runs each, {os.cpu_count()} cores")
    print(f"{'':18} {'min s':>8} {'median s':>9} {'rows/s (median)':>16} {'peak RSS MB':>12}")
    med = {}
    for name, runs in results.items():
        walls = [w for w, _ in runs]
        med[name] = statistics.median(walls)
        print(f"{name:18} {min(walls):8.2f} {med[name]:9.2f} {args.rows / med[name]:16,.0f} "
              f"{max(r for _, r in runs):12.0f}")
    ratio = med["hand DuckDB SQL"] / med["tierwise run"]
    print(f"throughput ratio tierwise / hand SQL: {ratio:.2f} (target >= 0.5)")
    print(f"outputs agree on {args.rows - differing:,} of {args.rows:,} rows, every column")
    shutil.rmtree(tmp, ignore_errors=True)
    if differing:
        sys.exit(1)


if __name__ == "__main__":
    main()
