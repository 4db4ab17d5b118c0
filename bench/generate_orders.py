"""Generate the RFM bench data: N customers (default 1M) and M order rows (default 50M), as Parquet.

    python bench/generate_orders.py [--customers N] [--orders M] [--out bench/data] [--seed S]

crm_<N>.parquet: 客户编号, 客户名称 (the CRM master rulesets/rfm.tier reads);
orders_<N>_<M>.parquet: 客户编号, 下单日期 (2021-07 .. 2026-06), 金额, 订单状态 (已完成 88%, 已取消 7%,
已退货 5%), written in chunks so memory stays small; ~0.5% of the customers never ordered.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

CHUNK = 5_000_000
STATUS = np.array(["已完成", "已取消", "已退货"])


def keys(ids: np.ndarray) -> pa.Array:
    return pa.array(np.char.add("KH", np.char.zfill(ids.astype(str), 7)))


def write(customers: int, orders: int, out: Path, seed: int) -> tuple[Path, Path]:
    r = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    cpath, opath = out / f"crm_{customers}.parquet", out / f"orders_{customers}_{orders}.parquet"
    ids = np.arange(1, customers + 1)
    pq.write_table(pa.table({"客户编号": keys(ids), "客户名称": pa.array(np.char.add("客户", ids.astype(str)))}), cpath)
    # order counts per customer are skewed (a few big accounts order a lot); 0.5% never order
    weights = r.pareto(1.5, customers) + 0.05
    weights[r.random(customers) < 0.005] = 0
    weights /= weights.sum()
    schema = pa.schema([("客户编号", pa.string()), ("下单日期", pa.date32()), ("金额", pa.float64()),
                        ("订单状态", pa.string())])
    first_day = np.datetime64("2021-07-01")
    span = (np.datetime64("2026-06-30") - first_day).astype(int) + 1
    with pq.ParquetWriter(opath, schema) as writer:
        left = orders
        while left:
            n = min(CHUNK, left)
            who = r.choice(ids, size=n, p=weights)
            day = first_day + r.integers(0, span, n).astype("timedelta64[D]")
            amount = np.round(r.lognormal(10.5, 1.2, n), 2)
            status = STATUS[np.searchsorted([0.88, 0.95], r.random(n), side="right")]
            writer.write_table(pa.table({"客户编号": keys(who), "下单日期": pa.array(day.astype("datetime64[D]")),
                                         "金额": amount, "订单状态": status}, schema=schema))
            left -= n
    return cpath, opath


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--orders", type=int, default=50_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "data")
    args = ap.parse_args()
    for p in write(args.customers, args.orders, args.out, args.seed):
        print(f"wrote {p}")


if __name__ == "__main__":
    main()
