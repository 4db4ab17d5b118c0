"""The json and parquet connectors on mixed value types, nested objects, empty files and globs
over files whose schemas differ."""
import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tierwise.engine.fetch import fetch_rows
from tierwise.engine.plugin_api import DataError
from tierwise.plugins.connectors import JsonConnector, JsonOptions, ParquetConnector, ParquetOptions

from connector_helpers import rule_file, run_rules


def read_json(ctx, name, **options):
    return JsonConnector().open(JsonOptions(path=name, **options), ctx)


def json_error(ctx, name) -> str:
    with pytest.raises(DataError) as err:
        read_json(ctx, name)
    return str(err.value)


def test_mixed_json_values_come_through_as_plain_text(ctx, tmp_path):
    (tmp_path / "m.jsonl").write_text('{"客户编号": "K1", "金额": 5}\n{"客户编号": 1002, "金额": "12%"}\n'
                                      '{"客户编号": "K3", "金额": null}\n', encoding="utf-8")
    table = read_json(ctx, "m.jsonl")
    assert [t.is_string() for t in table.schema().types] == [True, True]
    assert [tuple(r.values()) for r in fetch_rows(table)] == [("K1", "5"), ("1002", "12%"), ("K3", None)]


def test_a_type_change_after_the_sampled_rows_is_read_too(ctx, tmp_path):
    lines = [f'{{"id": "K{i}", "v": {i}}}' for i in range(25_000)] + ['{"id": "Kx", "v": "12%"}']
    (tmp_path / "big.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    table = read_json(ctx, "big.jsonl")
    assert fetch_rows(table.aggregate(n=table.count()))[0]["n"] == 25_001
    assert fetch_rows(table.filter(table.id == "Kx")) == [{"id": "Kx", "v": "12%"}]


def test_mixed_json_amounts_are_typed_and_counted_by_the_engine(tmp_path):
    (tmp_path / "c.jsonl").write_text('{"客户编号": "K1", "金额": 5}\n{"客户编号": 1002, "金额": "12%"}\n'
                                      '{"客户编号": "K3", "金额": "abc"}\n', encoding="utf-8")
    result = run_rules(rule_file(tmp_path, 'source c = json("c.jsonl") key 客户编号', "c.金额"))
    assert result.exit_code == 0, result.output
    assert "1 row(s): not a number (treated as missing) in c.金额 — e.g. K3: 'abc'" in result.stderr


def test_nested_objects_become_dotted_columns_and_arrays_json_text(ctx, tmp_path):
    (tmp_path / "n.json").write_text(
        '[{"客户编号": "K1", "地址": {"省": "广东", "坐标": {"x": 1.5}}, "标签": ["大客户", "华南"]},'
        ' {"客户编号": "K2", "地址": {"省": "北京", "坐标": {"x": 2}}, "标签": []}]', encoding="utf-8")
    table = read_json(ctx, "n.json")
    assert table.columns == ("客户编号", "地址.省", "地址.坐标.x", "标签")
    assert fetch_rows(table)[0] == {"客户编号": "K1", "地址.省": "广东", "地址.坐标.x": 1.5, "标签": '["大客户","华南"]'}


def test_a_nested_field_is_used_with_backticks_in_a_rule(tmp_path):
    (tmp_path / "c.jsonl").write_text('{"客户编号": "K1", "地址": {"省": "广东"}}\n'
                                      '{"客户编号": "K2", "地址": {"省": "北京"}}\n', encoding="utf-8")
    rules = tmp_path / "r.tier"
    rules.write_text('ruleset "t" version "1"\nsource c = json("c.jsonl") key 客户编号\n'
                     'indicator 区域 = c.`地址.省` weight 100% {\n  == "广东" -> 10\n  else -> 1\n}\n'
                     "tier A when score >= 5\ntier B otherwise\n", encoding="utf-8")
    result = run_rules(rules, "--out", str(tmp_path / "out.csv"))
    assert result.exit_code == 0, result.output
    out = (tmp_path / "out.csv").read_text(encoding="utf-8-sig")
    assert '"K1",10,"A","广东"' in out and '"K2",1,"B","北京"' in out
    rules.write_text(rules.read_text(encoding="utf-8").replace("c.`地址.省`", "c.地址"), encoding="utf-8")
    result = run_rules(rules)
    assert result.exit_code == 1 and "no column '地址' — did you mean '地址.省'?" in result.output


def test_empty_and_non_record_json_say_so(ctx, tmp_path):
    (tmp_path / "e.json").write_text("[]", encoding="utf-8")
    assert json_error(ctx, "e.json") == "e.json has no rows (an empty array)"
    (tmp_path / "e.jsonl").write_text("\n", encoding="utf-8")
    assert json_error(ctx, "e.jsonl") == "e.jsonl is empty"
    (tmp_path / "s.json").write_text("[1, 2]", encoding="utf-8")
    assert "holds plain values, not records" in json_error(ctx, "s.json")
    (tmp_path / "o.json").write_text('{"data": [{"id": "K1"}], "total": 1}', encoding="utf-8")
    assert "is one object whose records are in its field 'data'" in json_error(ctx, "o.json")
    (tmp_path / "b.json").write_text('[{"id": "K1"}, {"id": ', encoding="utf-8")
    msg = json_error(ctx, "b.json")
    assert msg.startswith("b.json: cannot read as JSON: Malformed JSON") and str(tmp_path) not in msg


@pytest.mark.parametrize("codec", ["utf-8-sig", "utf-16", "gb18030"])
def test_json_in_the_encodings_windows_tools_write(ctx, tmp_path, codec):
    (tmp_path / "w.json").write_bytes('[{"客户编号": "K1", "名称": "华东机电"}]'.encode(codec))
    assert fetch_rows(read_json(ctx, "w.json")) == [{"客户编号": "K1", "名称": "华东机电"}]


def test_a_parquet_glob_skips_folders(ctx, tmp_path):
    (tmp_path / "o" / "old.parquet").mkdir(parents=True)
    with pytest.raises(DataError, match="only folders"):
        ParquetConnector().open(ParquetOptions(path="o/*.parquet"), ctx)


def write_parquet(path, **columns):
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)


def test_a_parquet_glob_over_different_schemas_reads_by_name(ctx, tmp_path):
    write_parquet(tmp_path / "o/2024.parquet", 客户编号=["K1"], 金额=[1.5], 下单日期=[dt.date(2024, 1, 1)])
    write_parquet(tmp_path / "o/2025.parquet", 客户编号=["K2"], 金额=["1,200"], 下单日期=["2025/1/2"], 折扣=[0.1])
    write_parquet(tmp_path / "o/2026.parquet", 客户编号=["K3"], 金额=[7], 下单日期=[dt.date(2026, 1, 3)])
    table = ParquetConnector().open(ParquetOptions(path="o/*.parquet"), ctx)
    assert set(table.columns) == {"客户编号", "金额", "下单日期", "折扣"}
    got = {r["客户编号"]: r for r in fetch_rows(table)}
    assert got["K1"]["金额"] == "1.5" and got["K2"]["金额"] == "1,200" and got["K3"]["金额"] == "7"
    assert got["K1"]["下单日期"] == "2024-01-01" and got["K2"]["下单日期"] == "2025/1/2"
    assert got["K2"]["折扣"] == 0.1 and got["K1"]["折扣"] is None


def test_a_parquet_glob_of_numbers_stays_numeric_and_nested_columns_flatten(ctx, tmp_path):
    write_parquet(tmp_path / "p/a.parquet", k=["a"], v=[1], addr=[{"省": "广东"}])
    write_parquet(tmp_path / "p/b.parquet", k=["b"], v=[2.5], addr=[{"省": "北京"}])
    table = ParquetConnector().open(ParquetOptions(path="p/*.parquet"), ctx)
    assert table.schema()["v"].is_floating() and table.columns == ("k", "v", "addr.省")
    assert sorted(r["addr.省"] for r in fetch_rows(table)) == ["北京", "广东"]


def test_a_mixed_parquet_glob_scores_in_a_run(tmp_path):
    write_parquet(tmp_path / "o/1.parquet", 客户编号=["K1", "K2"], 金额=[5.0, 0.5])
    write_parquet(tmp_path / "o/2.parquet", 客户编号=["K3"], 金额=["abc"])
    result = run_rules(rule_file(tmp_path, 'source c = parquet("o/*.parquet") key 客户编号', "c.金额"))
    assert result.exit_code == 0, result.output
    assert "1 row(s): not a number (treated as missing) in c.金额 — e.g. K3: 'abc'" in result.stderr


def test_parquet_globs_and_files_that_are_not_parquet(ctx, tmp_path):
    with pytest.raises(DataError, match=r"no file matches .*none\*\.parquet"):
        ParquetConnector().open(ParquetOptions(path="none*.parquet"), ctx)
    (tmp_path / "x.parquet").write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(DataError, match="x.parquet is not a Parquet file"):
        ParquetConnector().open(ParquetOptions(path="x.parquet"), ctx)
