"""The write step: results as .csv (UTF-8 with BOM, so Excel shows Chinese), .parquet or .xlsx."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .plugin_api import DataError


def write_output(table: Any, path: Path) -> None:
    """Write results as .csv (UTF-8 with BOM, so Excel shows Chinese), .parquet or .xlsx."""
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, path)
    elif suffix == ".csv":
        import pyarrow.csv as pacsv

        with open(path, "wb") as fh:
            fh.write(b"\xef\xbb\xbf")
            pacsv.write_csv(table, fh)
    elif suffix == ".xlsx":
        write_xlsx(table, path)
    else:
        raise DataError(f"cannot write {path.name}: the output must end in .csv, .parquet or .xlsx")


XLSX_MAX_ROWS = 1_048_575


def write_xlsx(table: Any, path: Path) -> None:
    from openpyxl import Workbook

    if table.num_rows > XLSX_MAX_ROWS:
        raise DataError(f"{table.num_rows} rows do not fit in one Excel sheet (max {XLSX_MAX_ROWS}); "
                        f"write .parquet or .csv instead")
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("ratings")

    def cell(v: Any) -> Any:
        """Text stays text: control characters (illegal in .xlsx) become U+FFFD, and a leading '='
        is not a formula (a key "=HYPERLINK(...)" must not turn into a live link)."""
        if not isinstance(v, str):
            return v
        v = ILLEGAL_CHARACTERS_RE.sub("\ufffd", v)
        if v[:1] != "=":
            return v
        c = WriteOnlyCell(ws, value=v)
        c.data_type = "s"
        return c

    ws.append([cell(c) for c in table.column_names])
    for batch in table.to_batches(50_000):
        cols = [c.to_pylist() for c in batch.columns]
        for row in zip(*cols):
            ws.append([cell(v) for v in row])
    wb.save(path)
