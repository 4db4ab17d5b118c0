"""Realistic, deterministic sample data for relationship_rating.tier (`tierwise demo`).

Three systems, as companies have them: a CRM customer master exported as a
GBK-encoded CSV with Chinese column names (and the dirty cells such exports
have), an ERP order log as Parquet, service tickets as an Excel workbook.
Each customer has a latent "quality" that drives all indicators, so the
scores spread over the tiers the way a real book of customers does.
"""
from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover  (numpy is imported where the data is made: `import tierwise` stays light)
    import numpy as np
    from numpy.typing import NDArray

RULESET = Path(__file__).with_name("relationship_rating.tier")

CITIES = ["上海", "北京", "深圳", "杭州", "苏州", "成都", "武汉", "南京", "宁波", "青岛", "东莞", "佛山"]
NAMES = ["华东", "星辰", "恒达", "瑞丰", "金桥", "远航", "中科", "鼎盛", "新元", "博远", "天成", "汇通",
         "永安", "宏图", "嘉禾", "明德", "信达", "海川", "润泽", "长青"]
INDUSTRIES = [("机电", "制造"), ("精密", "制造"), ("软件", "信息技术"), ("数据", "信息技术"), ("医疗器械", "医疗"),
              ("物流", "物流"), ("新能源", "能源"), ("化工", "化工"), ("食品", "消费品"), ("建材", "建筑")]
PRODUCT_LINES = ["标准件", "定制件", "软件服务", "维保服务"]


def _company(rng: np.random.Generator, i: int) -> tuple[str, str]:
    city = CITIES[rng.integers(len(CITIES))]
    word = NAMES[rng.integers(len(NAMES))]
    trade, industry = INDUSTRIES[rng.integers(len(INDUSTRIES))]
    suffix = "股份有限公司" if i % 7 == 0 else "有限公司"
    return f"{city}{word}{trade}{suffix}", industry


def write_demo_data(directory: str | Path, customers: int = 3000, seed: int = 7,
                    as_of: date = date(2026, 6, 30)) -> list[Path]:
    """Write 客户档案.csv (GBK), orders.parquet, 服务工单.xlsx and the ruleset into ``directory``."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from openpyxl import Workbook

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n = customers
    quality = rng.normal(0.1, 1.25, n)  # the latent strength of each relationship,
    quality = np.where(quality < 0, quality * 0.55, quality * 0.9)  # skewed: few very weak ones
    def noise(scale: float = 1.0) -> NDArray[np.float64]:
        return rng.normal(0.0, scale, n)

    keys = [f"KH{i:05d}" for i in range(1, n + 1)]

    # ---- CRM master (GBK CSV) -------------------------------------------------------------
    tenure_days = np.clip(np.exp(7.7 + 0.8 * quality + noise(0.6)), 30, 6000).astype(int)
    renew = np.clip(0.82 + 0.17 * quality + noise(0.12), 0, 1)
    pay = np.clip(0.9 + 0.07 * quality + noise(0.1), 0.2, 1)
    satisfaction = np.clip(3.8 + 0.7 * quality + noise(0.5), 1, 5)
    growth = 0.06 + 0.04 * quality + noise(0.06)
    expansion = np.clip(0.17 + 0.12 * quality + noise(0.08), -0.2, 0.8)
    intent = np.clip(np.round(7.2 + 2.2 * quality + noise(1.5)), 1, 10).astype(int)
    header = ["客户编号", "客户名称", "行业", "所在城市", "合作起始时间", "续约率", "回款及时率",
              "服务响应满意度", "行业增长率", "客户规模扩张速度", "新产品采购意向"]
    lines = [",".join(header)]
    for i in range(n):
        name, industry = _company(rng, i)
        start = as_of - timedelta(days=int(tenure_days[i]))
        style = rng.random()
        if style < 0.15:
            start_text = f"{start.year}/{start.month}/{start.day}"  # another system's date format
        elif style < 0.17:
            start_text = f"{start.year}年{start.month}月{start.day}日"
        else:
            start_text = start.isoformat()
        renew_text = "" if rng.random() < 0.01 else f"{renew[i]:.3f}"  # a few blanks
        sat_text = "—" if rng.random() < 0.005 else f"{satisfaction[i]:.1f}"  # "not surveyed"
        intent_text = "待定" if rng.random() < 0.002 else str(intent[i])  # dirty: text in a number column
        city = name[:2]
        lines.append(",".join([keys[i], name, industry, city, start_text, renew_text, f"{pay[i]:.3f}", sat_text,
                               f"{growth[i]:.4f}", f"{expansion[i]:.4f}", intent_text]))
    csv_path = out / "客户档案.csv"
    csv_path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))

    # ---- ERP orders (Parquet) --------------------------------------------------------------
    annual = np.exp(15.0 + 1.25 * quality + noise(0.45))  # yuan per year; median ~330万
    per_year = np.clip(np.round(np.exp(2.1 + 0.35 * quality + noise(0.4))), 1, 60).astype(int)
    margin = np.clip(0.17 + 0.06 * quality + noise(0.06), 0.01, 0.6)
    counts = per_year * 3  # three years of history
    cust_idx = np.repeat(np.arange(n), counts)
    m = len(cust_idx)
    days_back = rng.integers(0, 3 * 365, m)
    amount = annual[cust_idx] / per_year[cust_idx] * rng.lognormal(0, 0.35, m)
    orders = pa.table({
        "订单号": pa.array([f"SO{j:08d}" for j in range(1, m + 1)]),
        "客户编号": pa.array([keys[i] for i in cust_idx]),
        "下单日期": pa.array(np.datetime64(as_of.isoformat()) - days_back.astype("timedelta64[D]")),
        "金额": pa.array(np.round(amount, 2)),
        "毛利": pa.array(np.round(amount * np.clip(margin[cust_idx] + rng.normal(0, 0.03, m), -0.1, 0.7), 2)),
        "产品线": pa.array([PRODUCT_LINES[k] for k in rng.integers(0, len(PRODUCT_LINES), m)]),
    })
    orders_path = out / "orders.parquet"
    pq.write_table(orders, orders_path)

    # ---- service tickets (Excel) ----------------------------------------------------------------
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("工单")
    ws.append(["工单号", "客户编号", "创建日期", "类型", "重大"])
    complaints = rng.poisson(np.exp(-0.4 - 1.1 * quality))
    consults = rng.poisson(np.exp(1.6 + 0.2 * quality))
    custom = rng.poisson(np.exp(1.25 + 0.75 * quality))
    t = 0
    for i in range(n):
        for kind, k in (("投诉", complaints[i]), ("售后咨询", consults[i]), ("定制需求", custom[i])):
            for _ in range(int(k)):
                t += 1
                created = as_of - timedelta(days=int(rng.integers(0, 420)))
                major = 1 if kind == "投诉" and rng.random() < 0.08 else 0
                ws.append([f"GD{t:07d}", keys[i], created, kind, major])
    xlsx_path = out / "服务工单.xlsx"
    wb.save(xlsx_path)

    ruleset_path = out / RULESET.name
    shutil.copyfile(RULESET, ruleset_path)
    return [csv_path, orders_path, xlsx_path, ruleset_path]


#: the challenger version of the relationship rating the demo writes beside it (for `tierwise diff`):
#: (what the shipped rules say, what 2026.2 says instead)
CHALLENGER = "relationship_rating_2026.2.tier"
CHALLENGER_CHANGES = [
    ('ruleset "客户关系评级" version "2026.1"',
     '# 2026.2, the challenger: more weight on transaction value, the top revenue band from 600万, tier A\n'
     '# from 88. Compare it with the version in use: tierwise diff relationship_rating.tier ' + CHALLENGER + '\n'
     'ruleset "客户关系评级" version "2026.2"'),
    ("dimension 交易价值 weight 30%", "dimension 交易价值 weight 35%"),
    ("dimension 潜力空间 weight 25%", "dimension 潜力空间 weight 20%"),
    (">= 500万 -> 10", ">= 600万 -> 10"),
    ('tier A "核心客户" when score >= 90', 'tier A "核心客户" when score >= 88'),
    ("expect score 80.625, tier B", "expect score 80.675, tier B"),
    ("expect score 86.55, tier B", "expect score 87, tier B"),
]
#: the ERP export two weeks later (for `tierwise rerate`): every 20th customer's orders of the last
#: twelve months at 40% of what they were, so their 年交易额 falls by more than 30%
FRESH_ORDERS = "orders_0715.parquet"
FRESH_AS_OF = date(2026, 7, 15)
#: the settings beside the demo's rule files (docs/actions.md): a pool of key-account managers
SETTINGS = """# tierwise settings of the demo (see docs/actions.md): addresses, pools and secrets' variable names
# live here, never in a rule file. The key-account managers `assign_manager(pool: "KA")` hands out:
[managers.KA]
managers = ["张三", "李四", "王五"]
capacity = 40
"""


def write_walkthrough_files(directory: str | Path, as_of: date = date(2026, 6, 30)) -> list[Path]:
    """Beside the demo data: the challenger ruleset, a fresh ERP export and a tierwise.toml with a pool
    of managers, so that every ``Example:`` of the command help runs as written in the demo directory."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    out = Path(directory)
    text = RULESET.read_text(encoding="utf-8")
    for old, new in CHALLENGER_CHANGES:
        if old not in text:  # the shipped ruleset changed: the challenger must follow it
            raise ValueError(f"{RULESET.name} no longer says {old!r}")
        text = text.replace(old, new, 1)
    challenger = out / CHALLENGER
    challenger.write_text(text, encoding="utf-8")

    orders = pq.read_table(out / "orders.parquet")
    number = pc.cast(pc.utf8_slice_codeunits(orders["客户编号"], 2), pa.int64())
    since = pa.scalar(FRESH_AS_OF.replace(year=FRESH_AS_OF.year - 1), pa.date32())
    # pyarrow-stubs 20 lack pc.remainder (pyarrow has it) and take no Python int for a scalar
    fell = pc.and_(pc.equal(pc.remainder(number, 20), 7),  # type: ignore[attr-defined, call-overload]
                   pc.greater_equal(pc.cast(orders["下单日期"], pa.date32()), since))
    for column in ("金额", "毛利"):
        scaled = pc.round(pc.multiply(orders[column], 0.4), 2)
        orders = orders.set_column(orders.schema.get_field_index(column), column,
                                   pc.if_else(fell, scaled, orders[column]))
    fresh = out / FRESH_ORDERS
    pq.write_table(orders, fresh)
    settings = out / "tierwise.toml"
    if not settings.exists():  # a user's own settings stay
        settings.write_text(SETTINGS, encoding="utf-8")
    return [challenger, fresh, settings]
