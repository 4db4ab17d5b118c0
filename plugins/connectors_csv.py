"""The csv connector: CSV/TSV exports in UTF-8, GBK/GB18030 or UTF-16, every cell as text.

The header is read here (so duplicate names are reported, not renamed), the delimiter is taken
from the header line unless given, and the file is read once up front with DuckDB keeping its
rejected lines, so a ragged or broken line is reported with its line number and real cause.
"""
from __future__ import annotations

import codecs
import csv
import re
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from tierwise.engine.plugin_api import Connector, ConnectorContext, DataError, PluginOptions

from .connector_util import USE, check_unique_columns, existing_file, file_kind, first_line, sql_str, unique_name
from .text_encoding import bom_encoding, codec_name, detect, utf8_copy

DELIMITERS = (",", "\t", ";", "|")
SAMPLE_LINES = 50


class CsvOptions(PluginOptions):
    path: str = Field(description="file path, relative to the rule file")
    encoding: str = Field("auto", description='"auto" (a byte-order mark, else UTF-8, else GB18030), '
                                              'or any codec: "gbk", "utf-8-sig", "utf-16", ...')
    delimiter: str | None = Field(None, description='field separator, e.g. "," ";" "\\t"; default: the one the '
                                                    'header line uses; tab for .tsv and UTF-16 ("Unicode text")')
    header: bool = Field(True, description="the first row holds the column names")
    skip_rows: int = Field(0, ge=0, description="lines to skip before the header (a title line above it)")

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        if value != "auto":
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(f"unknown encoding '{value}' (try \"auto\", \"gbk\", \"gb18030\", \"utf-8\")") from None
        return value

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str | None) -> str | None:
        if value is not None and (len(value) != 1 or value in "\"\r\n"):
            raise ValueError('delimiter must be one character other than a quote or line break, e.g. ";" or "\\t"')
        return value


def read_head(src: Path, skip: int, delimiter: str | None) -> tuple[str, list[list[str]]]:
    """(delimiter, the first records after ``skip`` lines) of a UTF-8 file."""
    with open(src, encoding="utf-8-sig", newline="") as fh:
        for _ in range(skip):
            if not fh.readline():
                return delimiter or ",", []
        start = fh.tell()
        first = fh.readline()
        if delimiter is None:
            counts = {d: first.count(d) for d in DELIMITERS}
            best = max(DELIMITERS, key=lambda d: counts[d])  # ties keep the earlier (comma first)
            delimiter = best if counts[best] else ","
        fh.seek(start)
        records = []
        for rec in csv.reader(fh, delimiter=delimiter, quotechar='"', doublequote=True):
            if rec:  # blank lines are skipped, as DuckDB does
                records.append(rec)
            if len(records) >= SAMPLE_LINES:
                break
    return delimiter, records


def title_hint(records: list[list[str]], skip: int) -> str | None:
    """"add skip_rows: N" when the first records have fewer fields than the rows below them,
    which (nearly) all have the same number of fields."""
    if len(records) < 2:
        return None
    common = Counter(len(r) for r in records[1:]).most_common(1)[0][0]
    n = next(i for i, r in enumerate(records) if len(r) == common)
    below = records[n:]
    if n == 0 or any(len(r) > common for r in records[:n]) or sum(len(r) == common for r in below) < 0.9 * len(below):
        return None
    lines = "line 1 looks" if n == 1 else f"the first {n} lines look"
    return f"{lines} like a title above the header ({', '.join(records[0])[:40]!r}): add skip_rows: {skip + n}"


def reject_summary(rows: list[tuple[Any, ...]], expected: int, count: int) -> str:
    """'line 3: 3 field(s), not 2; ...' for DuckDB's rejected lines (rows of line, error type,
    message, ordered by line and column: the last one of a line counts) of ``count`` lines in all."""
    by_line = {line: (error_type, message) for line, error_type, message in rows}
    parts = []
    for line, (error_type, message) in by_line.items():
        found = re.search(r"Found: (\d+)", message or "")
        if error_type in ("TOO MANY COLUMNS", "MISSING COLUMNS") and found:
            parts.append(f"line {line}: {found.group(1)} field(s), not {expected}")
        elif error_type == "UNQUOTED VALUE":
            parts.append(f"line {line}: a quote is not closed, or text follows a closing quote")
        else:
            parts.append(f"line {line}: {message}")
    more = f"; … {count - len(by_line)} more" if count > len(by_line) else ""
    return "; ".join(parts) + more


def column_names(path: Path, options: CsvOptions, delimiter: str, records: list[list[str]],
                 ctx: ConnectorContext | None = None) -> list[str]:
    """The header's names (stripped; an empty one becomes column_N), or column_1.. without a header."""
    if not records:
        if options.skip_rows:
            raise DataError(f"{path.name} has nothing after the {options.skip_rows} line(s) skip_rows skips")
        raise DataError(f"{path.name} is empty")
    first = records[0]
    if not options.header:
        return [f"column_{j}" for j in range(1, len(first) + 1)]
    names = [c.strip().lstrip("\ufeff").strip() or f"column_{j}" for j, c in enumerate(first, start=1)]
    names = check_unique_columns(names, f"the header of {path.name}", ctx)
    other = [d for d in DELIMITERS if d != delimiter and d in first[0]]
    if options.delimiter is not None and len(names) == 1 and other:
        raise DataError(f"{path.name}: the header is one column {first[0][:60]!r} with delimiter "
                        f"{delimiter!r}: is the delimiter {other[0]!r}? set delimiter: {other[0]!r}")
    return names


def scan(ctx: ConnectorContext, args: str, path: Path, src: Path) -> tuple[int, int, list[tuple[Any, ...]]]:
    """Read the whole file once, keeping DuckDB's rejected lines: (number of good lines, number of
    bad lines, the first bad ones' line, error type and message)."""
    rejects, scans = unique_name("rejects"), unique_name("scans")
    try:
        good = ctx.con.raw_sql(f"SELECT count(*) FROM read_csv({args}, store_rejects=true, "
                               f"rejects_table={sql_str(rejects)}, rejects_scan={sql_str(scans)})").fetchall()[0][0]
        count = ctx.con.raw_sql(f"SELECT count(DISTINCT line) FROM {rejects}").fetchone()[0]
        bad = ctx.con.raw_sql(f"SELECT line, error_type, error_message FROM {rejects} WHERE line IN "
                              f"(SELECT DISTINCT line FROM {rejects} ORDER BY line LIMIT 3) "
                              f"ORDER BY line, column_idx").fetchall() if count else []
        for table in (rejects, scans):
            ctx.con.raw_sql(f"DROP TABLE IF EXISTS {table}")
    except Exception as exc:  # duckdb.Error: never show the path of a transcoded copy
        raise DataError(f"{path.name}: cannot read as CSV: {first_line(exc, {str(src): path.name})}") from None
    return good, count, bad


class CsvConnector(Connector):
    """Reads a CSV/TSV export; UTF-8 (with or without BOM), GBK/GB18030 and UTF-16 are detected."""

    name = "csv"
    Options = CsvOptions
    suffixes = (".csv", ".tsv", ".txt")

    def open(self, options: CsvOptions, ctx: ConnectorContext) -> Any:  # an Ibis table
        path = existing_file(ctx, options.path)
        kind = file_kind(path)
        if kind in USE:
            raise DataError(f"{path.name} is not a CSV file: {USE[kind]}")
        if kind == "html":
            raise DataError(f"{path.name} is an HTML page, not a CSV file (some systems export tables as HTML "
                            f"named .xls): open it in Excel and save it as .xlsx or .csv")
        encoding = detect(path) if options.encoding == "auto" else options.encoding
        src = utf8_copy(path, encoding, ctx.temp_dir / (unique_name("csv") + ".csv"))
        delimiter = options.delimiter
        if delimiter is None and (path.suffix.lower() == ".tsv" or codec_name(encoding).startswith("utf-16")
                                  or bom_encoding(path) == "utf-16"):
            delimiter = "\t"  # Excel's "Unicode text" is UTF-16 and tab-separated
        delimiter, records = read_head(src, options.skip_rows, delimiter)
        names = column_names(path, options, delimiter, records, ctx)
        columns = "{" + ", ".join(f"{sql_str(n)}: 'VARCHAR'" for n in names) + "}"
        args = (f"{sql_str(str(src))}, columns={columns}, header={'true' if options.header else 'false'}, "
                f"skip={options.skip_rows}, delim={sql_str(delimiter)}, quote='\"', escape='\"', "
                f"strict_mode=true, null_padding=false, auto_detect=false, comment=''")
        good, count, bad = scan(ctx, args, path, src)
        if count and count <= good:  # a few broken lines: skip them, counted and reported with their causes
            ctx.report(f"line does not fit the {len(names)} column(s) of the header (skipped)", "",
                       count, reject_summary(bad, len(names), count).split("; "))
            args += ", ignore_errors=true"
        elif count:  # most lines do not fit: the file is not what the options say
            hint = title_hint(records, options.skip_rows) if options.header else None
            if hint is None and any(r[1] == "TOO MANY COLUMNS" for r in bad):
                hint = f"a value containing {delimiter!r} must be in double quotes (or is the delimiter another one?)"
            raise DataError(f"{path.name}: {count} line(s) do not fit the {len(names)} column(s) of "
                            f"{'the header' if options.header else 'the first line'} (nothing was read) — "
                            f"{reject_summary(bad, len(names), count)}" + (f"; {hint}" if hint else ""))
        view = unique_name("csv")
        ctx.con.raw_sql(f"CREATE TEMP VIEW {view} AS SELECT * FROM read_csv({args})")
        return ctx.table(view)
