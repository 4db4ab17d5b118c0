"""Benchmark: the HTML report on N customers against the run's own time.

1. In one process, REPEAT times: `engine.run.run` of bench/scorecard.tier (the run's own time, no store),
   then the report step alone on that run's result — the facts queries (score and dimension
   histograms, segment sizes: `engine.report.result_facts`), building the Report and rendering and
   writing the HTML. Report time / run time is the figure (target: under 10%).
2. Whole processes, interleaved: `tierwise run … --no-store` with and without `--report` (the
   difference of the medians is what --report costs a user, noise included).
3. With a rating store (SQLite, throwaway): two recorded runs, then `tierwise report` of the second
   (which reads the ratings back and compares with the first: the migration matrix) against the
   recorded run's own time.

    python bench/report.py [--rows 1000000] [--repeat 3] [--parts 1,2,3]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from harness import HERE, race, timed, tierwise_cli


def in_process(data: Path, tmp: Path, repeat: int) -> None:
    from tierwise.cli import report_html
    from tierwise.dsl import read_rule_file
    from tierwise.engine.backends import open_backend
    from tierwise.engine.build import compile_text
    from tierwise.engine.plugin_manager import default_registry
    from tierwise.engine.report import outcome_report, result_facts
    from tierwise.engine.run import run

    registry = default_registry()
    rules = HERE / "scorecard.tier"
    plan, _, _ = compile_text(read_rule_file(rules), str(rules), registry)
    runs, facts_t, render_t = [], [], []
    for _ in range(repeat + 1):  # the first round warms the page cache and the imports
        start = time.perf_counter()
        outcome = run(plan, registry, rules.parent, date(2026, 6, 30), {"customers": str(data)})
        runs.append(time.perf_counter() - start)
        start = time.perf_counter()
        be = open_backend("duckdb")
        try:
            outcome.facts = result_facts(plan, be.read_parquet(outcome.result_path, "bench_result"), be)
        finally:
            be.close()
        facts_t.append(time.perf_counter() - start)
        start = time.perf_counter()
        report_html.write(outcome_report(outcome), tmp / "report.html")
        render_t.append(time.perf_counter() - start)
        del outcome
    r, f, w = (statistics.median(x[1:]) for x in (runs, facts_t, render_t))
    size = (tmp / "report.html").stat().st_size
    print(f"in process, {repeat} rounds (medians): run {r:.2f} s; report {f + w:.3f} s "
          f"(queries {f:.3f} s, render + write {w:.3f} s, {size / 1024:.0f} KB): "
          f"{(f + w) / r * 100:.1f}% of the run (target < 10%)")


def processes(data: Path, tmp: Path, repeat: int) -> None:
    base = [tierwise_cli(), "run", str(HERE / "scorecard.tier"), "--source", f"customers={data}",
            "--as-of", "2026-06-30", "--out", str(tmp / "engine.parquet"), "--no-store"]
    results = race({"run": base, "run --report": base + ["--report", str(tmp / "p.html")]}, repeat)
    med = {k: statistics.median(w for w, _ in v) for k, v in results.items()}
    rss = {k: max(m for _, m in v) for k, v in results.items()}
    print(f"whole processes, {repeat} runs each (medians): run {med['run']:.2f} s ({rss['run']:.0f} MB), "
          f"run --report {med['run --report']:.2f} s ({rss['run --report']:.0f} MB): --report adds "
          f"{med['run --report'] - med['run']:+.2f} s ({(med['run --report'] / med['run'] - 1) * 100:+.1f}%)")


def stored(data: Path, tmp: Path) -> None:
    db = f"sqlite:///{tmp / 'bench.db'}"
    run = [tierwise_cli(), "run", str(HERE / "scorecard.tier"), "--source", f"customers={data}",
           "--as-of", "2026-06-30", "--out", str(tmp / "engine.parquet"), "--db", db]
    timed(run)
    recorded, _ = timed(run)
    report, rss = timed([tierwise_cli(), "report", "--db", db, "--out", str(tmp / "stored.html")])
    print(f"from the store (SQLite): recorded run {recorded:.2f} s; `tierwise report` of it with the migration "
          f"matrix against the run before {report:.2f} s ({rss:.0f} MB): {report / recorded * 100:.0f}% of the run")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--parts", default="1,2,3", help="which parts to run, e.g. 1,3")
    args = ap.parse_args()
    data = HERE / "data" / f"customers_{args.rows}.parquet"
    if not data.exists():
        subprocess.run([sys.executable, str(HERE / "generate.py"), "--rows", str(args.rows), "--out", str(data)],
                       check=True)
    tmp = Path(tempfile.mkdtemp(prefix="tierwise-bench-report-"))
    try:
        print(f"HTML report: {args.rows:,} customers, bench/scorecard.tier")
        parts = set(args.parts.split(","))
        if "1" in parts:
            in_process(data, tmp, args.repeat)
        if "2" in parts:
            processes(data, tmp, args.repeat)
        if "3" in parts:
            stored(data, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
