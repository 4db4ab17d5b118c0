"""The shipped relationship rating and the demo data it is ready for."""
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from tierwise.cli.main import cli
from tierwise.rulesets.demo_data import write_demo_data

RULESET = Path(__file__).resolve().parents[2] / "rulesets" / "relationship_rating.tier"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    d = tmp_path_factory.mktemp("demo")
    return d, write_demo_data(d, customers=400, seed=5)


def test_demo_files_are_what_users_have(demo):
    d, paths = demo
    assert [p.name for p in paths] == ["客户档案.csv", "orders.parquet", "服务工单.xlsx", "relationship_rating.tier"]
    raw = (d / "客户档案.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # really a GBK export
    lines = raw.decode("gbk").splitlines()
    assert lines[0].startswith("客户编号,客户名称,行业") and len(lines) == 401
    keys = {line.split(",")[0] for line in lines[1:]}
    orders = pq.read_table(d / "orders.parquet")
    assert set(orders["客户编号"].to_pylist()) <= keys and orders.num_rows > 400 * 3
    wb = load_workbook(d / "服务工单.xlsx", read_only=True)
    assert wb.sheetnames == ["工单"]
    assert next(wb["工单"].iter_rows(values_only=True)) == ("工单号", "客户编号", "创建日期", "类型", "重大")


def test_demo_data_is_deterministic(tmp_path):
    a = write_demo_data(tmp_path / "a", customers=50, seed=11)
    b = write_demo_data(tmp_path / "b", customers=50, seed=11)
    assert a[0].read_bytes() == b[0].read_bytes()
    assert pq.read_table(a[1]).equals(pq.read_table(b[1]))


def test_shipped_ruleset_checks_and_its_examples_pass():
    res = CliRunner().invoke(cli, ["test", str(RULESET)])
    assert res.exit_code == 0, res.stdout
    assert "2 passed, 0 failed" in res.stdout


def test_demo_data_rates_end_to_end(demo, tmp_path):
    d, _ = demo
    out = tmp_path / "ratings.csv"
    res = CliRunner().invoke(cli, ["run", str(d / "relationship_rating.tier"), "--as-of", "2026-06-30",
                                   "--out", str(out)])
    assert res.exit_code == 0, res.stderr
    import csv

    with open(out, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 400 and {r["tier"] for r in rows} <= {"A", "B", "C", "D"}
    assert len({r["客户编号"] for r in rows}) == 400
    dirty = (d / "客户档案.csv").read_bytes().decode("gbk").count(",待定")  # text in a number column
    assert dirty > 0
    assert f"{dirty} row(s): not a number (treated as missing) in customers.新产品采购意向" in res.stderr
    log = out.with_suffix(".log").read_text(encoding="utf-8")
    a_count = sum(r["tier"] == "A" for r in rows)
    assert log.count("message='核心客户") == a_count


def test_demo_command(tmp_path):
    res = CliRunner().invoke(cli, ["demo", str(tmp_path / "d"), "--customers", "300"])
    assert res.exit_code == 0, res.stdout + res.stderr
    assert "2 passed, 0 failed" in res.stdout and "核心客户" in res.stdout
    assert (tmp_path / "d" / "ratings.xlsx").exists()
    assert "tierwise explain" in res.stdout
