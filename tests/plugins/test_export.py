"""export(path): the batch's customers into .csv (UTF-8 with BOM) or .xlsx beside the rule file; each (run, key)
once however often it is delivered; a newer run replaces the file, a late retry of an older run does not."""
from __future__ import annotations

import csv

import pytest
from action_helpers import deliver, item, record_run, store_at
from openpyxl import load_workbook

from tierwise.engine.plugin_api import DELIVERED, FAILED, PENDING


def read_csv(path):
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel opens it as UTF-8 (Chinese shows)
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def read_xlsx(path):
    wb = load_workbook(path, read_only=True)
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    wb.close()
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def test_csv_holds_each_customer_once_however_often_a_batch_is_delivered(tmp_path):
    first = [item("KH2", "D", 31.5, "tier D", previous="C"), item("KH1", "D", 20.0, "tier D")]
    log: list[str] = []
    results = deliver("export", {"path": "out/d.csv"}, first, base_dir=tmp_path, log=log)
    assert [r.status for r in results] == [DELIVERED, DELIVERED]
    assert log and "customers=2" in log[0]
    # delivered again (a retry after a crash), then the rest of the run in a second batch
    deliver("export", {"path": "out/d.csv"}, first, base_dir=tmp_path)
    deliver("export", {"path": "out/d.csv"}, [item("KH3", "D", None, "tier D", previous="D"), first[0]],
            base_dir=tmp_path)
    rows = read_csv(tmp_path / "out" / "d.csv")
    assert [(r["customer"], r["tier"], r["previous_tier"], r["score"], r["reason"], r["run"]) for r in rows] == [
        ("KH1", "D", "", "20", "tier D", "run-1"), ("KH2", "D", "C", "31.5", "tier D", "run-1"),
        ("KH3", "D", "D", "", "tier D", "run-1")]
    assert [r["idempotency_key"] for r in rows] == ["run-1:on.act:KH1", "run-1:on.act:KH2", "run-1:on.act:KH3"]
    assert not [p for p in (tmp_path / "out").iterdir() if p.name != "d.csv"]  # no temporary file left


def test_xlsx_and_chinese_keys(tmp_path):
    items = [item("客户甲", "D", 12.0, "tier D", previous="C"), item("=HYPERLINK(\"x\")", "D", 1.0, "tier D")]
    deliver("export", {"path": "d_customers.xlsx"}, items, base_dir=tmp_path)
    deliver("export", {"path": "d_customers.xlsx"}, items[:1], base_dir=tmp_path)
    rows = read_xlsx(tmp_path / "d_customers.xlsx")
    assert [(r["customer"], r["tier"], r["previous_tier"], r["score"]) for r in rows] == [
        ("=HYPERLINK(\"x\")", "D", None, 1.0), ("客户甲", "D", "C", 12.0)]  # a key is text, never a formula


def test_a_newer_run_replaces_the_file_and_a_late_retry_of_an_older_one_leaves_it(tmp_path):
    store = store_at(tmp_path)
    record_run(store, "run-1", {"K1": "D", "K2": "D"}, minutes=0)
    record_run(store, "run-2", {"K1": "D", "K3": "D"}, minutes=10)
    old = [item("K1", "D", run="run-1"), item("K2", "D", run="run-1")]
    deliver("export", {"path": "d.csv"}, old, run="run-1", base_dir=tmp_path, store=store)
    new = [item("K1", "D", run="run-2"), item("K3", "D", run="run-2")]
    deliver("export", {"path": "d.csv"}, new, run="run-2", base_dir=tmp_path, store=store)
    assert [(r["customer"], r["run"]) for r in read_csv(tmp_path / "d.csv")] == [("K1", "run-2"), ("K3", "run-2")]
    late = deliver("export", {"path": "d.csv"}, old, run="run-1", base_dir=tmp_path, store=store)
    assert {r.status for r in late} == {DELIVERED} and "newer run" in late[0].detail
    assert [(r["customer"], r["run"]) for r in read_csv(tmp_path / "d.csv")] == [("K1", "run-2"), ("K3", "run-2")]
    store.close()


def test_a_file_that_is_not_an_export_is_never_overwritten(tmp_path):
    mine = tmp_path / "客户名单.csv"
    mine.write_text("客户编号,备注\nK1,重要\n", encoding="utf-8")
    [r] = deliver("export", {"path": "客户名单.csv"}, [item("K1", "D")], base_dir=tmp_path)
    assert r.status == FAILED and "not an export of tierwise" in r.detail
    assert mine.read_text(encoding="utf-8") == "客户编号,备注\nK1,重要\n"
    (tmp_path / "x.xlsx").write_bytes(b"not a zip")
    [r] = deliver("export", {"path": "x.xlsx"}, [item("K1", "D")], base_dir=tmp_path)
    assert r.status == FAILED and "not overwritten" in r.detail


def test_a_folder_that_refuses_leaves_the_delivery_pending(tmp_path):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder should be", encoding="utf-8")
    [r] = deliver("export", {"path": "blocked/d.csv"}, [item("K1", "D")], base_dir=tmp_path)
    assert r.status == PENDING and "cannot write" in r.detail


@pytest.mark.parametrize("path", ["d.pdf", "d"])
def test_the_path_must_be_csv_or_xlsx(path, tmp_path):
    from pydantic import ValidationError

    from tierwise.plugins.export import ExportOptions

    with pytest.raises(ValidationError, match="a file ending in .csv or .xlsx"):
        ExportOptions(path=path)
