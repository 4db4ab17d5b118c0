"""The xlsx connector: one sheet of an Excel workbook (values, not formulas), every cell as text."""
from __future__ import annotations

import datetime as dt
import difflib
from pathlib import Path

from pydantic import Field

from tierwise.engine.plugin_api import Connector, ConnectorContext, DataError, PluginOptions

from .connector_util import USE, check_unique_columns, existing_file, file_kind, unique_name
from .text_encoding import bom_encoding

EXACT_INT = 2 ** 53  # floats below this that are whole numbers print as integers, exactly


class XlsxOptions(PluginOptions):
    path: str = Field(description="workbook path, relative to the rule file")
    sheet: str | int | None = Field(None, description="sheet name or 0-based index; default: the first sheet")
    header_row: int = Field(1, ge=1, description="1-based row holding the column names")


def cell_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < EXACT_INT else repr(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d") if value.time() == dt.time(0) else value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    text = str(value)
    return text if text.strip() else None


def check_workbook(path: Path) -> None:
    """A DataError for files that are not .xlsx workbooks, saying what they are."""
    kind = file_kind(path)
    if kind == "xlsx":
        return
    if kind == "xls":
        raise DataError(f"{path.name} is an old Excel 97-2003 .xls workbook: save it as .xlsx "
                        f"(Excel: File > Save As > Excel Workbook) and point the source at the .xlsx")
    if kind == "html":
        raise DataError(f"{path.name} is an HTML page, not a workbook (some systems export tables as HTML named "
                        f".xls): open it in Excel and save it as .xlsx")
    if kind in USE:
        raise DataError(f"{path.name} is not an .xlsx workbook: {USE[kind]}")
    with open(path, "rb") as fh:
        head = fh.read(4096)
    try:
        head.decode("utf-8")
        text = True
    except UnicodeDecodeError as exc:  # cut inside a character at the end, GBK, or UTF-16 text
        text = exc.start > len(head) - 4 or b"\x00" not in head or bom_encoding(path) is not None
    hint = "it looks like a text export: use csv(...)" if text else "save it from Excel as .xlsx"
    raise DataError(f"{path.name} is not an .xlsx workbook: {hint}")


def pick_sheet(wb, sheet: str | int | None, path: Path):
    names = wb.sheetnames
    if sheet is None:
        return wb[names[0]]
    if isinstance(sheet, int):
        if not 0 <= sheet < len(names):
            raise DataError(f"{path.name} has {len(names)} sheet(s), so sheet {sheet} does not exist (sheet: counts "
                            f"from 0; sheets: {', '.join(names)})")
        return wb[names[sheet]]
    if sheet in names:
        return wb[sheet]
    loose = [n for n in names if n.strip().casefold() == sheet.strip().casefold()]
    if len(loose) == 1:  # "Sheet1" for "sheet1", "工单 " for "工单"
        return wb[loose[0]]
    close = difflib.get_close_matches(sheet, names, n=1, cutoff=0.5)
    raise DataError(f"{path.name} has no sheet '{sheet}'"
                    + (f" — did you mean '{close[0]}'?" if close else "") + f" (sheets: {', '.join(names)})")


def read_sheet(ws, header_row: int, path: Path, sheets: list[str] | None, ctx: ConnectorContext | None = None
               ) -> tuple[list[str], list[list]]:
    """(column names, column values) of a worksheet; trailing empty rows and unnamed empty columns dropped.
    ``sheets``: the workbook's sheets, listed when the default first sheet turns out empty."""
    where = f"sheet '{ws.title}' of {path.name}"
    rows = ws.iter_rows(values_only=True)
    header, seen = None, 0
    for seen, row in enumerate(rows, start=1):
        if seen == header_row:
            header = row
            break
    if header is None or all(cell_text(h) is None for h in header):
        if not any(cell_text(v) is not None for row in rows for v in row) and (seen < header_row or header_row == 1):
            more = (f"; the workbook's sheets: {', '.join(sheets)} — pick one with sheet: \"...\""
                    if sheets and len(sheets) > 1 else "")
            raise DataError(f"{where} is empty" + ("" if header_row == 1 else f" from row {header_row} on") + more)
        raise DataError(f"row {header_row} of {where} is empty, so it names no columns: "
                        f"set header_row: to the row that holds the column names")
    titles = [(cell_text(h) or "").strip() for h in header]
    data: list[list[str | None]] = [[] for _ in titles]
    n = pending_empty = 0  # rows kept; empty rows not yet known to be inner ones
    for row in rows:
        values = [cell_text(v) for v in row]
        if all(v is None for v in values):
            pending_empty += 1  # trailing empty rows are dropped; inner ones kept
            continue
        while len(titles) < len(values):  # a value right of the header: an unnamed column, kept
            titles.append("")
            data.append([None] * n)
        values += [None] * (len(titles) - len(values))
        for col, v in zip(data, values):
            col.extend([None] * pending_empty)
            col.append(v)
        n += pending_empty + 1
        pending_empty = 0
    while titles and not titles[-1] and all(v is None for v in data[-1]):
        titles.pop(), data.pop()  # formatted but empty columns right of the table
    columns = [t or f"column_{j}" for j, t in enumerate(titles, start=1)]
    return check_unique_columns(columns, f"the header of {where}", ctx), data


class XlsxConnector(Connector):
    """Reads one sheet of an Excel workbook (values, not formulas); all cells as text."""

    name = "xlsx"
    Options = XlsxOptions
    suffixes = (".xlsx", ".xlsm", ".xls")

    def open(self, options: XlsxOptions, ctx: ConnectorContext):
        import pyarrow as pa
        from openpyxl import load_workbook

        path = existing_file(ctx, options.path)
        check_workbook(path)
        try:
            wb = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:
            raise DataError(f"{path.name}: not a readable .xlsx workbook ({exc})") from None
        try:
            ws = pick_sheet(wb, options.sheet, path)
            sheets = wb.sheetnames if options.sheet is None else None
            columns, data = read_sheet(ws, options.header_row, path, sheets, ctx)
        finally:
            wb.close()
        table = pa.table({c: pa.array(v, pa.string()) for c, v in zip(columns, data)})
        return ctx.con.create_table(unique_name("xlsx"), table, temp=True)
