"""rulesets/rfm.tier: checks clean, its examples pass, and it segments a small order log as worked out by hand.

The data are written the way the systems export them: the CRM customer master as a GBK CSV, the ERP
order log as Parquet (several rows per customer, with cancelled and returned orders, an order exactly on
the 12-month boundary, one a day before it, and a row of a customer the CRM does not know).
The expected R/F/M points, segments, scores and tiers below were worked out by hand (the arithmetic is
in the comments); a plain-Python reference of the documented formulas recomputes them as a second check.
"""
from __future__ import annotations

import csv
import math
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from tierwise.cli.main import cli

RULESET = Path(__file__).resolve().parents[2] / "rulesets" / "rfm.tier"
AS_OF = date(2026, 6, 30)
DONE, CANCELLED, RETURNED = "已完成", "已取消", "已退货"

# key, name, orders as (days before 2026-06-30, amount in 万, status)
CUSTOMERS = [
    ("KH001", "上海华东精密机电有限公司", [(5, 40, DONE)] + [(d, 20, DONE) for d in range(40, 341, 30)]),
    ("KH002", "北京星辰软件有限公司", [(d, 12, DONE) for d in (12, 50, 90, 130, 170, 210, 250, 290)]
     + [(2, 10, CANCELLED)]),
    ("KH003", "深圳恒达医疗器械有限公司", [(d, 25, DONE) for d in (20, 60, 120, 180, 240, 365)]
     + [(366, 50, DONE)]),  # 365 days = 2025-06-30, on the window's first day; 366 is outside
    ("KH004", "杭州瑞丰物流有限公司", [(d, 10, DONE) for d in (35, 95, 155, 215)]),
    ("KH005", "苏州金桥新能源有限公司", [(3, 9, DONE), (33, 9, DONE)]),
    ("KH006", "成都远航化工有限公司", [(d, 25, DONE) for d in (60, 160, 260)]),
    ("KH007", "武汉中科建材有限公司", [(130, 120, DONE)]),
    ("KH008", "南京鼎盛食品有限公司", [(150, 8, DONE), (20, 30, RETURNED)]),
    ("KH009", "宁波新元机电有限公司", [(200, 11, DONE), (300, 11, DONE)]),
    ("KH010", "青岛博远数据有限公司", [(45, 5, DONE)]),
    ("KH011", "东莞天成精密有限公司", [(400, 30, DONE), (600, 30, DONE)]),
    ("KH012", "佛山汇通物流有限公司", [(520, 15, DONE)]),
    ("KH013", "上海永安软件有限公司", [(d, 6, DONE) for d in (8, 38, 68, 98, 128)]),
    ("KH014", "北京宏图医疗器械有限公司", [(d, 15, DONE) for d in (120, 180, 240, 300)]),
    ("KH015", "深圳嘉禾新能源有限公司", [(30, 12, DONE)]),
    ("KH016", "杭州明德化工有限公司", [(250, 3, DONE)]),
    ("KH017", "苏州信达机电股份有限公司", [(d, 20, DONE) for d in range(15, 286, 30)]),
    ("KH018", "成都海川建材有限公司", [(300, 22.5, DONE), (330, 22.5, DONE)]),
    ("KH019", "武汉润泽食品有限公司", [(75, 9.5, DONE)]),
    ("KH020", "南京长青物流有限公司", [(35, 9, DONE), (135, 9, DONE), (235, 10, DONE)]),
    ("KH021", "宁波华东数据有限公司", [(10, 50, CANCELLED)]),  # never completed an order
    ("KH022", "青岛天成新能源有限公司", [(25, 80, DONE)]),
    ("KH023", "东莞嘉禾食品有限公司", [(d, 2, DONE) for d in (180, 210, 240)]),
]
ORPHAN = ("KH099", [(10, 5, DONE)])  # in the ERP, not in the CRM master

# Worked out by hand (as of 2026-06-30):
#
# F (completed orders in 12 months), 23 customers, sorted: 0×3, 1×7, 2×3, 3×3, 4×2, 5, 6, 8, 10, 12
#   (KH003 has 6: its order on 2025-06-30 counts, the one on 2025-06-29 does not).
#   ties: low → r = customers strictly below: 0→0, 1→3, 2→10, 3→13, 4→16, 5→18, 6→19, 8→20, 10→21, 12→22;
#   q = 1 + ⌊5r/23⌋: 0,1 → 1; 2,3 → 3 (⌊50/23⌋ = ⌊65/23⌋ = 2); 4,5 → 4; 6 and more → 5. Nobody gets 2.
#   mean F points = (10×1 + 6×3 + 3×4 + 4×5)/23 = 60/23 = 2.61 → F高 = points ≥ 3 (2 orders or more)
# M (万, completed, 12 months), 23 customers, sorted:
#   0,0,0,3,5 | 6,8,9.5,12,18 | 22,28,30,40 | 45,60,75,80,96 | 120,150,200,260
#   r = position (no ties but the three 0s, r 0); q = 1 + ⌊5r/23⌋ changes at r = 5, 10, 14, 19 (the bars above)
#   mean M points = (5×1 + 5×2 + 4×3 + 5×4 + 4×5)/23 = 67/23 = 2.91 → M高 = points ≥ 3 (22万 or more)
# R (days since the last completed order), 22 customers with one (KH021 has none), sorted:
#   3,5,8,12,15 | 20,25,30 | 35,35,45,60,75,120 | 130,150,180,200 | 250,300,400,520
#   ties: high → the two 35s both take r = (customers at or below 35) − 1 = 10 − 1 = 9;
#   q = 1 + ⌊5r/22⌋ changes at r = 5, 9, 14, 18; reversed: R points = 6 − q = 5 | 4 | 3 | 2 | 1.
#   (ties: low would give the 35s r = 8, q = 2, R = 4: a tie would lift them.)
#   KH021: missing → 1. mean R points = (5×5 + 3×4 + 6×3 + 4×2 + 4×1 + 1)/23 = 68/23 = 2.96 → R高 = points ≥ 3
# score = (0.3R + 0.3F + 0.4M)/5 × 100 = 6R + 6F + 8M
HAND = {  # key: (R, F, M points, segment, score, tier)
    "KH001": (5, 5, 5, "重要价值", 100, "A"),  # 30 + 30 + 40
    "KH002": (5, 5, 4, "重要价值", 92, "A"),   # 30 + 30 + 32
    "KH003": (4, 5, 5, "重要价值", 94, "A"),   # 24 + 30 + 40
    "KH004": (3, 4, 3, "重要价值", 66, "B"),   # 18 + 24 + 24; R 3 > 2.96 is high
    "KH005": (5, 3, 2, "一般价值", 64, "B"),   # 30 + 18 + 16
    "KH006": (3, 3, 4, "重要价值", 68, "B"),   # 18 + 18 + 32
    "KH007": (2, 1, 5, "重要挽留", 58, "C"),   # 12 + 6 + 40
    "KH008": (2, 1, 2, "一般挽留", 34, "D"),   # 12 + 6 + 16; the returned order 20 days ago is no purchase
    "KH009": (2, 3, 3, "重要保持", 54, "C"),   # 12 + 18 + 24
    "KH010": (3, 1, 1, "一般发展", 32, "D"),   # 18 + 6 + 8
    "KH011": (1, 1, 1, "一般挽留", 20, "D"),
    "KH012": (1, 1, 1, "一般挽留", 20, "D"),
    "KH013": (5, 4, 3, "重要价值", 78, "B"),   # 30 + 24 + 24
    "KH014": (3, 4, 4, "重要价值", 74, "B"),   # 18 + 24 + 32
    "KH015": (4, 1, 2, "一般发展", 46, "C"),   # 24 + 6 + 16
    "KH016": (1, 1, 1, "一般挽留", 20, "D"),
    "KH017": (5, 5, 5, "重要价值", 100, "A"),
    "KH018": (1, 3, 4, "重要保持", 56, "C"),   # 6 + 18 + 32
    "KH019": (3, 1, 2, "一般发展", 40, "C"),   # 18 + 6 + 16, on the cut of C
    "KH020": (3, 3, 3, "重要价值", 60, "B"),   # 18 + 18 + 24, on the cut of B
    "KH021": (1, 1, 1, "一般挽留", 20, "D"),   # no completed order: R missing → 1, F 0, M 0
    "KH022": (4, 1, 4, "重要发展", 62, "B"),   # 24 + 6 + 32
    "KH023": (2, 3, 2, "一般保持", 46, "C"),   # 12 + 18 + 16
}
HAND_LABELS = {  # 沉睡客户: > 180 days; 新客户: first completed order within 90 days; 大单客户: an order ≥ 100万 in 12 months
    "KH007": {"大单客户"}, "KH009": {"沉睡客户"}, "KH010": {"新客户"}, "KH011": {"沉睡客户"}, "KH012": {"沉睡客户"},
    "KH015": {"新客户"}, "KH016": {"沉睡客户"}, "KH018": {"沉睡客户"}, "KH019": {"新客户"}, "KH022": {"新客户"},
    "KH005": {"新客户"},
}


def write_data(d: Path) -> tuple[Path, Path]:
    d.mkdir(parents=True, exist_ok=True)
    lines = ["客户编号,客户名称,客户经理"]
    managers = ["王磊", "李娜", "张伟", "刘洋"]
    for i, (key, name, _) in enumerate(CUSTOMERS):
        lines.append(f"{key},{name},{managers[i % 4]}")
    customers = d / "客户档案.csv"
    customers.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))
    rows = {"订单号": [], "客户编号": [], "下单日期": [], "金额": [], "订单状态": []}
    n = 0
    for key, _, orders in CUSTOMERS + [(ORPHAN[0], "", ORPHAN[1])]:
        for days, wan, status in orders:
            n += 1
            rows["订单号"].append(f"SO2026{n:05d}")
            rows["客户编号"].append(key)
            rows["下单日期"].append(AS_OF - timedelta(days=days))
            rows["金额"].append(wan * 10_000)
            rows["订单状态"].append(status)
    orders_path = d / "orders.parquet"
    pq.write_table(pa.table({"订单号": pa.array(rows["订单号"]), "客户编号": pa.array(rows["客户编号"]),
                             "下单日期": pa.array(rows["下单日期"], pa.date32()),
                             "金额": pa.array(rows["金额"], pa.float64()),
                             "订单状态": pa.array(rows["订单状态"])}), orders_path)
    return customers, orders_path


def reference() -> dict[str, dict]:
    """The documented formulas in plain Python (language.md: quintile, reverse, ties; mean; weights)."""
    window_start = date(2025, 6, 30)  # 2026-06-30 minus 12 calendar months
    raw = {}
    for key, _, orders in CUSTOMERS:
        done = [(AS_OF - timedelta(days=d), w * 10_000) for d, w, s in orders if s == DONE]
        recent = [(o, a) for o, a in done if window_start <= o <= AS_OF]
        raw[key] = {"R": (AS_OF - max(o for o, _ in done)).days if done else None,
                    "F": len(recent), "M": sum(a for _, a in recent),
                    "max12": max((a for _, a in recent), default=None),
                    "first": min((o for o, _ in done), default=None)}

    def quintile(values: dict[str, float | None], ties: str, reverse: bool) -> dict[str, float | None]:
        present = [v for v in values.values() if v is not None]
        n = len(present)
        out = {}
        for k, x in values.items():
            if x is None:
                out[k] = None
                continue
            r = sum(v < x for v in present) if ties == "low" else sum(v <= x for v in present) - 1
            q = 1 + math.floor(5 * r / n)
            out[k] = 6 - q if reverse else q
        return out

    pts = {"R": quintile({k: v["R"] for k, v in raw.items()}, "high", True),
           "F": quintile({k: v["F"] for k, v in raw.items()}, "low", False),
           "M": quintile({k: v["M"] for k, v in raw.items()}, "low", False)}
    pts["R"] = {k: 1 if v is None else v for k, v in pts["R"].items()}  # missing -> points 1
    mean = {x: sum(pts[x].values()) / len(pts[x]) for x in "RFM"}
    names = {"111": "重要价值", "011": "重要保持", "101": "重要发展", "001": "重要挽留",
             "110": "一般价值", "010": "一般保持", "100": "一般发展", "000": "一般挽留"}
    out = {}
    for k in raw:
        code = "".join("1" if pts[x][k] > mean[x] else "0" for x in "RFM")
        score = (0.3 * pts["R"][k] + 0.3 * pts["F"][k] + 0.4 * pts["M"][k]) / 5 * 100
        tier = "A" if score >= 80 - 1e-9 else "B" if score >= 60 - 1e-9 else "C" if score >= 40 - 1e-9 else "D"
        labels = set()
        if raw[k]["R"] is not None and raw[k]["R"] > 180:
            labels.add("沉睡客户")
        if raw[k]["max12"] is not None and raw[k]["max12"] >= 1_000_000:
            labels.add("大单客户")
        if raw[k]["first"] is not None and AS_OF - timedelta(days=90) <= raw[k]["first"] <= AS_OF:
            labels.add("新客户")
        out[k] = {"R": pts["R"][k], "F": pts["F"][k], "M": pts["M"][k], "segment": names[code],
                  "score": score, "tier": tier, "labels": labels}
    return out


@pytest.fixture(scope="module")
def ratings(tmp_path_factory):
    d = tmp_path_factory.mktemp("rfm")
    customers, orders = write_data(d)
    out = d / "ratings.csv"
    res = CliRunner().invoke(cli, ["run", str(RULESET), "--source", f"customers={customers}",
                                   "--source", f"orders={orders}", "--as-of", "2026-06-30", "--out", str(out)])
    assert res.exit_code == 0, res.stdout + res.stderr
    with open(out, encoding="utf-8-sig", newline="") as fh:
        rows = {r["客户编号"]: r for r in csv.DictReader(fh)}
    return rows, res


def test_the_hand_table_is_the_documented_formulas():
    ref = reference()
    for key, (r, f, m, segment, score, tier) in HAND.items():
        got = ref[key]
        assert (got["R"], got["F"], got["M"], got["segment"], got["tier"]) == (r, f, m, segment, tier), key
        assert got["score"] == pytest.approx(score), key
        assert got["labels"] == HAND_LABELS.get(key, set()), key
    assert {s for *_, s, _, _ in HAND.values()} == {"重要价值", "重要保持", "重要发展", "重要挽留",
                                                     "一般价值", "一般保持", "一般发展", "一般挽留"}


def test_every_customer_as_worked_out_by_hand(ratings):
    rows, _ = ratings
    assert set(rows) == set(HAND)  # KH099 (orders only) is not a customer
    for key, (r, f, m, segment, score, tier) in HAND.items():
        row = rows[key]
        assert (float(row["R.points"]), float(row["F.points"]), float(row["M.points"])) == (r, f, m), key
        assert row["RFM分群"] == segment, key
        assert float(row["score"]) == pytest.approx(score, abs=1e-9), key
        assert row["tier"] == tier, key
        assert set(filter(None, row["labels"].split(","))) == HAND_LABELS.get(key, set()), key


def test_raw_values_and_policies(ratings):
    rows, res = ratings
    # KH003: six orders in the window (2025-06-30 counts, 2025-06-29 does not), 150万
    assert float(rows["KH003"]["F"]) == 6 and float(rows["KH003"]["M"]) == 1_500_000
    # KH008: the returned order 20 days ago is not its last purchase
    assert float(rows["KH008"]["R"]) == 150
    # KH004 and KH020 tie at 35 days: both get the lower R (ties: high before the reversal)
    assert rows["KH004"]["R.points"] == rows["KH020"]["R.points"] and float(rows["KH004"]["R.points"]) == 3
    # KH021 never completed an order: R is missing (scored 1) and reported as missing
    assert rows["KH021"]["R"] == "" and "R" in rows["KH021"]["missing"].split(",")
    # the ERP row of a customer the CRM does not know is reported, not silently dropped
    assert "KH099" in res.stderr


def test_tier_counts(ratings):
    rows, _ = ratings
    counts = {t: sum(r["tier"] == t for r in rows.values()) for t in "ABCD"}
    assert counts == {"A": 4, "B": 7, "C": 6, "D": 6}
