"""Built-in connectors on real files: GBK/GB18030/BOM CSV, Excel, Parquet, JSON, SQLite."""
import datetime as dt
import sqlite3

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook

from tierwise.engine.fetch import fetch_rows
from tierwise.engine.plugin_api import ConnectorContext, DataError
from tierwise.plugins.connectors import (CsvConnector, CsvOptions, JsonConnector, JsonOptions, ParquetConnector,
                                         ParquetOptions, SqlConnector, SqlOptions, XlsxConnector, XlsxOptions)


@pytest.fixture
def ctx(tmp_path):
    return ConnectorContext(con=ibis.duckdb.connect(), base_dir=tmp_path, temp_dir=tmp_path / "tmp")


def rows(table):
    return fetch_rows(table)


CHINESE = "客户编号,客户名称,年交易额\nK1,上海华东机电有限公司,500万\nK2,北京 星辰科技,\n"


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig", "utf-8"])
def test_csv_detects_the_encoding(ctx, tmp_path, encoding):
    (tmp_path / "c.csv").write_bytes(CHINESE.encode(encoding))
    table = CsvConnector().open(CsvOptions(path="c.csv"), ctx)
    assert table.columns == ("客户编号", "客户名称", "年交易额")  # no BOM in the first name
    got = rows(table)
    assert got[0] == {"客户编号": "K1", "客户名称": "上海华东机电有限公司", "年交易额": "500万"}
    assert got[1]["年交易额"] is None  # empty cell


def test_csv_explicit_encoding_and_wrong_encoding(ctx, tmp_path):
    (tmp_path / "c.csv").write_bytes(CHINESE.encode("gbk"))
    assert rows(CsvConnector().open(CsvOptions(path="c.csv", encoding="gbk"), ctx))[0]["客户编号"] == "K1"
    (tmp_path / "u.csv").write_bytes("客户编号\n\u20ac\n".encode("utf-8"))
    with pytest.raises(DataError, match="declared gbk but is UTF-8"):
        CsvConnector().open(CsvOptions(path="u.csv", encoding="gbk"), ctx)


def test_csv_tab_header_skip(ctx, tmp_path):
    (tmp_path / "t.tsv").write_text("导出于 2026-06-30\nid\tv\na\t1\n", encoding="utf-8")
    got = rows(CsvConnector().open(CsvOptions(path="t.tsv", skip_rows=1), ctx))
    assert got == [{"id": "a", "v": "1"}]
    (tmp_path / "n.csv").write_text("a;1\nb;2\n", encoding="utf-8")
    got = rows(CsvConnector().open(CsvOptions(path="n.csv", header=False, delimiter=";"), ctx))
    assert [list(r.values()) for r in got] == [["a", "1"], ["b", "2"]]


def test_csv_a_few_ragged_rows_are_skipped_and_reported(ctx, tmp_path):
    (tmp_path / "r.csv").write_text("a,b\n1,2\n3,4,5\n6,7\n", encoding="utf-8")
    table = CsvConnector().open(CsvOptions(path="r.csv"), ctx)
    assert fetch_rows(table) == [{"a": "1", "b": "2"}, {"a": "6", "b": "7"}]
    (issue,) = ctx.issues
    assert issue.count == 1 and issue.samples == ["line 3: 3 field(s), not 2"]
    assert issue.what == "line does not fit the 2 column(s) of the header (skipped)"


def test_csv_mostly_ragged_rows_fail_with_a_clear_error(ctx, tmp_path):
    (tmp_path / "r.csv").write_text("a,b\n1,2\n3,4,5\n6,7,8\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"r.csv: 2 line\(s\) do not fit .* line 3: 3 field\(s\), not 2"):
        CsvConnector().open(CsvOptions(path="r.csv"), ctx)


def test_missing_file_suggests_a_similar_name(ctx, tmp_path):
    (tmp_path / "customers.csv").write_text("a\n1\n", encoding="utf-8")
    with pytest.raises(DataError, match="did you mean 'customers.csv'"):
        CsvConnector().open(CsvOptions(path="customer.csv"), ctx)


def test_large_gbk_file_streams(ctx, tmp_path):
    n = 200_000
    lines = ["编号,金额"] + [f"客户{i},{i}" for i in range(n)]
    (tmp_path / "big.csv").write_bytes(("\n".join(lines) + "\n").encode("gbk"))
    table = CsvConnector().open(CsvOptions(path="big.csv"), ctx)
    got = rows(table.aggregate(n=table.count(), s=table["金额"].cast("int64").sum(),
                               last=table["编号"].max()))[0]
    assert got["n"] == n and got["s"] == n * (n - 1) // 2 and got["last"] == "客户99999"


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="unknown encoding"):
        CsvOptions(path="x", encoding="gbkk")
    with pytest.raises(ValueError, match="exactly one of"):
        SqlOptions(url="sqlite://", table="a", query="select 1")
    with pytest.raises(ValueError, match="exactly one of"):
        SqlOptions(url="sqlite://")


def test_xlsx_sheets_types_and_errors(ctx, tmp_path):
    wb = Workbook()
    wb.active.title = "说明"
    wb.active.append(["这是导出说明"])
    ws = wb.create_sheet("工单")
    ws.append(["工单号", "客户编号", "创建日期", "金额", "备注"])
    ws.append(["T1", "K1", dt.datetime(2026, 5, 1), 1200.0, "dup"])
    ws.append(["T2", "K2", dt.date(2026, 5, 2), "N/A", None])
    ws.append([None, None, None, None, None])
    wb.save(tmp_path / "t.xlsx")
    table = XlsxConnector().open(XlsxOptions(path="t.xlsx", sheet="工单"), ctx)
    assert table.columns == ("工单号", "客户编号", "创建日期", "金额", "备注")
    got = rows(table)
    assert got == [{"工单号": "T1", "客户编号": "K1", "创建日期": "2026-05-01", "金额": "1200", "备注": "dup"},
                   {"工单号": "T2", "客户编号": "K2", "创建日期": "2026-05-02", "金额": "N/A", "备注": None}]
    assert rows(XlsxConnector().open(XlsxOptions(path="t.xlsx", sheet=1), ctx))[0]["工单号"] == "T1"
    assert rows(XlsxConnector().open(XlsxOptions(path="t.xlsx"), ctx)) == []  # first sheet: header only
    with pytest.raises(DataError, match=r"no sheet '工单表' — did you mean '工单'\? \(sheets: 说明, 工单\)"):
        XlsxConnector().open(XlsxOptions(path="t.xlsx", sheet="工单表"), ctx)


def test_parquet_and_json(ctx, tmp_path):
    pq.write_table(pa.table({"id": ["a", "b"], "v": [1.5, None]}), tmp_path / "p.parquet")
    assert rows(ParquetConnector().open(ParquetOptions(path="p.parquet"), ctx)) == [
        {"id": "a", "v": 1.5}, {"id": "b", "v": None}]
    (tmp_path / "a.json").write_text('[{"id": "a", "v": 1}, {"id": "b", "v": 2}]', encoding="utf-8")
    (tmp_path / "l.jsonl").write_text('{"id": "a", "v": 1}\n{"id": "b", "v": 2}\n', encoding="utf-8")
    for name in ("a.json", "l.jsonl"):
        got = rows(JsonConnector().open(JsonOptions(path=name), ctx))
        assert [(r["id"], r["v"]) for r in got] == [("a", 1), ("b", 2)]


def test_sql_table_and_query(ctx, tmp_path):
    db = tmp_path / "crm.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table customers (id text, revenue real, since date)")
        conn.executemany("insert into customers values (?, ?, ?)",
                         [("K1", 5e6, "2019-01-01"), ("K2", 1e5, "2024-03-01")])
    url = f"sqlite:///{db}"
    got = rows(SqlConnector().open(SqlOptions(url=url, table="customers", batch_size=1), ctx))
    assert [(r["id"], r["revenue"]) for r in got] == [("K1", 5e6), ("K2", 1e5)]
    got = rows(SqlConnector().open(SqlOptions(url=url, query="select id from customers where revenue > 1e6"), ctx))
    assert got == [{"id": "K1"}]
    with pytest.raises(DataError, match="no table 'customer' .* did you mean 'customers'"):
        SqlConnector().open(SqlOptions(url=url, table="customer"), ctx)


def test_sql_errors_never_print_the_password(ctx):
    with pytest.raises(DataError) as err:
        SqlConnector().open(SqlOptions(url="postgresql+psycopg://u:s3cret@127.0.0.1:1/x", table="t"), ctx)
    assert "s3cret" not in str(err.value) and "***" in str(err.value)
