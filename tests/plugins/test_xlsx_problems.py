"""The xlsx connector on workbooks as people have them: old .xls, HTML named .xls, sheet names
typed loosely, empty first sheets, duplicate headers, and the cell formats Chinese exports use."""
import datetime as dt
import shutil

import pytest
from openpyxl import Workbook

from tierwise.engine.fetch import fetch_rows
from tierwise.engine.plugin_api import DataError
from tierwise.plugins.connectors import CsvConnector, CsvOptions, XlsxConnector, XlsxOptions

from connector_helpers import DATA


def read(ctx, name, **options):
    return XlsxConnector().open(XlsxOptions(path=name, **options), ctx)


def error(ctx, name, **options) -> str:
    with pytest.raises(DataError) as err:
        read(ctx, name, **options)
    return str(err.value)


def test_an_old_xls_workbook_says_save_as_xlsx(ctx, tmp_path):
    shutil.copy(DATA / "old_excel.xls", tmp_path / "客户.xls")
    msg = error(ctx, "客户.xls")
    assert msg.startswith("客户.xls is an old Excel 97-2003 .xls workbook: save it as .xlsx (Excel: File > Save As")
    assert "xlrd" not in msg


def test_html_or_text_named_xls_says_what_it_is(ctx, tmp_path):
    (tmp_path / "h.xls").write_text("<html><body><table><tr><td>客户编号</td></tr></table></body></html>")
    assert "h.xls is an HTML page, not a workbook" in error(ctx, "h.xls")
    (tmp_path / "t.xls").write_text("客户编号\t金额\nK1\t5\n", encoding="utf-8")
    assert error(ctx, "t.xls") == "t.xls is not an .xlsx workbook: it looks like a text export: use csv(...)"
    (tmp_path / "u.xls").write_bytes("\ufeff客户编号\t金额\r\nK1\t5\r\n".encode("utf-16-le"))  # "Unicode text"
    assert error(ctx, "u.xls") == "u.xls is not an .xlsx workbook: it looks like a text export: use csv(...)"
    assert fetch_rows(CsvConnector().open(CsvOptions(path="u.xls"), ctx)) == [{"客户编号": "K1", "金额": "5"}]


@pytest.fixture
def workbook(tmp_path):
    wb = Workbook()
    wb.active.title = "说明"
    ws = wb.create_sheet("Sheet1")
    ws.append(["客户编号", "金额", "签约日期"])
    ws.append(["K1", 1200.0, dt.datetime(2026, 5, 1)])
    wb.create_sheet("重复").append(["客户编号", "金额", "金额"])
    wb.save(tmp_path / "w.xlsx")
    return "w.xlsx"


def test_sheet_names_match_loosely_or_get_a_did_you_mean(ctx, workbook):
    assert fetch_rows(read(ctx, workbook, sheet="sheet1"))[0]["客户编号"] == "K1"
    assert error(ctx, workbook, sheet="Sheet 1") == \
        "w.xlsx has no sheet 'Sheet 1' — did you mean 'Sheet1'? (sheets: 说明, Sheet1, 重复)"
    assert "sheet: counts from 0" in error(ctx, workbook, sheet=3)


def test_an_empty_first_sheet_lists_the_sheets(ctx, workbook):
    assert error(ctx, workbook) == ("sheet '说明' of w.xlsx is empty; the workbook's sheets: 说明, Sheet1, 重复 — "
                                    "pick one with sheet: \"...\"")


def test_duplicate_headers_are_reported(ctx, workbook):
    assert error(ctx, workbook, sheet="重复").startswith(
        "column 金额 appears twice in the header of sheet '重复' of w.xlsx (columns 2 and 3)")


def test_an_empty_header_row_points_at_header_row(ctx, tmp_path):
    wb = Workbook()
    wb.active.append([None, None])
    wb.active.append(["客户编号", "金额"])
    wb.save(tmp_path / "b.xlsx")
    assert "set header_row:" in error(ctx, "b.xlsx")
    assert read(ctx, "b.xlsx", header_row=2).columns == ("客户编号", "金额")


def test_values_right_of_the_header_are_kept_and_empty_formatted_columns_dropped(ctx, tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["客户编号", "金额"])
    ws.append(["K1", 5, None, "备注在表外"])
    ws.cell(row=1, column=8).number_format = "0.00"  # a formatted, empty column far right
    ws.cell(row=2, column=8).number_format = "0.00"
    wb.save(tmp_path / "x.xlsx")
    table = read(ctx, "x.xlsx")
    assert table.columns == ("客户编号", "金额", "column_3", "column_4")
    assert fetch_rows(table) == [{"客户编号": "K1", "金额": "5", "column_3": None, "column_4": "备注在表外"}]


def test_chinese_export_cells(ctx, tmp_path):
    """What exports put in cells, as the text the engine types: numbers stored as text keep their
    separators, date cells become ISO dates, an unformatted Excel date stays its serial number
    (the engine reads five-digit day numbers in a date column as Excel dates)."""
    wb = Workbook()
    ws = wb.active
    ws.append(["客户编号", "金额", "签约日期"])
    ws.append(["K1", "1,234.50", dt.datetime(2026, 5, 1)])
    ws.append(["K2", 1234.5, "2026/5/2"])
    ws.append(["K3", 0.15, 46143])  # 46143: 2026-05-03 as a serial number without a date format
    ws.append(["K4", "5万", "2026年5月3日"])
    ws.append(["K5", 12345678901234.0, dt.datetime(2026, 5, 4, 9, 30)])
    wb.save(tmp_path / "c.xlsx")
    got = [tuple(r.values()) for r in fetch_rows(read(ctx, "c.xlsx"))]
    assert got == [("K1", "1,234.50", "2026-05-01"), ("K2", "1234.5", "2026/5/2"), ("K3", "0.15", "46143"),
                   ("K4", "5万", "2026年5月3日"), ("K5", "12345678901234", "2026-05-04 09:30:00")]


def test_excel_error_cells_are_missing_and_reported(ctx, tmp_path):
    """calamine reads #DIV/0!, #N/A ... as empty cells: they become missing values, counted with
    their cell references, never silently."""
    wb = Workbook()
    ws = wb.active
    ws.title = "数据"
    ws.append(["客户编号", "回款率"])
    ws.append(["K1", 0.5])
    ws.append(["K2", "#DIV/0!"])
    ws.append(["K3", "#N/A"])
    for ref in ("B3", "B4"):
        ws[ref].data_type = "e"
    wb.save(tmp_path / "e.xlsx")
    assert fetch_rows(read(ctx, "e.xlsx")) == [{"客户编号": "K1", "回款率": "0.5"}, {"客户编号": "K2", "回款率": None},
                                               {"客户编号": "K3", "回款率": None}]
    [issue] = ctx.issues
    assert (issue.what, issue.count, issue.samples) == (
        "Excel error value (#DIV/0!, #N/A, ...) read as missing", 2, ["B3", "B4"])


def test_a_sheet_formatted_to_its_last_cell_reads_only_its_values(ctx, tmp_path):
    """A used range stretched to XFD1048576 by formatting (exports do this) costs nothing extra."""
    wb = Workbook()
    ws = wb.active
    ws.append(["客户编号", "金额"])
    ws.append(["K1", 5])
    ws.cell(row=1_048_576, column=16_384).number_format = "0.00"
    wb.save(tmp_path / "big.xlsx")
    assert fetch_rows(read(ctx, "big.xlsx")) == [{"客户编号": "K1", "金额": "5"}]
