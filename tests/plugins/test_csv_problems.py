"""The csv connector on the files exports really produce: UTF-16 "Unicode text", wrong encodings,
ragged lines, duplicate headers, title lines, empty files, Excel files named .csv."""
import pytest
from openpyxl import Workbook

from tierwise.engine.fetch import fetch_rows
from tierwise.engine.plugin_api import DataError
from tierwise.plugins.connectors import CsvConnector, CsvOptions

from connector_helpers import DATA, rule_file, run_rules


def read(ctx, name, **options):
    return CsvConnector().open(CsvOptions(path=name, **options), ctx)


def error(ctx, name, **options) -> str:
    with pytest.raises(DataError) as err:
        read(ctx, name, **options)
    message = str(err.value)
    assert "\n" not in message and "tierwise_" not in message and "/tmp" not in message
    return message


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_excel_unicode_text_utf16_with_bom_is_detected_and_tab_separated(ctx, tmp_path, codec):
    bom = {"utf-16": b"", "utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}[codec]
    (tmp_path / "u.txt").write_bytes(bom + "客户编号\t金额\r\nK1\t1,234\r\nK2\t5万\r\n".encode(codec))
    table = read(ctx, "u.txt")
    assert table.columns == ("客户编号", "金额")
    assert fetch_rows(table) == [{"客户编号": "K1", "金额": "1,234"}, {"客户编号": "K2", "金额": "5万"}]


def test_a_gbk_file_declared_utf8_names_the_cause_and_suggests_another_encoding(ctx, tmp_path):
    (tmp_path / "g.csv").write_bytes("客户编号,名称\nK1,上海\n".encode("gbk"))
    msg = error(ctx, "g.csv", encoding="utf-8")
    assert msg.startswith("g.csv is not valid utf-8 (line 1")
    assert 'encoding: "gb18030"' in msg and 'encoding: "utf-8"' not in msg


def test_a_utf8_file_declared_gbk_is_not_garbled(ctx, tmp_path):
    (tmp_path / "u.csv").write_text("客户编号,名称\nK1,上海\n", encoding="utf-8")
    msg = error(ctx, "u.csv", encoding="gbk")
    assert "is UTF-8" in msg and 'encoding: "utf-8"' in msg and 'encoding: "gbk"' not in msg
    (tmp_path / "e.csv").write_text("客户编号\n\u20ac\n", encoding="utf-8")
    msg = error(ctx, "e.csv", encoding="gb18030")
    assert 'encoding: "utf-8"' in msg and '"gb18030"' not in msg


def test_ragged_lines_are_counted_with_line_numbers_and_cause(ctx, tmp_path):
    (tmp_path / "r.csv").write_text("a,b\n1,2\n3,4,5\n6\n7,8\n9,10,11\n12,13,14\n", encoding="utf-8")
    msg = error(ctx, "r.csv")
    assert msg.startswith("r.csv: 4 line(s) do not fit the 2 column(s) of the header (nothing was read)")
    assert "line 3: 3 field(s), not 2; line 4: 1 field(s), not 2; line 6: 3 field(s), not 2; … 1 more" in msg
    assert "double quotes" in msg


def test_a_ragged_gbk_file_shows_its_own_name_not_the_transcoded_copy(ctx, tmp_path):
    (tmp_path / "客户.csv").write_bytes("客户编号,金额\nK1,1\nK2,2,3\nK3,4,5\n".encode("gbk"))
    msg = error(ctx, "客户.csv")
    assert msg.startswith("客户.csv: 2 line(s)") and "line 3: 3 field(s), not 2" in msg


def test_an_unclosed_quote_is_reported_with_its_line(ctx, tmp_path):
    (tmp_path / "q.csv").write_text('a,b\n1,"unterminated\n2,3\n', encoding="utf-8")
    assert "line 2: a quote is not closed" in error(ctx, "q.csv")


def test_a_title_line_above_the_header_suggests_skip_rows(ctx, tmp_path):
    (tmp_path / "t.csv").write_text("客户清单导出 2026-06-30\n客户编号,金额,日期\nK1,5,x\nK2,6,y\n", encoding="utf-8")
    assert "add skip_rows: 1" in error(ctx, "t.csv")
    assert fetch_rows(read(ctx, "t.csv", skip_rows=1))[0] == {"客户编号": "K1", "金额": "5", "日期": "x"}


@pytest.mark.parametrize("sep", ["\t", ";", "|"])
def test_the_delimiter_comes_from_the_header_line(ctx, tmp_path, sep):
    (tmp_path / "s.csv").write_text(f"客户编号{sep}金额\nK1{sep}1,5\n", encoding="utf-8")
    assert fetch_rows(read(ctx, "s.csv")) == [{"客户编号": "K1", "金额": "1,5"}]


def test_a_wrong_explicit_delimiter_is_named(ctx, tmp_path):
    (tmp_path / "s.csv").write_text("客户编号;金额\nK1;5\n", encoding="utf-8")
    assert "is the delimiter ';'? set delimiter: ';'" in error(ctx, "s.csv", delimiter=",")


def test_duplicate_column_names_are_reported_not_renamed(ctx, tmp_path):
    (tmp_path / "d.csv").write_text("客户编号,金额,金额,备注\nK1,1,2,x\n", encoding="utf-8")
    assert error(ctx, "d.csv").startswith("column 金额 appears twice in the header of d.csv (columns 2 and 3)")


def test_empty_files_say_so_and_a_header_only_file_has_zero_rows(ctx, tmp_path):
    (tmp_path / "e.csv").write_bytes(b"")
    assert error(ctx, "e.csv") == "e.csv is empty"
    (tmp_path / "b.csv").write_bytes(b"\xef\xbb\xbf\r\n")
    assert error(ctx, "b.csv") == "b.csv is empty"
    (tmp_path / "h.csv").write_text("客户编号,金额\n", encoding="gbk")
    table = read(ctx, "h.csv")
    assert table.columns == ("客户编号", "金额") and fetch_rows(table) == []
    assert "nothing after the 3 line(s)" in error(ctx, "h.csv", skip_rows=3)


def test_excel_and_html_files_given_to_csv_say_what_they_are(ctx, tmp_path):
    wb = Workbook()
    wb.active.append(["客户编号"])
    wb.save(tmp_path / "x.csv")
    assert error(ctx, "x.csv") == "x.csv is not a CSV file: it is an Excel workbook: use xlsx(...)"
    (tmp_path / "old.csv").write_bytes((DATA / "old_excel.xls").read_bytes())
    assert "save it as .xlsx (Excel: File > Save As)" in error(ctx, "old.csv")
    (tmp_path / "h.csv").write_text("<html><table><tr><td>客户编号</td></tr></table></html>", encoding="utf-8")
    assert "is an HTML page" in error(ctx, "h.csv")


def test_header_names_are_trimmed_and_blank_ones_numbered(ctx, tmp_path):
    (tmp_path / "n.csv").write_text("\ufeff 客户编号 ,,金额\nK1,x,5\n", encoding="utf-8")
    assert read(ctx, "n.csv").columns == ("客户编号", "column_2", "金额")


def test_a_ragged_file_ends_the_run_with_one_line_not_a_traceback(tmp_path):
    (tmp_path / "c.csv").write_bytes("客户编号,金额\nK1,5\nK2,6,7\nK3,8,9\n".encode("gbk"))
    result = run_rules(rule_file(tmp_path, 'source c = csv("c.csv") key 客户编号', "c.金额"))
    assert result.exit_code == 1
    assert "c.csv: 2 line(s) do not fit the 2 column(s) of the header" in result.output
    assert "Traceback" not in result.output


def test_a_few_ragged_lines_are_skipped_and_reported_by_the_run(tmp_path):
    (tmp_path / "c.csv").write_bytes("客户编号,金额\nK1,5\nK2,6,7\nK3,8\n".encode("gbk"))
    result = run_rules(rule_file(tmp_path, 'source c = csv("c.csv") key 客户编号', "c.金额"))
    assert result.exit_code == 0, result.output
    assert "1 row(s): line does not fit the 2 column(s) of the header (skipped) in c" in result.output
    assert "line 3: 3 field(s), not 2" in result.output and "2 customers" in result.output


def test_an_unused_repeated_column_is_renamed_and_reported_a_used_one_is_an_error(tmp_path):
    (tmp_path / "c.csv").write_bytes("客户编号,金额,备注,备注\nK1,5,a,b\n".encode("gbk"))
    result = run_rules(rule_file(tmp_path, 'source c = csv("c.csv") key 客户编号', "c.金额"))
    assert result.exit_code == 0, result.output
    assert "column name repeated in the header of c.csv" in result.output
    used = tmp_path / "used.tier"
    used.write_text('source c = csv("c.csv") key 客户编号\nindicator 分 = c.金额 weight 100%\n'
                    'label L when c.备注 == "a"\n', encoding="utf-8")
    result = run_rules(used)
    assert result.exit_code == 1 and "column 备注 appears twice" in result.output
