"""Built-in connectors: csv, xlsx, parquet, json, sql.

Text sources (csv, xlsx) come in as text columns: the engine types each
column by how the rules use it and counts the cells that do not parse.
Empty cells are NULL. Heavy libraries are imported inside ``open``.
"""
from __future__ import annotations

import codecs
import difflib
import itertools
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from tierwise.engine.hookspecs import hookimpl
from tierwise.engine.plugin_api import Connector, ConnectorContext, DataError, PluginOptions

_names = itertools.count()
CHUNK = 1 << 20


def _unique(prefix: str) -> str:
    return f"tierwise_{prefix}_{next(_names)}"


def existing_file(ctx: ConnectorContext, path: str) -> Path:
    """The resolved path, or a DataError that suggests a similar file name."""
    p = ctx.resolve(path)
    if any(ch in path for ch in "*?["):
        return p
    if not p.exists():
        parent = p.parent
        hint = ""
        if parent.is_dir():
            close = difflib.get_close_matches(p.name, [c.name for c in parent.iterdir()], n=1, cutoff=0.5)
            if close:
                hint = f" — did you mean '{close[0]}'?"
        raise DataError(f"file not found: {p}{hint}")
    return p


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


# ---- csv -------------------------------------------------------------------------------


class CsvOptions(PluginOptions):
    path: str = Field(description="file path, relative to the rule file")
    encoding: str = Field("auto", description='"auto" (UTF-8, else GB18030), or any codec: "gbk", "utf-8-sig", ...')
    delimiter: str = Field(",", description='field separator, e.g. "," ";" "\\t"; .tsv files default to tab')
    header: bool = Field(True, description="the first row holds the column names")
    skip_rows: int = Field(0, ge=0, description="lines to skip before the header")

    @model_validator(mode="after")
    def _check(self):
        if self.encoding != "auto":
            try:
                codecs.lookup(self.encoding)
            except LookupError:
                raise ValueError(f"unknown encoding '{self.encoding}' (try \"gbk\", \"gb18030\", \"utf-8\")")
        if len(self.delimiter.encode("utf-8")) != 1 and self.delimiter != "\t":
            raise ValueError("delimiter must be one character")
        return self


def _is_utf8(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                return False
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def transcode(src: Path, dst: Path, encoding: str) -> None:
    """Stream ``src`` in ``encoding`` into UTF-8 ``dst`` (fixed-size chunks, never the whole file)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with open(src, "rb") as fin, open(dst, "w", encoding="utf-8", newline="") as fout:
        first = True
        while chunk := fin.read(CHUNK):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                pos = offset + exc.start
                raise DataError(f"{src.name}: bytes at offset {pos} are not valid {encoding} "
                                f"— try encoding: \"gb18030\", \"gbk\" or \"utf-8\"") from None
            if first:
                text = text.lstrip("\ufeff")
                first = False
            fout.write(text)
            offset += len(chunk)
        fout.write(decoder.decode(b"", final=True))


class CsvConnector(Connector):
    """Reads a CSV/TSV export; GBK/GB18030 and UTF-8 (with or without BOM) are detected."""

    name = "csv"
    Options = CsvOptions
    suffixes = (".csv", ".tsv", ".txt")

    def open(self, options: CsvOptions, ctx: ConnectorContext):
        path = existing_file(ctx, options.path)
        encoding = options.encoding.lower().replace("_", "-")
        if encoding == "auto":
            encoding = "utf-8" if _is_utf8(path) else "gb18030"
        if encoding in ("utf-8", "utf8", "utf-8-sig"):
            src = path
        else:
            ctx.temp_dir.mkdir(parents=True, exist_ok=True)
            src = ctx.temp_dir / (_unique("csv") + ".csv")
            transcode(path, src, encoding)
        delim = options.delimiter
        if path.suffix.lower() == ".tsv" and delim == ",":
            delim = "\t"
        name = _unique("csv")
        sql = (f"CREATE TEMP VIEW {name} AS SELECT * FROM read_csv({_sql_str(str(src))}, all_varchar=true, "
               f"header={'true' if options.header else 'false'}, delim={_sql_str(delim)}, "
               f"skip={options.skip_rows}, quote='\"', escape='\"', strict_mode=true, null_padding=false, "
               f"auto_detect=true, normalize_names=false)")
        try:
            ctx.con.raw_sql(sql)
            table = ctx.table(name)
            # force a full read now, so a malformed file fails here with its line number
            ctx.con.raw_sql(f"SELECT count(*) FROM {name}").fetchall()
        except Exception as exc:  # duckdb.Error: report the first line of DuckDB's message
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            line = re.search(r"[Ll]ine:? ?(\d+)", str(exc))
            where = f" (line {line.group(1)})" if line else ""
            raise DataError(f"{path.name}: cannot read as CSV{where}: {msg}") from None
        renames = {c: c.strip().lstrip("\ufeff") for c in table.columns if c != c.strip().lstrip("\ufeff")}
        if renames:
            table = table.rename({new: old for old, new in renames.items()})
        return table


# ---- xlsx ------------------------------------------------------------------------------


class XlsxOptions(PluginOptions):
    path: str = Field(description="workbook path, relative to the rule file")
    sheet: str | int | None = Field(None, description="sheet name or 0-based index; default: the first sheet")
    header_row: int = Field(1, ge=1, description="1-based row holding the column names")


def _cell_text(value) -> str | None:
    import datetime as dt

    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d") if value.time() == dt.time(0) else value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    return text if text.strip() else None


class XlsxConnector(Connector):
    """Reads one sheet of an Excel workbook (values, not formulas); all cells as text."""

    name = "xlsx"
    Options = XlsxOptions
    suffixes = (".xlsx", ".xlsm")

    def open(self, options: XlsxOptions, ctx: ConnectorContext):
        import pyarrow as pa
        from openpyxl import load_workbook

        path = existing_file(ctx, options.path)
        try:
            wb = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:
            raise DataError(f"{path.name}: not a readable .xlsx workbook ({exc})") from None
        try:
            names = wb.sheetnames
            if options.sheet is None:
                ws = wb[names[0]]
            elif isinstance(options.sheet, int):
                if not 0 <= options.sheet < len(names):
                    raise DataError(f"{path.name} has {len(names)} sheet(s); sheet {options.sheet} does not exist "
                                    f"(sheets: {', '.join(names)})")
                ws = wb[names[options.sheet]]
            elif options.sheet not in names:
                close = difflib.get_close_matches(options.sheet, names, n=1)
                raise DataError(f"{path.name} has no sheet '{options.sheet}'; sheets: {', '.join(names)}"
                                + (f" — did you mean '{close[0]}'?" if close else ""))
            else:
                ws = wb[options.sheet]
            rows = ws.iter_rows(values_only=True)
            header = None
            for i, row in enumerate(rows, start=1):
                if i == options.header_row:
                    header = row
                    break
            if header is None:
                raise DataError(f"{path.name}: sheet '{ws.title}' has no row {options.header_row} for the header")
            columns: list[str] = []
            seen: dict[str, int] = {}
            for j, h in enumerate(header, start=1):
                text = (_cell_text(h) or "").strip() or f"column_{j}"
                if text in seen:
                    seen[text] += 1
                    text = f"{text}_{seen[text]}"
                else:
                    seen[text] = 1
                columns.append(text)
            data: list[list[str | None]] = [[] for _ in columns]
            pending_empty = 0
            for row in rows:
                values = [_cell_text(v) for v in row[: len(columns)]]
                values += [None] * (len(columns) - len(values))
                if all(v is None for v in values):
                    pending_empty += 1  # trailing empty rows are dropped; inner ones kept
                    continue
                for _ in range(pending_empty):
                    for col in data:
                        col.append(None)
                pending_empty = 0
                for col, v in zip(data, values):
                    col.append(v)
        finally:
            wb.close()
        table = pa.table({c: pa.array(v, pa.string()) for c, v in zip(columns, data)})
        return ctx.con.create_table(_unique("xlsx"), table, temp=True)


# ---- parquet and json --------------------------------------------------------------------


class ParquetOptions(PluginOptions):
    path: str = Field(description="file path or glob, relative to the rule file")


class ParquetConnector(Connector):
    """Reads Parquet files (typed as stored)."""

    name = "parquet"
    Options = ParquetOptions
    suffixes = (".parquet", ".pq")

    def open(self, options: ParquetOptions, ctx: ConnectorContext):
        path = existing_file(ctx, options.path)
        name = _unique("parquet")
        try:  # a plain view: DuckDB reads the file lazily, in the scoring query itself
            ctx.con.raw_sql(f"CREATE TEMP VIEW {name} AS SELECT * FROM read_parquet({_sql_str(str(path))})")
            return ctx.table(name)
        except Exception as exc:
            raise DataError(f"{path.name}: cannot read as Parquet: {str(exc).splitlines()[0]}") from None


class JsonOptions(PluginOptions):
    path: str = Field(description="file path, relative to the rule file")
    format: Literal["auto", "array", "lines"] = Field("auto", description="a JSON array of objects, or JSON Lines")


class JsonConnector(Connector):
    """Reads JSON (an array of objects) or JSON Lines."""

    name = "json"
    Options = JsonOptions
    suffixes = (".json", ".jsonl", ".ndjson")

    def open(self, options: JsonOptions, ctx: ConnectorContext):
        path = existing_file(ctx, options.path)
        fmt = {"auto": "auto", "array": "array", "lines": "newline_delimited"}[options.format]
        name = _unique("json")
        try:
            ctx.con.raw_sql(f"CREATE TEMP VIEW {name} AS SELECT * FROM read_json_auto({_sql_str(str(path))}, "
                            f"format={_sql_str(fmt)})")
            ctx.con.raw_sql(f"SELECT count(*) FROM {name}").fetchall()
            return ctx.table(name)
        except Exception as exc:
            raise DataError(f"{path.name}: cannot read as JSON: {str(exc).splitlines()[0]}") from None


# ---- sql ---------------------------------------------------------------------------------


class SqlOptions(PluginOptions):
    url: str = Field(description="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db; use env(\"VAR\")")
    table: str | None = Field(None, description="table to read")
    query: str | None = Field(None, description="SELECT to run instead of a table")
    db_schema: str | None = Field(None, description="schema of the table")
    batch_size: int = Field(50_000, gt=0, description="rows fetched per round trip")

    @model_validator(mode="after")
    def _one_of(self):
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of table: or query:")
        return self


def mask_url(url: str) -> str:
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


class SqlConnector(Connector):
    """Reads a table or query from any database SQLAlchemy supports, streamed in batches."""

    name = "sql"
    Options = SqlOptions
    positional = ("url",)
    location_option = "url"

    def open(self, options: SqlOptions, ctx: ConnectorContext):
        import decimal

        import pyarrow as pa
        import sqlalchemy as sa

        try:
            engine = sa.create_engine(options.url)
        except Exception as exc:
            raise DataError(f"bad database URL {mask_url(options.url)}: {exc}") from None
        try:
            with engine.connect() as conn:
                if options.table is not None:
                    meta = sa.MetaData()
                    try:
                        table = sa.Table(options.table, meta, autoload_with=conn, schema=options.db_schema)
                    except sa.exc.NoSuchTableError:
                        names = sa.inspect(conn).get_table_names(schema=options.db_schema)
                        close = difflib.get_close_matches(options.table, names, n=1)
                        raise DataError(f"no table '{options.table}' in {mask_url(options.url)}"
                                        + (f" — did you mean '{close[0]}'?" if close else "")) from None
                    stmt = sa.select(table)
                else:
                    stmt = sa.text(options.query)
                result = conn.execution_options(stream_results=True).execute(stmt)
                columns = list(result.keys())
                batches = []
                while rows := result.fetchmany(options.batch_size):
                    cols = list(zip(*rows))
                    arrays = []
                    for values in cols:
                        if any(isinstance(v, decimal.Decimal) for v in values):
                            values = [None if v is None else float(v) for v in values]
                        arrays.append(pa.array(list(values)))
                    batches.append(pa.table(arrays, names=columns))
        except DataError:
            raise
        except Exception as exc:
            raise DataError(f"reading {mask_url(options.url)} failed: {str(exc).splitlines()[0]}") from None
        finally:
            engine.dispose()
        if batches:
            data = pa.concat_tables(batches, promote_options="permissive")
        else:
            data = pa.table({c: pa.array([], pa.string()) for c in columns})
        return ctx.con.create_table(_unique("sql"), data, temp=True)


@hookimpl
def tierwise_register_connectors():
    return [CsvConnector, XlsxConnector, ParquetConnector, JsonConnector, SqlConnector]
