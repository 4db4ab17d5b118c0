"""Generate N customers (default 1,000,000) with the columns of the relationship scorecard, as Parquet.

    python bench/generate.py [--rows N] [--out bench/data/customers.parquet] [--seed S]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def generate(rows: int, seed: int) -> pa.Table:
    r = np.random.default_rng(seed)
    start = np.datetime64("2010-01-01") + r.integers(0, 6000, rows).astype("timedelta64[D]")
    revenue = r.lognormal(14.2, 1.1, rows)
    revenue[r.random(rows) < 0.01] = np.nan  # ~1% missing
    return pa.table({
        "客户编号": pa.array(np.char.add("C", np.char.zfill(np.arange(1, rows + 1).astype(str), 7))),
        "年交易额": pa.array(revenue, from_pandas=True),
        "客单价": r.lognormal(9.5, 1.0, rows),
        "利润贡献率": r.uniform(0, 0.5, rows),
        "合作起始时间": pa.array(start.astype("datetime64[D]")),
        "续约率": r.uniform(0, 1, rows),
        "投诉次数": r.poisson(1.5, rows),
        "售后咨询量": r.poisson(8, rows),
        "定制化需求频次": r.poisson(2.5, rows),
        "服务响应满意度": r.uniform(1, 5, rows),
        "行业增长率": r.normal(0.05, 0.1, rows),
        "客户规模扩张速度": r.uniform(-0.1, 0.5, rows),
        "新产品采购意向": r.integers(1, 11, rows),
        "重大投诉": (r.random(rows) < 0.03).astype(np.int64),
    })


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "data" / "customers.parquet")
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(generate(args.rows, args.seed), args.out)
    print(f"wrote {args.rows} customers to {args.out}")


if __name__ == "__main__":
    main()
