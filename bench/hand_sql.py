"""Run bench/hand.sql: python bench/hand_sql.py CUSTOMERS.parquet OUT.parquet"""
import sys
from pathlib import Path

import duckdb

sql = (Path(__file__).parent / "hand.sql").read_text(encoding="utf-8")
src, out = (a.replace("'", "''") for a in sys.argv[1:3])
duckdb.connect().execute(sql.format(src=src, out=out))
