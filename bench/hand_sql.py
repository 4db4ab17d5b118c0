"""Run a hand-written DuckDB SQL of a bench: python bench/hand_sql.py SQL_FILE OUT.parquet NAME=PATH... [--columns A,B]

The SQL is a COPY (query) TO '{out}' statement; NAME=PATH fills {NAME}. With --columns only those
columns of the query are written (DuckDB prunes what they do not need, as a narrower hand query would).
"""
import argparse
from pathlib import Path

import duckdb

ap = argparse.ArgumentParser()
ap.add_argument("sql", type=Path)
ap.add_argument("out")
ap.add_argument("inputs", nargs="*", metavar="NAME=PATH")
ap.add_argument("--columns")
args = ap.parse_args()
sql = args.sql.read_text(encoding="utf-8")
fill = {k: v.replace("'", "''") for k, v in (i.split("=", 1) for i in args.inputs)}
fill["out"] = args.out.replace("'", "''")
if args.columns:
    head, tail = "COPY (", ") TO '{out}' (FORMAT parquet)"
    body = sql[sql.index(head) + len(head):sql.rindex(tail)]
    cols = ", ".join('"' + c.replace('"', '""') + '"' for c in args.columns.split(","))
    sql = f"{sql[:sql.index(head)]}COPY (SELECT {cols} FROM ({body}) ORDER BY 1) TO '{{out}}' (FORMAT parquet)"
duckdb.connect().execute(sql.format(**fill))
