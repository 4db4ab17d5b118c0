"""The HTML report: `tierwise run --report` and `tierwise report RUN`, opened in headless Chromium offline.

Chromium (Debian's `chromium`) is installed by .ci/run, which sets TIERWISE_REQUIRE_CHROMIUM=1: there a
missing browser fails the test instead of skipping it.
"""
from __future__ import annotations

import os
import re

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from tierwise.cli.main import cli

from chromium import chromium_binary, open_page

RULES = """\
ruleset "客户报告" version "1"
source customers = csv("c.csv") key 客户编号
source orders = csv("o.csv") key 客户编号
points 1..10
score 0..100
missing -> points 1
dimension 交易价值 weight 60% {
  indicator 年交易额 = customers.年交易额 weight 50% {
    >= 100 -> 10
    >= 50 -> 6
    else -> 2
  }
  indicator 订单金额 = sum(orders.金额) weight 50% scale minmax
}
dimension 合作 weight 40% {
  indicator 回款率 = customers.回款率 weight 100% {
    >= 90% -> 10
    >= 60% -> 6
    else -> 1
  }
}
tier A "核心客户" when score >= 80 expect 10%..20%
tier B "重要客户" when score >= 50 expect 30%..50%
tier C "基础客户" otherwise
segment 价值分群 {
  大客户 when 年交易额 >= 10
  普通客户 otherwise
}
"""

N = 40


def customers(moved: set[int] = frozenset()) -> str:
    lines = ["客户编号,年交易额,回款率"]
    for i in range(N):
        revenue = (i * 37) % 160
        rate = "" if i % 9 == 4 else f"{(i * 13) % 100 / 100:.2f}"
        if i in moved:
            revenue, rate = (150, "0.95") if revenue < 100 else (10, "0.10")
        lines.append(f"K{i:03d},{'abc' if i == 7 else revenue},{rate}")
    lines += ["K005,20,0.5", ",30,0.7"]  # a duplicate key and a blank one
    lines.append('"<script>alert(1)</script>",x,0.5')  # markup in a key is shown as text, never run
    return "\n".join(lines) + "\n"


ORDERS = "客户编号,金额\n" + "".join(f"K{i:03d},{(i * 53) % 900}\n" for i in range(0, N, 2)) + "X999,10\nX998,5\n"


@pytest.fixture
def project(tmp_path):
    (tmp_path / "r.tier").write_text(RULES, encoding="utf-8")
    (tmp_path / "c.csv").write_text(customers(), encoding="utf-8")
    (tmp_path / "o.csv").write_text(ORDERS, encoding="utf-8")
    return tmp_path


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def two_runs(project):
    """A first run, then a second with three customers' revenue changed; each writes its report."""
    db = f"sqlite:///{project / 'tierwise.db'}"
    first = invoke("run", project / "r.tier", "--as-of", "2026-03-31", "--db", db, "--report", project / "first.html")
    assert first.exit_code == 0, first.output
    (project / "c.csv").write_text(customers(moved={1, 2, 3}), encoding="utf-8")
    second = invoke("run", project / "r.tier", "--as-of", "2026-06-30", "--db", db, "--report", project / "report.html")
    assert second.exit_code == 0, second.output
    return db


def moved_in_store(db: str) -> set[str]:
    """The customers whose final tier differs between the two runs, as the store has them."""
    import sqlalchemy as sa

    engine = sa.create_engine(db)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT a.customer FROM rating a JOIN rating b ON a.customer = b.customer "
                                    "AND a.run_id < b.run_id WHERE a.final_tier IS NOT b.final_tier")).all()
    engine.dispose()
    return {r[0] for r in rows}


def chromium_or_skip() -> str:
    binary = chromium_binary()
    if binary is None:
        if os.environ.get("TIERWISE_REQUIRE_CHROMIUM"):
            pytest.fail("Chromium is required here (TIERWISE_REQUIRE_CHROMIUM): apt-get install chromium")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return binary


PROBE = """({
  sections: [...document.querySelectorAll('main > section')].map(s => s.id),
  charts: [...document.querySelectorAll('.chart')].map(c => ({
    section: c.closest('section').id,
    svgs: c.querySelectorAll('svg').length,
    marks: c.querySelectorAll('svg .mark').length,
    width: c.querySelector('svg') ? c.querySelector('svg').getBoundingClientRect().width : 0,
    height: c.querySelector('svg') ? c.querySelector('svg').getBoundingClientRect().height : 0})),
  font: getComputedStyle(document.body).fontFamily,
  movers: [...document.querySelectorAll('#history table tr')].slice(1).map(r => r.cells[0].textContent),
  outOfBand: document.querySelector('#tiers').textContent.includes('out of band')
})"""


def test_the_report_opens_offline_in_chromium_with_every_chart_drawn(project, tmp_path):
    binary = chromium_or_skip()
    db = two_runs(project)
    report = project / "report.html"
    visit = open_page(binary, report, PROBE)
    shot = tmp_path / "report.png"
    shot.write_bytes(visit.screenshot)
    (tmp_path / "report.pdf").write_bytes(visit.pdf)
    print(f"\nscreenshot of the report: {shot}\nprinted: {tmp_path / 'report.pdf'}")
    assert visit.requests == [report.resolve().as_uri()]  # the page itself, nothing else
    assert visit.errors == []
    assert [c for c in visit.console if c[0] in ("error", "warning", "assert")] == []
    got = visit.evaluated
    assert got["sections"] == ["tiers", "scores", "dimensions", "segments", "quality", "history"]
    per_section = {}
    for chart in got["charts"]:
        assert chart["svgs"] == 1 and chart["marks"] > 0, chart
        assert chart["width"] > 100 and chart["height"] > 20, chart  # laid out, not collapsed
        per_section[chart["section"]] = per_section.get(chart["section"], 0) + 1
    # tiers, scores, two dimensions, one segment, missing values, the migration matrix
    assert per_section == {"tiers": 1, "scores": 1, "dimensions": 2, "segments": 1, "quality": 1, "history": 1}
    assert "Noto Sans CJK SC" in got["font"] and "Microsoft YaHei" in got["font"]
    assert set(got["movers"]) == moved_in_store(db) and {"K001", "K002"} <= set(got["movers"])
    assert visit.screenshot[:8] == b"\x89PNG\r\n\x1a\n" and len(visit.screenshot) > 20_000
    assert visit.pdf[:5] == b"%PDF-"


def test_the_page_check_catches_requests_console_errors_and_failed_loads(tmp_path):
    binary = chromium_or_skip()
    page = tmp_path / "bad.html"
    page.write_text('<html><body><img src="http://127.0.0.1:9/x.png"><script>console.error("boom")</script>'
                    '</body></html>', encoding="utf-8")
    visit = open_page(binary, page)
    assert "http://127.0.0.1:9/x.png" in visit.requests
    assert ("error", "boom") in visit.console
    assert any("ERR_INTERNET_DISCONNECTED" in e for e in visit.errors)


def test_the_report_of_a_stored_run_is_the_report_the_run_wrote(project):
    db = two_runs(project)
    for ref, written in (("", "report.html"), ("first", "first.html")):
        args = ["report", "--db", db, "--out", project / f"again-{written}"]
        if ref:
            from tierwise.engine.store import Store

            store = Store.open(db)
            args.insert(1, store.runs()[-1].id[:8])
            store.close()
        res = invoke(*args)
        assert res.exit_code == 0, res.output
        assert (project / f"again-{written}").read_text(encoding="utf-8") == \
            (project / written).read_text(encoding="utf-8")
    assert "nothing to compare with" in (project / "first.html").read_text(encoding="utf-8")


def test_the_report_is_one_file_that_fetches_nothing(project):
    two_runs(project)
    html = (project / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"<script|<link|<img|<iframe|<object|\bsrc=|url\(|@import", html, re.I)
    assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', html))
    assert "@media print" in html and '<meta charset="utf-8">' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;: &#x27;x&#x27;" in html  # a bad cell's sample row, escaped


def test_the_report_shows_the_data_problems_with_sample_rows(project):
    two_runs(project)
    html = (project / "report.html").read_text(encoding="utf-8")
    quality = html[html.index('id="quality"'):html.index('id="history"')]
    assert "not a number (treated as missing)" in quality and "K007: &#x27;abc&#x27;" in quality
    assert "duplicate key (first row used)" in quality and "K005 ×2" in quality
    assert "missing key (row skipped)" in quality
    assert "matches no customer" in quality and "X998" in quality and "X999" in quality
    assert "回款率" in quality and "scored 1" in quality  # missing values and how they were scored
    tiers = html[html.index('id="tiers"'):html.index('id="scores"')]
    assert "out of band" in tiers
    scores = html[html.index('id="scores"'):html.index('id="dimensions"')]
    assert all(f"{t} &gt;= {c}" in scores for t, c in (("A", 80), ("B", 50)))  # the cuts drawn


def test_a_narrow_output_still_gets_the_whole_report(project):
    out = project / "ratings.parquet"
    res = invoke("run", project / "r.tier", "--as-of", "2026-06-30", "--no-store", "--columns", "score,tier",
                 "--out", out, "--report", project / "narrow.html")
    assert res.exit_code == 0, res.output
    assert pq.read_schema(out).names == ["客户编号", "score", "tier"]
    html = (project / "narrow.html").read_text(encoding="utf-8")
    assert html.count('class="chart"') == 6  # tiers, scores, two dimensions, one segment, missing values
    assert "not recorded in a rating store" in html


def test_report_usage_errors(project):
    res = invoke("run", project / "r.tier", "--no-store", "--report", project / "report.txt")
    assert res.exit_code == 2 and "must end in .html" in res.output
    res = invoke("run", project / "r.tier", "--no-store", "--report", project / "r.tier")
    assert res.exit_code == 2
    res = invoke("report", "--db", f"sqlite:///{project / 'none.db'}", "--out", project / "x.html")
    assert res.exit_code == 1 and "no rating store" in res.output
    db = two_runs(project)
    res = invoke("report", "nosuchrun", "--db", db, "--out", project / "x.html")
    assert res.exit_code == 1 and "no run 'nosuchrun'" in res.output
    assert not (project / "x.html").exists()


def test_the_report_of_a_run_on_postgresql_is_the_report_of_the_run_on_duckdb(project, postgres_url):
    """The histograms and segment counts are queries over the result on the run's backend: on PostgreSQL
    they give the same report (less the run's id in the header), duplicate and blank keys included (they
    once failed the run on PostgreSQL: a filter on a window made SQL naming a table out of scope)."""
    rows = [line for line in customers().splitlines() if "script" not in line]
    (project / "c.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    pages = {}
    for name, backend in (("duckdb", "duckdb"), ("pg", postgres_url.replace("postgresql+psycopg://", "postgresql://"))):
        res = invoke("run", project / "r.tier", "--as-of", "2026-06-30", "--no-store", "--backend", backend,
                     "--report", project / f"{name}.html")
        assert res.exit_code == 0, res.output
        html = (project / f"{name}.html").read_text(encoding="utf-8")
        pages[name] = re.sub(r'<div class="meta">.*?</div>', "", html)
    assert pages["pg"] == pages["duckdb"]
    assert pages["pg"].count('class="chart"') == 6


def test_the_report_tables_follow_the_rulesets_language_or_headers(project):
    for headers, want, not_want in ((None, "<th>等级</th>", "<th>tier</th>"), ("en", "<th>tier</th>", "<th>等级</th>")):
        out = project / f"r_{headers}.html"
        args = ["run", project / "r.tier", "--as-of", "2026-06-30", "--no-store", "--report", out]
        res = invoke(*args, *(["--headers", headers] if headers else []))
        assert res.exit_code == 0, res.output
        html = out.read_text(encoding="utf-8")
        assert want in html and not_want not in html
