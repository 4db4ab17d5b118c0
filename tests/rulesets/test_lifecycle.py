"""rulesets/lifecycle.tier: checks clean, its examples pass, and it stages a small CRM book as worked out by hand.

The CRM export is an Excel workbook (real date cells, blank cells, a head count typed as text "1,000"),
the ERP orders a GBK CSV with the date formats such exports mix (2026-05-05, 2026/5/5, 2025年6月18日)
and amounts with thousands separators. Every expected lead score, tier, stage and label below was worked
out by hand; the arithmetic is in the comments.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from tierwise.cli.main import cli

RULESET = Path(__file__).resolve().parents[2] / "rulesets" / "lifecycle.tier"

CRM_COLUMNS = ["客户编号", "公司名称", "行业", "员工人数", "联系人职级", "线索来源", "近30天官网访问", "资料下载次数",
               "参加活动", "邮箱类型", "最近互动日期", "销售已确认", "商机阶段", "客户状态", "负责销售"]
D = datetime.fromisoformat
# 客户编号, 公司名称, 行业, 员工人数, 职级, 来源, 访问, 下载, 活动, 邮箱, 最近互动, 销售确认, 商机阶段, 客户状态, 负责销售
CRM = [
    ("L01", "上海味道餐饮管理有限公司", "餐饮", 30, "专员", "搜索广告", 2, 0, "否", "企业邮箱", D("2026-06-01"), "否", None, None, None),
    ("L02", "杭州数云信息技术有限公司", "信息技术", 500, "管理层", "展会", 6, 2, "是", "企业邮箱", D("2026-06-15"), "否", None, None, None),
    ("L03", "苏州康宁医疗器械有限公司", "医疗", 150, "决策层", "官网咨询", 3, 1, "否", "企业邮箱", D("2026-05-20"), "否", None, None, "张伟"),
    ("L04", "青岛顺达物流有限公司", "物流", 80, "管理层", "内容营销", 0, 0, "否", "个人邮箱", D("2026-04-10"), "是", None, None, "王磊"),
    ("L05", "东莞精工机械制造有限公司", "制造", 2000, "决策层", "展会", 4, 5, "是", "企业邮箱", D("2026-06-25"), "是", "方案报价", None, "李娜"),
    ("L06", "宁波光伏能源有限公司", "能源", 400, "管理层", "搜索广告", 1, 0, "否", "企业邮箱", D("2025-11-20"), "是", "输单", None, "王磊"),
    ("L07", "北京云图信息技术有限公司", "信息技术", 1500, "决策层", "客户转介绍", 5, 1, "是", "企业邮箱", D("2026-06-28"), "是", "赢单", None, "张伟"),
    ("L08", "佛山恒通机电制造有限公司", "制造", 260, "管理层", "官网咨询", 2, 0, "否", "企业邮箱", D("2026-06-10"), "是", "赢单", "合作中", "李娜"),
    ("L09", "武汉畅运物流有限公司", "物流", 600, "专员", None, 0, 0, "否", "企业邮箱", D("2026-01-10"), "是", "赢单", "合作中", "王磊"),
    ("L10", "深圳华芯电子制造有限公司", "制造", 3000, "决策层", "展会", 8, 0, "是",
     "企业邮箱", D("2026-06-29"), "是", "赢单", "合作中", "张伟"),
    ("L11", "南京仁和医疗器械有限公司", "医疗", 900, "管理层", "客户转介绍", 0, 0, "否", "企业邮箱", D("2026-03-15"), "是", "赢单", "合作中", "李娜"),
    ("L12", "成都绿源能源有限公司", "能源", 120, "管理层", "展会", 0, 0, "否", "企业邮箱", D("2025-04-01"), "是", "赢单", "合作中", "王磊"),
    ("L13", "上海智联信息技术有限公司", "信息技术", 220, "决策层", "官网咨询", 0, 0, "否", "企业邮箱", D("2026-06-05"), "是", "赢单", "已终止合作", "张伟"),
    ("L14", "温州小微五金制造厂", "制造", 45, None, "内容营销", None, None, None, "个人邮箱", None, "否", None, None, None),
    ("L15", "天津远洋物流有限公司", "物流", "1,000", "管理层", "客户转介绍", 3, 0, "否", "企业邮箱", D("2026-06-20"), "是", "赢单", "合作中", "李娜"),
    ("L16", "广州博康医疗器械有限公司", "医疗", 1200, "决策层", "展会", 10, 2, "是", "企业邮箱", D("2026-06-12"), "是", "输单", None, "王磊"),
    ("L17", "厦门联创信息技术有限公司", "信息技术", 200, "专员", "展会", 0, 3, "否", "企业邮箱", D("2026-05-25"), "否", None, None, None),
]
# 客户编号: [(下单日期 as the ERP writes it, 金额 text, 订单状态)]
ORDERS = {
    "L08": [("2026/5/5", "1,280,000.00", "已完成")],
    "L09": [("2024-11-02", "86,000.00", "已完成"), ("2025年6月18日", "92,500.00", "已完成"),
            ("2025-12-20", "78,000.00", "已完成"), ("2026/5/2", "80,000.00", "已取消")],
    "L10": [("2022-09-01", "300,000.00", "已完成"), ("2025-08-15", "420,000.00", "已完成"),
            ("2025/11/10", "380,000.00", "已完成"), ("2026-02-05", "410,000.00", "已完成"),
            ("2026年4月18日", "450,000.00", "已完成"), ("2026-06-08", "395,000.00", "已完成")],
    "L11": [("2023-03-01", "150,000.00", "已完成"), ("2025-07-05", "168,000.00", "已完成"),
            ("2025-09-12", "172,000.00", "已完成"), ("2025-12-01", "160,000.00", "已完成"),
            ("2026-03-10", "175,000.00", "已完成"), ("2026-06-01", "90,000.00", "已退货")],
    "L12": [("2024-01-15", "56,000.00", "已完成"), ("2025-05-20", "61,000.00", "已完成")],
    "L13": [("2025-10-09", "230,000.00", "已完成"), ("2026-02-14", "210,000.00", "已完成")],
    "L14": [("2026-06-01", "12,000.00", "已取消")],
    "L15": [("2025-07-01", "500,000.00", "已完成"), ("2025-10-01", "520,000.00", "已完成"),
            ("2026/1/10", "480,000.00", "已完成"), ("2026-04-15", "510,000.00", "已完成")],
}

# Worked out by hand, as of 2026-06-30. Lead score = 10 + min(40, 行业 + 规模 + 职级)
#   + (访问 + min(15, 5×下载) + 活动 + 来源) + (邮箱 + 互动衰减), total capped at 100; a blank scores 0,
#   a blank 最近互动日期 −15.
HAND = {  # key: (score, tier, stage, labels)
    # 画像 0+2+0; 互动 3+0+0+5; 负面 0 + 0 (29 days) → 10+2+8 = 20
    "L01": (20, "C", "线索", set()),
    # 画像 15+15+8 = 38; 互动 8+10+10+10 = 38; 0 (15 days) → 86; ≥ 60, not confirmed by sales → MQL, nobody assigned
    "L02": (86, "A", "MQL", {"待分配销售"}),
    # 画像 15+8+15 = 38; 互动 8+5+0+10 = 23; −5 (41 days) → 66 → MQL, 张伟 follows it up
    "L03": (66, "B", "MQL", set()),
    # 画像 8+8+8 = 24; 互动 0+0+0+5; −10 (个人邮箱) −5 (81 days) → 24; confirmed by sales, 商机阶段 blank → SQL
    "L04": (24, "C", "SQL", set()),
    # 画像 15+20+15 = 50 → 40; 互动 8+min(15, 5×5)+10+10 = 43; 0 → 93; 方案报价 → 商机
    "L05": (93, "A", "商机", set()),
    # 画像 8+15+8 = 31; 互动 3+0+0+5 = 8; −30 (222 days) → 19; 输单 → not SQL; < 60 → 线索
    "L06": (19, "C", "线索", set()),
    # 画像 50 → 40; 互动 8+5+10+15 = 38; 0 → 88; 赢单, first order not yet placed → 客户
    "L07": (88, "A", "客户", set()),
    # 画像 15+15+8 = 38; 互动 3+0+0+10 = 13; 0 (20 days) → 61; one order 2026-05-05, 56 days ago → 新成交客户
    "L08": (61, "B", "客户", {"新成交客户"}),
    # 画像 8+15+0 = 23; 互动 0; −15 (171 days) → 18. Completed 2024-11-02, 2025-06-18, 2025-12-20 (the 2026-05-02
    # order was cancelled): last 192 days ago (≤ 365), 1 in 12 months (2025-06-18 is before 2025-06-30) → 客户, 沉睡
    "L09": (18, "C", "客户", {"沉睡客户"}),
    # 画像 50 → 40; 互动 8+0+10+10 = 28; 0 → 78. 5 orders in 12 months, first 2022-09-01 (3.8 years) → 忠诚客户;
    # last 22 days ago
    "L10": (78, "A", "忠诚客户", set()),
    # 画像 15+15+8 = 38; 互动 0+0+0+15; −15 (107 days) → 48. 4 completed in 12 months (the return does not count),
    # first 2023-03-01 → 忠诚客户; last 2026-03-10, 112 days ago ≥ 90 → 流失预警 (< 180: not 沉睡)
    "L11": (48, "B", "忠诚客户", {"流失预警"}),
    # 画像 8+8+8 = 24; 互动 10; −30 (455 days) → 14. Last order 2025-05-20, 406 days > 365 → 流失
    "L12": (14, "C", "流失", set()),
    # 画像 15+15+15 = 45 → 40; 互动 10; 0 (25 days) → 60. Ordered 136 days ago, but the CRM says 已终止合作 → 流失
    "L13": (60, "B", "流失", set()),
    # 画像 15+2+0 = 17; 互动 0+0+0+5; −10 −15 (never contacted) → 7; only a cancelled order → 线索
    "L14": (7, "C", "线索", set()),
    # 画像 8+20+8 = 36 (head count "1,000" read as 1000); 互动 8+0+0+15 = 23; 0 → 69. 4 orders in 12 months but the
    # first was 2025-07-01 (under 2 years) → 客户; last 76 days ago
    "L15": (69, "B", "客户", set()),
    # 画像 50 → 40; 互动 15+10+10+10 = 45; 0 → 95. 输单 → not SQL; ≥ 60 → MQL (王磊 keeps it: no label)
    "L16": (95, "A", "MQL", set()),
    # 画像 15+15+0 = 30; 互动 0+15+0+10 = 25; −5 (36 days) → 60, exactly the MQL line → MQL, nobody assigned
    "L17": (60, "B", "MQL", {"待分配销售"}),
}


def write_data(d: Path) -> tuple[Path, Path]:
    d.mkdir(parents=True, exist_ok=True)
    wb = Workbook()
    ws = wb.active
    ws.title = "客户"
    ws.append(CRM_COLUMNS)
    for row in CRM:
        ws.append(list(row))
    for cell in ws["K"][1:]:  # 最近互动日期 shown as a date
        cell.number_format = "yyyy-mm-dd"
    crm = d / "线索与客户.xlsx"
    wb.save(crm)
    lines = ["订单号,客户编号,下单日期,金额,订单状态"]
    n = 0
    for key, orders in ORDERS.items():
        for day, amount, status in orders:
            n += 1
            lines.append(f'XS{n:06d},{key},{day},"{amount}",{status}')
    orders_path = d / "销售订单.csv"
    orders_path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))
    return crm, orders_path


@pytest.fixture(scope="module")
def ratings(tmp_path_factory):
    d = tmp_path_factory.mktemp("lifecycle")
    crm, orders = write_data(d)
    out = d / "stages.xlsx"
    log = d / "actions.log"
    res = CliRunner().invoke(cli, ["run", str(RULESET), "--source", f"crm={crm}", "--source", f"orders={orders}",
                                   "--as-of", "2026-06-30", "--out", str(out), "--log", str(log),
                                   "--headers", "en"])  # the machine names (a Chinese ruleset's xlsx: 综合得分, …)
    assert res.exit_code == 0, res.stdout + res.stderr
    from openpyxl import load_workbook

    ws = load_workbook(out, read_only=True)["ratings"]
    header, *body = list(ws.iter_rows(values_only=True))
    rows = {r[0]: dict(zip(header, r)) for r in body}
    return rows, res, log.read_text(encoding="utf-8")


def test_every_customer_as_worked_out_by_hand(ratings):
    rows, _, _ = ratings
    assert set(rows) == set(HAND)
    for key, (score, tier, stage, labels) in HAND.items():
        row = rows[key]
        assert row["score"] == pytest.approx(score, abs=1e-9), key
        assert row["tier"] == tier, key
        assert row["生命周期阶段"] == stage, key
        assert set(filter(None, (row["labels"] or "").split(","))) == labels, key


def test_caps_and_missing(ratings):
    rows, _, _ = ratings
    # the 画像匹配 cap: L05 has 15 + 20 + 15 = 50 points of profile, the dimension shows 40
    assert rows["L05"]["画像匹配"] == 40
    # the 资料下载 cap: 5 downloads × 5 = 25 points, capped at 15
    assert rows["L05"]["资料下载"] == 25 and rows["L05"]["资料下载.points"] == 15
    # L16 sums 10 + 40 + 45 = 95 (under the total cap); L14 has no contact date: −15, reported as missing
    assert rows["L14"]["互动衰减.points"] == -15 and "互动衰减" in rows["L14"]["missing"].split(",")


def test_every_stage_is_reached_and_in_order(ratings):
    rows, _, _ = ratings
    stages = {r["生命周期阶段"] for r in rows.values()}
    assert stages == {"线索", "MQL", "SQL", "商机", "客户", "忠诚客户", "流失"}


def test_label_actions_are_logged(ratings):
    _, _, log = ratings
    lines = log.splitlines()

    def who(label: str) -> list[str]:
        return sorted(line.split("customer=")[1].split()[0] for line in lines if f"reason='label {label}'" in line)

    assert who("待分配销售") == ["L02", "L17"]
    assert who("沉睡客户") == ["L09"]
    assert who("流失预警") == ["L11"]
