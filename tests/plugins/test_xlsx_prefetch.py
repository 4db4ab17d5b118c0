"""A workbook is read ahead (Connector.prefetch): the engine starts every connector's read before it
connects, the xlsx connector parses the sheet in a thread, and ``open`` takes those cells — the same
table, the same reported error cells — or, when the read ahead failed or was of another file, reads
again and reports what is wrong exactly as without it."""
import datetime as dt
import threading

import ibis
import pytest
from openpyxl import Workbook

import tierwise.plugins.connectors_xlsx as X
from tierwise.engine.build import compile_text
from tierwise.engine.plugin_api import Connector, DataError
from tierwise.engine.plugin_manager import default_registry
from tierwise.engine.run import open_step, rate_customers
from tierwise.engine.sources import open_sources, openings, prefetch

RULES = '''source w = xlsx("w.xlsx", sheet: "数据") key id
points 0..10
score 0..100
indicator 金额 = w.金额 weight 100% {
  >= 5 -> 10
  else -> 1
}
tier A when score >= 50
tier B otherwise
'''


@pytest.fixture
def workbook(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.title = "数据"
    ws.append(["id", "金额", "日期"])
    ws.append(["K1", 7.0, dt.datetime(2026, 6, 20)])
    ws.append(["K2", "#DIV/0!", None])  # openpyxl writes an error value (t="e") for it
    ws.append(["K3", 2.0, None])
    wb.save(tmp_path / "w.xlsx")
    plan, diags, _ = compile_text(RULES, str(tmp_path / "r.tier"), default_registry())
    assert plan is not None, diags.format()
    return plan, tmp_path


def rows_of(plan, d):
    opened = open_step(plan, default_registry(), d)
    try:
        t = opened.tables["w"]
        names, rows = opened.backend.fetch_tuples(t.select("id", "金额").order_by("id"))
        return rows, [(i.what, i.where, i.count, i.samples) for i in opened.issues]
    finally:
        opened.backend.close()


def test_open_takes_the_cells_read_ahead_in_a_thread(workbook, monkeypatch):
    plan, d = workbook
    real = X.sheet_cells
    reads: list[str] = []

    def recording(path, sheet):
        reads.append(threading.current_thread().name)
        return real(path, sheet)

    monkeypatch.setattr(X, "sheet_cells", recording)
    ahead, issues = rows_of(plan, d)
    assert reads == ["tierwise-xlsx-w.xlsx"]  # once, in the thread: open did not read the workbook again
    monkeypatch.setattr(X.XlsxConnector, "prefetch", Connector.prefetch)
    reads.clear()
    assert rows_of(plan, d) == (ahead, issues)  # without reading ahead: the same rows, the same report
    assert reads == ["MainThread"]
    assert ahead == [("K1", 7.0), ("K2", None), ("K3", 2.0)]
    assert issues == [("Excel error value (#DIV/0!, #N/A, ...) read as missing", "w.sheet 数据", 1, ["B3"])]


def test_a_failed_read_ahead_is_read_again_and_reported_as_without_it(workbook):
    plan, d = workbook
    messages = []
    for read_ahead in (True, False):
        opening = openings(plan, default_registry())
        opening[0].options = opening[0].options.model_copy(update={"sheet": "工单"})  # the workbook has 数据
        if read_ahead:
            prefetch(opening, d)
            assert opening[0].ahead.result() is None  # left for open to find and say
        with pytest.raises(DataError) as err:
            open_sources(plan, default_registry(), ibis.duckdb.connect(), d, d, opening=opening)
        messages.append(str(err.value))
    assert messages[0] == messages[1] == "w.xlsx has no sheet '工单' (sheets: 数据)"


def test_a_read_ahead_of_another_file_is_not_used(workbook, tmp_path):
    plan, d = workbook
    other = d / "other.xlsx"
    wb = Workbook()
    wb.active.title = "数据"
    wb.active.append(["id", "金额"])
    wb.active.append(["Z9", 1.0])
    wb.save(other)
    elsewhere = prefetch(openings(plan, default_registry(), {"w": str(other)}), d)
    here = openings(plan, default_registry())
    here[0].ahead = elsewhere[0].ahead
    tables = open_sources(plan, default_registry(), ibis.duckdb.connect(), d, d, opening=here)
    assert sorted(tables["w"].select("id").to_pyarrow().column("id").to_pylist()) == ["K1", "K2", "K3"]


def test_the_engine_starts_each_connectors_read_before_it_connects(workbook, monkeypatch):
    """open_step asks every connector to read ahead before the backend connects, and hands each
    ``open`` what its ``prefetch`` returned."""
    import tierwise.engine.run as run

    plan, d = workbook
    events: list[str] = []
    real_prefetch, real_open, real_connect = X.XlsxConnector.prefetch, X.XlsxConnector.open, run.open_backend

    def prefetching(self, options, base_dir):
        events.append("prefetch")
        return real_prefetch(self, options, base_dir)

    def opening(self, options, ctx):
        events.append(f"open {type(ctx.ahead).__name__}")
        return real_open(self, options, ctx)

    def connecting(backend):
        events.append("connect")
        return real_connect(backend)

    monkeypatch.setattr(X.XlsxConnector, "prefetch", prefetching)
    monkeypatch.setattr(X.XlsxConnector, "open", opening)
    monkeypatch.setattr(run, "open_backend", connecting)
    rated = rate_customers(plan, default_registry(), d, dt.date(2026, 6, 30), ["K1"])
    assert events == ["prefetch", "connect", "open SheetRead"]
    assert rated.rows["K1"]["score"] == 100.0
