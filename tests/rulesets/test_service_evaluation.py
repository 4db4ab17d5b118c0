"""rulesets/service_evaluation.tier: checks clean, its examples pass, and it rates a small service book as
worked out by hand.

The customer list is a GBK CSV export (推荐意愿 blank or "—" when the customer did not answer the NPS
survey); the tickets an Excel workbook with real date cells and blank cells for survey questions not
answered, a ticket not yet responded to, an open complaint, tickets on and just before the six-month
window. Every expected score, tier and label below was worked out by hand; the arithmetic is in the comments.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from tierwise.cli.main import cli

RULESET = Path(__file__).resolve().parents[2] / "rulesets" / "service_evaluation.tier"

# 客户编号, 客户名称, 客户级别, 推荐意愿 (NPS 0..10; "" = not answered, "—" = the survey system's "no answer")
CUSTOMERS = [
    ("S01", "上海华东精密机电有限公司", "VIP", "9"),
    ("S02", "北京星辰软件有限公司", "普通", "8"),
    ("S03", "深圳恒达医疗器械有限公司", "VIP", "5"),
    ("S04", "杭州瑞丰物流有限公司", "重点", "10"),
    ("S05", "苏州金桥新能源有限公司", "普通", ""),
    ("S06", "成都远航化工有限公司", "普通", "—"),
    ("S07", "武汉中科建材有限公司", "重点", "7"),
    ("S08", "南京鼎盛食品有限公司", "VIP", ""),
    ("S09", "宁波新元机电有限公司", "普通", "0"),
    ("S10", "青岛博远数据有限公司", "VIP", "8"),
]
TICKET_COLUMNS = ["工单号", "客户编号", "创建日期", "工单类型", "首次响应分钟", "是否解决", "处理时长小时",
                  "服务态度", "专业能力", "满意度", "回访评语"]
D = datetime.fromisoformat
# 客户编号, 创建日期, 类型, 首次响应分钟, 是否解决, 处理时长小时, 态度, 专业, 满意, 评语
TICKETS = [
    ("S01", D("2026-06-10"), "咨询", 4, "是", 1, 5, 5, 5, "响应很快"),
    ("S01", D("2026-04-22"), "故障", 9, "是", 5, 5, 4, 5, None),
    ("S01", D("2026-02-03"), "故障", 7, "是", 12, 4, 5, 4, None),
    ("S02", D("2026-06-25"), "故障", 20, "是", 6, 4, 4, 4, None),
    ("S02", D("2026-05-02"), "投诉", 28, "是", 30, 3, 4, 3, "处理还算及时"),
    ("S02", D("2026-03-11"), "咨询", 15, "是", 2, None, None, None, None),
    ("S02", D("2026-01-20"), "故障", 40, "否", None, None, None, None, None),
    ("S03", D("2026-06-15"), "投诉", 50, "否", None, None, None, 2, "一直没人解决"),
    ("S03", D("2026-04-01"), "故障", 70, "是", 30, 3, 3, 3, None),
    ("S03", D("2025-11-15"), "故障", 5, "是", 1, 5, 5, 5, None),  # before the window
    ("S06", D("2026-06-20"), "咨询", 6, "是", 1, 5, 5, 5, "非常满意"),
    ("S06", D("2026-06-21"), "咨询", 6, "是", 1, 5, 5, 5, "非常满意"),
    ("S06", D("2026-06-22"), "咨询", 6, "是", 1, 5, 5, 5, "非常满意"),
    ("S06", D("2026-06-23"), "故障", 12, "是", 3, 5, 5, 5, "非常满意"),
    ("S07", D("2026-05-05"), "故障", 300, "是", 20, 3, 4, None, None),
    ("S07", D("2026-03-03"), "咨询", 180, "是", 4, None, None, None, None),
    ("S07", D("2026-01-12"), "投诉", 240, "是", 80, 2, 3, 2, "太慢了"),
    ("S08", D("2025-12-30"), "故障", 10, "是", 2, 5, 5, 5, None),  # the window's first day: counts
    ("S08", D("2025-12-29"), "投诉", 500, "否", None, 1, 1, 1, None),  # the day before: does not
    ("S09", D("2026-06-28"), "故障", None, "否", None, None, None, None, None),  # not responded to yet
    ("S09", D("2026-03-08"), "咨询", 35, "是", 3, 4, 4, 4, None),
    ("S10", D("2026-05-15"), "投诉", 8, "是", 10, 4, 5, 4, None),
    ("S10", D("2026-04-10"), "故障", 9, "是", 4, 5, 5, 5, None),
]

# Worked out by hand, as of 2026-06-30 (window 2025-12-30..2026-06-30).
# 响应效率 = 0.6 × 平均首次响应 + 0.4 × 投诉处理时长; 解决质量 = 0.7 × 问题解决率 + 0.3 × 投诉次数
# (0 → 10, 1 → 6, 2 → 3, more → 1); 客户评价 = mean of the answered
# items among 态度×2, 专业×2, 满意×2 and 推荐意愿 (9+ → 10, 7+ → 7, 5+ → 4, else 1); a missing indicator's
# weight goes to the present ones, a missing dimension's to the other dimensions; score = composite × 10.
HAND = {  # key: (score, tier, labels)
    # 响应 avg (4+9+7)/3 = 6.7 min → 10, no complaint → 10; 解决 3/3 → 10, 0 complaints → 10;
    # 评价 (28/3 + 28/3 + 28/3 + 10)/4 = 38/4 = 9.5 → 3 + 3 + 3.8 = 9.8
    "S01": (98, "优秀", {"推荐者"}),
    # 响应 (20+28+15+40)/4 = 25.75 → 8, complaint 30 h → 7: 4.8 + 2.8 = 7.6; 解决 3/4 = 75% → 6, 1 complaint → 6: 6;
    # 评价 态度 (4+3)/2×2 = 7, 专业 (4+4)/2×2 = 8, 满意 7, 推荐 8 → 7: 29/4 = 7.25
    # 0.3×7.6 + 0.3×6 + 0.4×7.25 = 2.28 + 1.8 + 2.9 = 6.98 → 69.8, just under 良好
    "S02": (69.8, "合格", set()),
    # 响应 (50+70)/2 = 60 → 6, the open complaint of 2026-06-15: (15 + 1) × 24 = 384 h → 1: 3.6 + 0.4 = 4.0;
    # 解决 1/2 → 3, 1 complaint → 6: 2.1 + 1.8 = 3.9; 评价 6, 6, (2+3)/2×2 = 5, 推荐 5 → 4: 21/4 = 5.25
    # (the 2025-11-15 ticket is outside); 1.2 + 1.17 + 2.1 = 4.47
    "S03": (44.7, "待改进", {"贬损者", "投诉未闭环", "VIP服务预警"}),
    # no ticket: 无记录; the score is 0 complaints → 10 and 推荐意愿 10 → 10: 100
    "S04": (100, "无记录", {"推荐者"}),
    # no ticket, no NPS answer: 0 complaints → 10 alone → 100, 无记录
    "S05": (100, "无记录", set()),
    # 响应 (6+6+6+12)/4 = 7.5 → 10; 解决 4/4 → 10; 评价 10, 10, 10 ("—" is no answer) → 100;
    # four identical comments → 疑似刷评
    "S06": (100, "优秀", {"疑似刷评"}),
    # 响应 (300+180+240)/3 = 240 → 3, complaint 80 h → 1: 1.8 + 0.4 = 2.2; 解决 3/3 → 10, 1 complaint → 6: 8.8;
    # 评价 (3+2)/2×2 = 5, (4+3)/2×2 = 7, 满意 2×2 = 4, 推荐 7 → 7: 23/4 = 5.75
    # 0.66 + 2.64 + 2.3 = 5.6
    "S07": (56, "合格", set()),
    # only the 2025-12-30 ticket: 10 min → 10 (10 is excellent), no complaint in the window; 解决 1/1 → 10, 0 → 10;
    # 评价 10, 10, 10 → 100; the unresolved complaint of 2025-12-29 is outside: no 投诉未闭环
    "S08": (100, "优秀", set()),
    # the ticket not responded to has no response time: avg 35 → 6; 解决 1/2 → 3, 0 complaints → 10: 2.1 + 3 = 5.1;
    # 评价 8, 8, 8, 推荐 0 → 1: 25/4 = 6.25; 1.8 + 1.53 + 2.5 = 5.83
    "S09": (58.3, "合格", {"贬损者"}),
    # 响应 (8+9)/2 = 8.5 → 10, complaint 10 h → 10; 解决 2/2 → 10, 1 complaint → 6: 8.8;
    # 评价 (4+5)/2×2 = 9, 10, 9, 推荐 8 → 7: 35/4 = 8.75; 3 + 2.64 + 3.5 = 9.14
    "S10": (91.4, "优秀", set()),
}


def write_data(d: Path) -> tuple[Path, Path]:
    d.mkdir(parents=True, exist_ok=True)
    lines = ["客户编号,客户名称,客户级别,推荐意愿"] + [",".join(c) for c in CUSTOMERS]
    customers = d / "客户名单.csv"
    customers.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))
    wb = Workbook()
    ws = wb.active
    ws.title = "工单"
    ws.append(TICKET_COLUMNS)
    for i, t in enumerate(TICKETS, 1):
        ws.append([f"GD2026{i:04d}", *t])
    for cell in ws["C"][1:]:
        cell.number_format = "yyyy-mm-dd"
    tickets = d / "服务工单.xlsx"
    wb.save(tickets)
    return customers, tickets


@pytest.fixture(scope="module")
def ratings(tmp_path_factory):
    d = tmp_path_factory.mktemp("service")
    customers, tickets = write_data(d)
    out = d / "service.parquet"
    res = CliRunner().invoke(cli, ["run", str(RULESET), "--source", f"customers={customers}",
                                   "--source", f"tickets={tickets}", "--as-of", "2026-06-30", "--out", str(out)])
    assert res.exit_code == 0, res.stdout + res.stderr
    import pyarrow.parquet as pq

    rows = {r["客户编号"]: r for r in pq.read_table(out).to_pylist()}
    return rows, res


def test_every_customer_as_worked_out_by_hand(ratings):
    rows, _ = ratings
    assert set(rows) == set(HAND)
    for key, (score, tier, labels) in HAND.items():
        row = rows[key]
        if score is None:
            assert row["score"] is None, key
        else:
            assert row["score"] == pytest.approx(score, abs=1e-9), key
        assert row["tier"] == tier, key
        assert set(filter(None, (row["labels"] or "").split(","))) == labels, key


def test_missing_answers_are_excluded_not_scored(ratings):
    rows, _ = ratings
    # S02: two tickets without survey answers; the averages are over the answered ones
    assert rows["S02"]["服务态度"] == pytest.approx(7) and rows["S02"]["专业能力"] == pytest.approx(8)
    # S06's "—" is no answer: 推荐意愿 is missing and its 25% goes to the three survey items
    assert rows["S06"]["推荐意愿"] is None and rows["S06"]["推荐意愿.points"] is None
    assert rows["S06"]["客户评价"] == pytest.approx(10)
    # S08's 客户评价 without NPS, 响应效率 without a complaint: both from the present items only
    assert rows["S08"]["投诉处理时长"] is None and rows["S08"]["响应效率"] == pytest.approx(10)
    # S03's open complaint counts as 384 hours, not as missing
    assert rows["S03"]["投诉处理时长"] == pytest.approx(384)
    # S05 has no ticket and no NPS answer: only 投诉次数 (0) is present, so it still has a score
    assert rows["S05"]["响应效率"] is None and rows["S05"]["客户评价"] is None
    assert rows["S05"]["解决质量"] == pytest.approx(10)


def test_no_ticket_customers_are_not_graded(ratings):
    rows, res = ratings
    assert sorted(k for k, r in rows.items() if r["tier"] == "无记录") == ["S04", "S05"]
    assert "no score" not in res.stdout + res.stderr
