"""Writing a run's results: the ratings workbook and the cleaned CSV against the writers they replaced.

python bench/write.py [--customers 20000] [--repeat 2]

Rates the demo data (rulesets/demo_data, N customers) once in process, then times, interleaved, in
the same run: the ratings workbook (`RunOutcome.write(x.xlsx)`: xlsxwriter, formats, colours,
summary with a chart, data quality) against a bare openpyxl write-only sheet of the same rows (the
writer before issue 10), and the cleaned CSV (`RunOutcome.write(x.csv)`, engine.numbers) against
pyarrow's CSV of the raw doubles. Prints median times and the ratios new / before.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path



def openpyxl_sheet(table, path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("ratings")
    ws.append(table.column_names)
    for batch in table.to_batches(50_000):
        cols = [c.to_pylist() for c in batch.columns]
        for row in zip(*cols):
            ws.append(list(row))
    wb.save(path)


def plain_csv(table, path: Path) -> None:
    import pyarrow.csv as pacsv

    with open(path, "wb") as fh:
        fh.write(b"\xef\xbb\xbf")
        pacsv.write_csv(table, fh)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    from tierwise.engine.build import compile_text
    from tierwise.engine.plugin_manager import default_registry
    from tierwise.engine.run import run
    from tierwise.rulesets.demo_data import write_demo_data

    as_of = date(2026, 6, 30)
    with tempfile.TemporaryDirectory(prefix="tierwise-bench-write-") as tmp:
        d = Path(tmp)
        write_demo_data(d, customers=args.customers, seed=7, as_of=as_of)
        rules = d / "relationship_rating.tier"
        reg = default_registry()
        plan, _, _ = compile_text(rules.read_text(encoding="utf-8"), str(rules), reg)
        outcome = run(plan, reg, d, as_of)
        table = outcome.table
        cases = {"xlsx workbook": lambda: outcome.write(d / "new.xlsx"),
                 "xlsx openpyxl sheet (before)": lambda: openpyxl_sheet(table, d / "old.xlsx"),
                 "csv cleaned": lambda: outcome.write(d / "new.csv"),
                 "csv raw doubles (before)": lambda: plain_csv(table, d / "old.csv")}
        times: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(args.repeat):
            for name, fn in cases.items():
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
        cells = table.num_rows * table.num_columns
        print(f"{table.num_rows} customers × {table.num_columns} columns ({cells:,} cells), "
              f"median of {args.repeat}:")
        med = {k: statistics.median(v) for k, v in times.items()}
        for name, t in med.items():
            print(f"  {name:30s} {t:7.2f} s  ({t / cells * 1e6:.2f} µs/cell)")
        print(f"ratio xlsx workbook / openpyxl sheet: {med['xlsx workbook'] / med['xlsx openpyxl sheet (before)']:.2f}")
        print(f"ratio csv cleaned / raw doubles:      {med['csv cleaned'] / med['csv raw doubles (before)']:.2f}")


if __name__ == "__main__":
    main()
