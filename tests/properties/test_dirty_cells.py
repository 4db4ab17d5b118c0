"""Dirty export cells, generated with the value they mean: every readable cell is read as that value,
every missing marker is missing without complaint, and every unreadable cell is missing *and counted*.
Real CSV files in UTF-8 and GB18030 (GBK has no no-break space)."""
import tempfile
from decimal import Decimal
from datetime import date, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tierwise.engine.build import compile_text
from tierwise.engine.plugin_manager import default_registry
from tierwise.engine.run import run

AS_OF = date(2026, 6, 30)
RULES = """source c = csv("c.csv") key id
points 0..1
indicator n = c.n weight 50% {
  >= 0 -> 1
  else -> 0
}
indicator d = days_since(c.d) weight 50% {
  >= 0 -> 1
  else -> 0
}
"""
REGISTRY = default_registry()
PLAN = compile_text(RULES, "dirty.tier", REGISTRY)[0]
PAD = st.sampled_from(["", " ", "  ", "\t", "\u3000", "\u00a0"])
MISSING = st.sampled_from(["", "N/A", "n/a", "-", "--", "—", "无", "NULL", "null", "#N/A", "空"])


@st.composite
def number_cell(draw):
    """(cell text, value it means, or None for missing, or 'bad')."""
    kind = draw(st.sampled_from(["plain", "thousands", "percent", "wan", "yi", "currency", "yuan", "fullwidth",
                                 "missing", "bad"]))
    if kind == "missing":
        return draw(PAD) + draw(MISSING) + draw(PAD), None
    if kind == "bad":
        return draw(st.sampled_from(["abc", "待定", "1.2.3", "12abc", "万", "%", "万元", "x%", "1,2,3", "5,5",
                                     "12,34.5", "inf", "-Infinity", "元"])), "bad"
    whole = draw(st.integers(-10_000_000, 10_000_000))
    cents = draw(st.integers(0, 99))
    text = f"{whole}.{cents:02d}" if draw(st.booleans()) else str(whole)
    value = float(text)
    if kind == "thousands":
        text = f"{value:,.2f}"
    elif kind == "percent":  # the value the decimal text means, rounded once: as the rule literal 12.5% is
        text, value = text + "%", float(Decimal(text) / 100)
    elif kind == "wan":
        text, value = text + "万", float(Decimal(text) * 10_000)
    elif kind == "yi":
        text, value = text + "亿", float(Decimal(text) * 100_000_000)
    elif kind == "currency":
        text = draw(st.sampled_from(["¥", "￥", "$"])) + text
    elif kind == "yuan":  # 3000元, 500万元
        if draw(st.booleans()):
            text, value = text + "万", float(Decimal(text) * 10_000)
        text += "元"
    elif kind == "fullwidth":  # digits typed with a Chinese input method: １２３．５
        text = text.translate(str.maketrans("0123456789.-", "０１２３４５６７８９．－"))
    return draw(PAD) + text + draw(PAD), value


@st.composite
def date_cell(draw):
    kind = draw(st.sampled_from(["iso", "slash", "dot", "chinese", "compact", "time", "iso_z", "chinese_time",
                                 "excel", "missing", "bad"]))
    if kind == "missing":
        return draw(PAD) + draw(MISSING) + draw(PAD), None
    if kind == "bad":
        return draw(st.sampled_from(["2026-13-01", "2026-02-30", "昨天", "31/12/2026", "2026", "26/6/30",
                                     "0026-06-30"])), "bad"
    d = date(2000, 1, 1) + timedelta(days=draw(st.integers(0, 10_000)))
    text = {"iso": f"{d:%Y-%m-%d}", "slash": f"{d.year}/{d.month}/{d.day}", "dot": f"{d:%Y.%m.%d}",
            "chinese": f"{d.year}年{d.month}月{d.day}日", "compact": f"{d:%Y%m%d}",
            "time": f"{d:%Y-%m-%d} 08:30:00", "iso_z": f"{d:%Y-%m-%d}T23:30:00.250+08:00",
            "chinese_time": f"{d.year}年{d.month}月{d.day}日 10:30",
            "excel": str((d - date(1899, 12, 30)).days)}[kind]  # an Excel serial day number
    return draw(PAD) + text + draw(PAD), d


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(number_cell(), date_cell()), min_size=1, max_size=40), st.sampled_from(["utf-8", "gb18030"]))
def test_dirty_cells_are_read_or_counted(cells, encoding):
    lines = ["id,n,d"] + [f'K{i},"{n}","{d}"' for i, ((n, _), (d, _)) in enumerate(cells)]
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "c.csv").write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
        outcome = run(PLAN, REGISTRY, Path(tmp), AS_OF)
        rows = {r["id"]: r for r in outcome.table.to_pylist()}
    for i, ((_, n), (_, d)) in enumerate(cells):
        got = rows[f"K{i}"]
        if n in (None, "bad"):
            assert got["n"] is None
        else:
            assert got["n"] == n, (cells[i][0][0], got["n"], n)  # exactly: equal values must tie
        assert got["d"] == (None if d in (None, "bad") else (AS_OF - d).days)
    counted = {i.where: i.count for i in outcome.issues}
    assert counted.get("c.n", 0) == sum(n == "bad" for (_, n), _ in cells)
    assert counted.get("c.d", 0) == sum(d == "bad" for _, (_, d) in cells)
