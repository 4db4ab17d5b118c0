"""The xlsx connector: one sheet of an Excel workbook (values, not formulas), every cell as text.

Workbooks are read with python-calamine (a Rust reader, ~10x faster than openpyxl on large sheets).
calamine reads a cell holding an Excel error (#DIV/0!, #N/A, #REF!) as an empty string, so those
cells are found in the sheet's XML and reported: they are missing values, never silently so.
"""
from __future__ import annotations

import datetime as dt
import difflib
import re
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import Field

from tierwise.engine.plugin_api import DATE_YEARS, Connector, ConnectorContext, DataError, PluginOptions, resolve_path

from .connector_util import USE, check_unique_columns, existing_file, file_kind, is_glob, text_table
from .text_encoding import bom_encoding

EXACT_INT = 2 ** 53  # floats below this that are whole numbers print as integers, exactly


class XlsxOptions(PluginOptions):
    path: str = Field(description="workbook path, relative to the rule file")
    sheet: str | int | None = Field(None, description="sheet name or 0-based index; default: the first sheet")
    header_row: int = Field(1, ge=1, description="1-based row holding the column names")


def cell_text(value: object) -> str | None:
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
    if isinstance(value, dt.timedelta):  # a duration cell ([h]:mm): as Excel shows it
        seconds = int(value.total_seconds())
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    text = str(value)
    return text if text.strip() else None


def column_text(values: Any) -> list[str | None]:
    """``cell_text`` over a column; text cells (most of an export) take the short way."""
    out: list[str | None] = []
    add = out.append
    for v in values:
        t = type(v)
        if t is str:
            add(v if v and not v.isspace() else None)
        elif t is float:
            add(str(int(v)) if v.is_integer() and -EXACT_INT < v < EXACT_INT else repr(v))
        else:
            add(cell_text(v))
    return out


def typed_column(values: Any, want: str) -> tuple[list[Any], str] | None:
    """A column the rules read as a number or a date, in that type, when each of its cells holds one or is
    empty: (the values, their DuckDB type). None when a cell holds anything else (text, a boolean, a time,
    a date outside the years text dates are read in): the column comes as text, typed like any other.
    Typed cells skip writing every cell as text and parsing it back (34k ticket dates: ~0.1 s)."""
    out: list[Any] = []
    add = out.append
    if want == "number":
        for v in values:
            t = type(v)
            if t is float or t is int:
                add(float(v))
            elif v is None or (t is str and (not v or v.isspace())):
                add(None)
            else:
                return None
        return out, "DOUBLE"
    if want == "date":
        low, high = DATE_YEARS
        for v in values:
            t = type(v)
            if t is dt.datetime or t is dt.date:
                if not low <= v.year <= high:
                    return None
                add(v if t is dt.datetime else dt.datetime(v.year, v.month, v.day))
            elif v is None or (t is str and (not v or v.isspace())):
                add(None)
            else:
                return None
        return out, "TIMESTAMP"
    return None


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


def pick_sheet(names: list[str], sheet: str | int | None, path: Path) -> str:
    """The name of the sheet ``sheet`` means among the workbook's sheet ``names``."""
    if sheet is None:
        return names[0]
    if isinstance(sheet, int):
        if not 0 <= sheet < len(names):
            raise DataError(f"{path.name} has {len(names)} sheet(s), so sheet {sheet} does not exist (sheet: counts "
                            f"from 0; sheets: {', '.join(names)})")
        return names[sheet]
    if sheet in names:
        return sheet
    loose = [n for n in names if n.strip().casefold() == sheet.strip().casefold()]
    if len(loose) == 1:  # "Sheet1" for "sheet1", "工单 " for "工单"
        return loose[0]
    close = difflib.get_close_matches(sheet, names, n=1, cutoff=0.5)
    raise DataError(f"{path.name} has no sheet '{sheet}'"
                    + (f" — did you mean '{close[0]}'?" if close else "") + f" (sheets: {', '.join(names)})")


def read_sheet(title: str, cells: list[list[Any]], header_row: int, path: Path, sheets: list[str] | None,
               ctx: ConnectorContext | None = None) -> tuple[list[str], list[list[Any]], list[str]]:
    """(column names, column values, their DuckDB types) of a worksheet's cells (rows from A1, an empty cell
    None or ""); trailing empty rows and unnamed empty columns dropped. Text, but a column the rules read as
    a number or a date (``ctx.types``) whose cells all hold one (``typed_column``). ``sheets``: the
    workbook's sheets, listed when the default first sheet turns out empty."""
    where = f"sheet '{title}' of {path.name}"
    rows = iter(cells)
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
    body = cells[seen:]
    while body and all(v is None or v == "" or (type(v) is str and v.isspace()) for v in body[-1]):
        body.pop()  # trailing empty rows are dropped; inner ones kept
    width = max((len(r) for r in body), default=0)
    titles += [""] * (width - len(titles))  # values right of the header: unnamed columns, kept
    # column by column (calamine's rows are rectangular): one pass per column, text cells kept as they are
    raw: list[Any] = list(zip(*(r if len(r) == width else [*r, *[None] * (width - len(r))] for r in body))) \
        if body else [() for _ in titles]
    raw += [(None,) * len(body) for _ in range(len(titles) - len(raw))]
    while titles and not titles[-1] and all(v is None or (type(v) is str and (not v or v.isspace())) for v in raw[-1]):
        titles.pop(), raw.pop()  # formatted but empty columns right of the table
    columns = check_unique_columns([t or f"column_{j}" for j, t in enumerate(titles, start=1)],
                                   f"the header of {where}", ctx)
    wants = (ctx.types if ctx is not None else None) or {}
    data, kinds = [], []
    for name, col in zip(columns, raw):
        typed = typed_column(col, wants[name]) if wants.get(name) in ("number", "date") else None
        values, kind = typed if typed is not None else (column_text(col), "VARCHAR")
        data.append(values)
        kinds.append(kind)
    return columns, data, kinds


class XlsxConnector(Connector):
    """Reads one sheet of an Excel workbook (values, not formulas); all cells as text."""

    name = "xlsx"
    Options = XlsxOptions
    suffixes = (".xlsx", ".xlsm", ".xls")

    def prefetch(self, options: XlsxOptions, base_dir: Path) -> "SheetRead | None":
        """The sheet's cells read in a thread: calamine parses the sheet's XML without holding the GIL, so
        it runs beside the engine connecting (importing Ibis). Nothing for a glob or what is no workbook."""
        path = resolve_path(base_dir, options.path)  # as open's ctx.resolve does
        try:
            if is_glob(options.path) or file_kind(path) != "xlsx":
                return None
        except OSError:
            return None  # open says what is wrong with the path
        return SheetRead(path, options.sheet)

    def open(self, options: XlsxOptions, ctx: ConnectorContext) -> Any:  # an Ibis table
        path = existing_file(ctx, options.path)
        check_workbook(path)
        ahead = ctx.ahead
        got = ahead.result() if isinstance(ahead, SheetRead) and ahead.wanted == (path, options.sheet) else None
        names, title, cells = got[:3] if got is not None else sheet_cells(path, options.sheet)
        columns, data, kinds = read_sheet(title, cells, options.header_row, path, names if options.sheet is None else None,
                                   ctx)
        errors = got[3] if got is not None else error_cells(path, title)
        if errors:
            ctx.report("Excel error value (#DIV/0!, #N/A, ...) read as missing", f"sheet {title}", len(errors),
                       errors[:5])
        return text_table(ctx, "xlsx", dict(zip(columns, data)), kinds)


def sheet_cells(path: Path, sheet: str | int | None) -> tuple[list[str], str, list[list[Any]]]:
    """(the workbook's worksheets, the one ``sheet`` names, its cells from A1 as calamine reads them)."""
    from python_calamine import CalamineWorkbook, SheetTypeEnum

    try:
        wb = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine's errors (zip, XML, password): one line, no traceback
        raise DataError(f"{path.name}: not a readable .xlsx workbook ({exc})") from None
    try:
        names = [m.name for m in wb.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet] or list(wb.sheet_names)
        title = pick_sheet(names, sheet, path)
        return names, title, wb.get_sheet_by_name(title).to_python(skip_empty_area=False)
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"{path.name}: sheet cannot be read ({exc})") from None
    finally:
        wb.close()


class SheetRead:
    """``sheet_cells`` of a workbook and its ``error_cells``, read in a thread from the moment it is made
    (both inflate and parse XML without the GIL); ``result()`` waits for them (None when the read failed:
    ``open`` reads again, and reports the failure as it would have)."""

    def __init__(self, path: Path, sheet: str | int | None):
        import threading

        self.wanted = (path, sheet)
        self._got: tuple[list[str], str, list[list[Any]], list[str]] | None = None
        self._thread = threading.Thread(target=self._read, name=f"tierwise-xlsx-{path.name}", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            names, title, cells = sheet_cells(*self.wanted)
            self._got = (names, title, cells, error_cells(self.wanted[0], title))
        except Exception:  # noqa: BLE001 - read again (and reported) by open
            self._got = None

    def result(self) -> tuple[list[str], str, list[list[Any]], list[str]] | None:
        self._thread.join()
        return self._got


ERROR_CELL = re.compile(rb'<c\b[^>]*?\br="([A-Z]+[0-9]+)"[^>]*?\bt="e"|<c\b[^>]*?\bt="e"[^>]*?\br="([A-Z]+[0-9]+)"')


def error_cells(path: Path, sheet: str) -> list[str]:
    """References (C5, ...) of the cells of ``sheet`` whose value is an Excel error, read from the sheet's XML."""
    try:
        with zipfile.ZipFile(path) as z:
            part = sheet_part(z, sheet)
            if part is None:
                return []
            with z.open(part) as fh:
                xml = fh.read()
    except (OSError, zipfile.BadZipFile, KeyError):
        return []
    if b't="e"' not in xml:
        return []
    return [(m.group(1) or m.group(2)).decode() for m in ERROR_CELL.finditer(xml)]


def sheet_part(z: zipfile.ZipFile, sheet: str) -> str | None:
    """The zip member holding ``sheet``: xl/workbook.xml names its relationship id, the rels file its target."""
    from xml.etree import ElementTree as ET

    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
          "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
          "p": "http://schemas.openxmlformats.org/package/2006/relationships"}
    book = ET.fromstring(z.read("xl/workbook.xml"))
    rid = next((s.get(f"{{{ns['r']}}}id") for s in book.iterfind("m:sheets/m:sheet", ns) if s.get("name") == sheet),
               None)
    rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    target = next((r.get("Target") for r in rels.iterfind("p:Relationship", ns) if r.get("Id") == rid), None)
    if target is None:
        return None
    return target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
