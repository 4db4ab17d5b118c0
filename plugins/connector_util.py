"""Helpers the built-in connectors share: names, file checks, header checks, nested columns."""
from __future__ import annotations

import difflib
import glob
import itertools
from pathlib import Path
from typing import Any

from tierwise.engine.plugin_api import ConnectorContext, DataError, lists_table

_names = itertools.count()

# first bytes of file formats a user may hand to the wrong connector
MAGIC = (
    (b"PK\x03\x04", "xlsx"),  # a zip: .xlsx/.xlsm (or another zip)
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "xls"),  # OLE2 compound file: Excel 97-2003 .xls
    (b"PAR1", "parquet"),
    (b"SQLite format 3\x00", "sqlite"),
)
USE = {
    "xlsx": "it is an Excel workbook: use xlsx(...)",
    "xls": "it is an old Excel .xls workbook: save it as .xlsx (Excel: File > Save As) and use xlsx(...)",
    "parquet": "it is a Parquet file: use parquet(...)",
    "sqlite": "it is a SQLite database: use sql(\"sqlite:///FILE\", table: \"...\")",
}


def unique_name(prefix: str) -> str:
    return f"tierwise_{prefix}_{next(_names)}"


def text_table(ctx: ConnectorContext, prefix: str, columns: dict[str, list[Any]], types: list[str] | None = None) -> Any:
    """A temporary table of text columns (or of the DuckDB ``types`` given, one per column: VARCHAR,
    DOUBLE, TIMESTAMP) on the connector's DuckDB connection, made by DuckDB from the Python lists
    themselves (query parameters, unnested side by side in order): no pyarrow — whose import, with
    numpy's, cost more than reading a demo's sheet (0.37 s) — and no pandas (Ibis's ``create_table`` of
    a pyarrow table imports it)."""
    name = unique_name(prefix)
    lists_table(ctx.con.con, name, columns, types or ["VARCHAR"] * len(columns))  # the connection under Ibis's
    return ctx.table(name)


def sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def sql_ident(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def is_glob(path: str) -> bool:
    """Whether a source's path is a pattern (``orders_*.parquet``) rather than one file's name."""
    return any(ch in path for ch in "*?[")


def existing_file(ctx: ConnectorContext, path: str) -> Path:
    """The resolved path, or a DataError that suggests a similar file name. A glob must match a file."""
    p = ctx.resolve(path)
    if is_glob(path):
        if not glob.glob(str(p)):
            raise DataError(f"no file matches {p}")
        return p
    if not p.is_file():
        parent = p.parent
        hint = ""
        if p.is_dir():
            hint = " (it is a folder)"
        elif parent.is_dir():
            close = difflib.get_close_matches(p.name, [c.name for c in parent.iterdir()], n=1, cutoff=0.5)
            if close:
                hint = f" — did you mean '{close[0]}'?"
        raise DataError(f"file not found: {p}{hint}")
    return p


def file_kind(path: Path) -> str | None:
    """What the first bytes say the file is ("xlsx", "xls", "parquet", "sqlite", "html"), or None."""
    with open(path, "rb") as fh:
        head = fh.read(512)
    for magic, kind in MAGIC:
        if head.startswith(magic):
            return kind
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<html", b"<!doctype html", b"<table", b"<?xml")):
        return "html"
    return None


def check_unique_columns(names: list[str], what: str, ctx: ConnectorContext | None = None,
                         fix: str = "rename them so each column has its own name") -> list[str]:
    """The column names, each once. A name that appears more than once is a DataError when the
    rules read it (or which columns they read is not known); otherwise its later copies are
    renamed 备注_2, 备注_3 and reported, so an export with two unused 备注 columns still reads."""
    where: dict[str, list[int]] = {}
    for i, n in enumerate(names, start=1):
        where.setdefault(n, []).append(i)
    dups = [(n, pos) for n, pos in where.items() if len(pos) > 1]
    if not dups:
        return names
    if ctx is None or ctx.columns is None or any(n in ctx.columns for n, _ in dups):
        parts = [f"column {n} appears {len(pos)} times in {what} (columns {', '.join(map(str, pos))})"
                 if len(pos) > 2 else f"column {n} appears twice in {what} (columns {pos[0]} and {pos[1]})"
                 for n, pos in dups]
        raise DataError("; ".join(parts) + f" — {fix}")
    out, taken = list(names), set(names)
    for n, pos in dups:
        for k, i in enumerate(pos[1:], start=2):
            new = f"{n}_{k}"
            while new in taken:
                new += "_"
            taken.add(new)
            out[i - 1] = new
        ctx.report(f"column name repeated in {what}, not read by the rules (renamed {n}_2…)", n, len(pos),
                   [f"columns {', '.join(map(str, pos))}"])
    return out


def _flat(expr: str, name: str, dtype: Any, out: list[tuple[str, str]]) -> bool:
    """Append (sql, column name) for one column; True when it was changed."""
    kind, text = dtype.id, str(dtype)
    if text == "JSON":  # mixed JSON values: scalars as plain text, objects/arrays as JSON text
        out.append((f"{expr} ->> '$'", name))
        return True
    if kind == "struct" and dtype.children:
        for field, ftype in dtype.children:
            _flat(f"{expr}.{sql_ident(field)}", f"{name}.{field}", ftype, out)
        return True
    if kind in ("list", "array", "map", "union", "struct"):
        out.append((f"CAST(to_json({expr}) AS VARCHAR)", name))
        return True
    out.append((expr, name))
    return False


def flatten_nested(ctx: ConnectorContext, view: str, what: str) -> str:
    """A view over ``view`` where nested objects become dotted columns (地址.省), arrays and
    maps JSON text, and mixed JSON values plain text; ``view`` itself when nothing is nested."""
    rel = ctx.con.con.sql(f"SELECT * FROM {sql_ident(view)}")
    out: list[tuple[str, str]] = []
    changed = False
    for col, dtype in zip(rel.columns, rel.types):
        changed |= _flat(sql_ident(col), col, dtype, out)
    if not changed:
        return view
    names = check_unique_columns([n for _, n in out], what + " (after nested fields became dotted columns)", ctx)
    out = [(sql, n) for (sql, _), n in zip(out, names)]
    flat = unique_name("flat")
    select = ", ".join(f"{sql} AS {sql_ident(n)}" for sql, n in out)
    ctx.con.raw_sql(f"CREATE TEMP VIEW {flat} AS SELECT {select} FROM {sql_ident(view)}")
    return flat


def first_line(exc: BaseException, replace: dict[str, str] | None = None) -> str:
    """The first non-empty line of an exception's message, with paths replaced (temp files by
    the user's file name) and DuckDB's "Invalid Input Error:"-style prefixes dropped."""
    text = str(exc)
    for old, new in (replace or {}).items():
        text = text.replace(old, new)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    line = lines[0] if lines else type(exc).__name__
    for prefix in ("Invalid Input Error: ", "Conversion Error: ", "IO Error: ", "Binder Error: ",
                   "Invalid Error: ", "Parser Error: "):
        if line.startswith(prefix):
            line = line[len(prefix):]
    return line
