"""Read a 100k-row xlsx source: the xlsx connector (python-calamine) against openpyxl, whole processes.

    python bench/xlsx_read.py [--rows 100000] [--repeat 3]

Writes bench/data/customers_<rows>.xlsx once (the bench scorecard's 14 columns: text, numbers, dates),
then times, interleaved, in fresh processes:
  - calamine: the xlsx connector opening the sheet into a DuckDB table (every cell as text);
  - openpyxl: load_workbook(read_only=True, data_only=True) and the same cell-to-text conversion
    (how the connector read workbooks before).
Both outputs are compared cell by cell; prints min/median seconds and the ratio.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

CALAMINE = """
import sys, json, hashlib, ibis
from pathlib import Path
from tierwise.engine.plugin_api import ConnectorContext
from tierwise.plugins.connectors_xlsx import XlsxConnector, XlsxOptions
path = Path(sys.argv[1])
ctx = ConnectorContext(con=ibis.duckdb.connect(), base_dir=path.parent, temp_dir=path.parent)
t = XlsxConnector().open(XlsxOptions(path=path.name), ctx).to_pyarrow()
h = hashlib.sha256(json.dumps(t.to_pydict(), sort_keys=True, ensure_ascii=False).encode()).hexdigest()
print(json.dumps({"rows": t.num_rows, "hash": h}))
"""

OPENPYXL = """
import sys, json, hashlib
from openpyxl import load_workbook
from tierwise.plugins.connectors_xlsx import cell_text
wb = load_workbook(sys.argv[1], read_only=True, data_only=True)
rows = wb.worksheets[0].iter_rows(values_only=True)
header = [cell_text(h) for h in next(rows)]
cols = {h: [] for h in header}
for row in rows:
    for h, v in zip(header, row):
        cols[h].append(cell_text(v))
h = hashlib.sha256(json.dumps(cols, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
print(json.dumps({"rows": len(cols[header[0]]), "hash": h}))
"""


def write_workbook(rows: int) -> Path:
    path = HERE / "data" / f"customers_{rows}.xlsx"
    if path.exists():
        return path
    sys.path.insert(0, str(HERE))
    from generate import generate  # the bench's customers
    from openpyxl import Workbook

    table = generate(rows, 42)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("客户")
    ws.append(table.column_names)
    cols = [c.to_pylist() for c in table.columns]
    for row in zip(*cols):
        ws.append([None if isinstance(v, float) and v != v else v for v in row])
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def timed(code: str, path: Path) -> tuple[float, dict]:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, str(path)], check=True, capture_output=True, text=True)
    return time.perf_counter() - start, json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    path = write_workbook(args.rows)
    times: dict[str, list[float]] = {"calamine": [], "openpyxl": []}
    results = {}
    for _ in range(args.repeat):
        for name, code in (("calamine", CALAMINE), ("openpyxl", OPENPYXL)):
            seconds, results[name] = timed(code, path)
            times[name].append(seconds)
    assert results["calamine"] == results["openpyxl"], f"the two readers disagree: {results}"
    print(f"{path.name}: {results['calamine']['rows']} rows × 14 columns, {path.stat().st_size / 1e6:.1f} MB; "
          f"both readers give the same cells")
    for name, ts in times.items():
        print(f"  {name:9s} min {min(ts):.2f} s  median {statistics.median(ts):.2f} s")
    ratio = statistics.median(times["openpyxl"]) / statistics.median(times["calamine"])
    print(f"  calamine is {ratio:.1f}x faster (median openpyxl / median calamine)")


if __name__ == "__main__":
    main()
