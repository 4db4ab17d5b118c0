"""The parquet and json connectors (typed as stored; nested objects become dotted columns)."""
from __future__ import annotations

import glob
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from tierwise.engine.plugin_api import Connector, ConnectorContext, DataError, PluginOptions

from .connector_util import USE, existing_file, file_kind, is_glob, first_line, flatten_nested, sql_ident, sql_str, unique_name
from .text_encoding import detect, utf8_copy

NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
           "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL")


class ParquetOptions(PluginOptions):
    path: str = Field(description="file path or glob (orders/*.parquet), relative to the rule file")


def _numeric(dtype: str) -> bool:
    return dtype.startswith(NUMERIC)


def parquet_source(ctx: ConnectorContext, files: list[str]) -> str:
    """SQL reading ``files`` as one table by column name. A column stored with different,
    not all numeric, types in different files is read as text from every file (the engine
    counts the cells that do not parse); a column missing from a file is empty in its rows."""
    if len(files) == 1:
        return f"read_parquet({sql_str(files[0])})"
    schemas: dict[str, dict[str, str]] = {}
    for f in files:
        described = ctx.con.con.execute(f"DESCRIBE SELECT * FROM read_parquet({sql_str(f)})").fetchall()
        schemas[f] = {r[0]: r[1] for r in described}
    types: dict[str, set[str]] = {}
    for schema in schemas.values():
        for col, dtype in schema.items():
            types.setdefault(col, set()).add(dtype)
    mixed = {c for c, ts in types.items() if len(ts) > 1 and not all(_numeric(t) for t in ts)}
    if not mixed:
        return f"read_parquet([{', '.join(map(sql_str, files))}], union_by_name=true)"
    parts = []
    for f, schema in schemas.items():
        casts = [f"CAST({sql_ident(c)} AS VARCHAR) AS {sql_ident(c)}" for c in schema if c in mixed]
        replace = f" REPLACE ({', '.join(casts)})" if casts else ""
        parts.append(f"SELECT *{replace} FROM read_parquet({sql_str(f)})")
    return "(" + " UNION ALL BY NAME ".join(parts) + ")"


class ParquetConnector(Connector):
    """Reads Parquet files (typed as stored); a glob reads several files as one table."""

    name = "parquet"
    Options = ParquetOptions
    suffixes = (".parquet", ".pq")

    def open(self, options: ParquetOptions, ctx: ConnectorContext) -> Any:  # an Ibis table
        path = existing_file(ctx, options.path)
        files = ([f for f in sorted(glob.glob(str(path))) if Path(f).is_file()]
                 if is_glob(options.path) else [str(path)])
        if not files:
            raise DataError(f"no file matches {path} (only folders)")
        names = {f: Path(f).name for f in files}
        for f in files:
            kind = file_kind(Path(f))
            if kind != "parquet":
                raise DataError(f"{Path(f).name} is not a Parquet file" + (f": {USE[kind]}" if kind in USE else ""))
        name = unique_name("parquet")
        try:  # a plain view: DuckDB reads the data lazily, in the scoring query itself
            source = parquet_source(ctx, files)
            ctx.con.raw_sql(f"CREATE TEMP VIEW {name} AS SELECT * FROM {source}")
            flat = flatten_nested(ctx, name, path.name)
            if flat == name and not source.startswith("("):  # plain files: the backend may read them itself
                native = ctx.native("parquet", files=files)
                if native is not None:
                    return native
            return ctx.table(flat)
        except DataError:
            raise
        except Exception as exc:
            raise DataError(f"{path.name}: cannot read as Parquet: {first_line(exc, names)}") from None


class JsonOptions(PluginOptions):
    path: str = Field(description="file path, relative to the rule file")
    format: Literal["auto", "array", "lines"] = Field("auto", description="a JSON array of objects, or JSON Lines")


def _read(ctx: ConnectorContext, path: Path, fmt: str, full_sample: bool) -> str:
    """A view reading the file's records; every column read once, so conversion errors surface here."""
    name = unique_name("json")
    sample = ", sample_size=-1" if full_sample else ""
    ctx.con.raw_sql(f"CREATE TEMP VIEW {name} AS SELECT * FROM read_json_auto({sql_str(str(path))}, "
                    f"format={sql_str(fmt)}, records=true{sample})")
    ctx.con.raw_sql(f"SELECT count(COLUMNS(*)) FROM {name}").fetchall()
    return name


class JsonConnector(Connector):
    """Reads JSON (an array of objects) or JSON Lines. Values of mixed types in one field come
    through as text; nested objects as dotted columns (地址.省); arrays as JSON text."""

    name = "json"
    Options = JsonOptions
    suffixes = (".json", ".jsonl", ".ndjson")

    def open(self, options: JsonOptions, ctx: ConnectorContext) -> Any:  # an Ibis table
        path = existing_file(ctx, options.path)
        # UTF-16 (PowerShell's default) or GB18030 text is read as UTF-8; a UTF-8 file as it is
        src = utf8_copy(path, detect(path), ctx.temp_dir / (unique_name("json") + path.suffix))
        with open(src, "rb") as fh:
            if not fh.read(4096).strip(b"\xef\xbb\xbf \t\r\n") and src.stat().st_size <= 4096:
                raise DataError(f"{path.name} is empty")
        fmt = {"auto": "auto", "array": "array", "lines": "newline_delimited"}[options.format]
        names = {str(src): path.name, f'in file "{path.name}", ': ""}
        try:
            try:
                name = _read(ctx, src, fmt, full_sample=False)
            except Exception as exc:  # a type seen only after the sampled rows: infer from every row
                if "expected records" in str(exc) or "Malformed JSON" in str(exc):
                    raise
                name = _read(ctx, src, fmt, full_sample=True)
        except Exception as exc:
            if "expected records" in str(exc):
                raise DataError(self._not_records(ctx, src, path.name, fmt)) from None
            raise DataError(f"{path.name}: cannot read as JSON: {first_line(exc, names)}") from None
        rel = ctx.con.con.sql(f"SELECT * FROM {name}")
        nested = [c for c, t in zip(rel.columns, rel.types) if t.id == "list" and t.children[0][1].id == "struct"]
        if nested and ctx.con.con.execute(f"SELECT count(*) FROM {name}").fetchone()[0] == 1:
            field = nested[0]
            raise DataError(f"{path.name} is one object whose records are in its field '{field}': export the "
                            f"records themselves, as an array of objects or as JSON Lines")
        return ctx.table(flatten_nested(ctx, name, path.name))

    @staticmethod
    def _not_records(ctx: ConnectorContext, src: Path, shown: str, fmt: str) -> str:
        rows = ctx.con.con.execute(f"SELECT count(*) FROM read_json_auto({sql_str(str(src))}, format={sql_str(fmt)})")
        if rows.fetchone()[0] == 0:
            return f"{shown} has no rows (an empty array)"
        return f"{shown} holds plain values, not records: expected objects like {{\"客户编号\": \"K1\", ...}}"
