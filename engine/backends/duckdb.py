"""DuckDB, in process: the default backend."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .base import Backend


class DuckDBBackend(Backend):
    name = "duckdb"

    def __init__(self, con: Any):
        self.con = con

    @classmethod
    def connect(cls, **settings: Any) -> "DuckDBBackend":
        import ibis

        con = ibis.duckdb.connect(**settings)
        # progress is tracked for query_progress() but never printed by DuckDB itself
        con.raw_sql("SET enable_progress_bar = true; SET enable_progress_bar_print = false")
        return cls(con)

    def query_progress(self) -> float | None:
        pct = self.con.con.query_progress()
        return pct if pct >= 0 else None

    def fetch_rows(self, expr: Any) -> list[dict[str, Any]]:
        """Rows straight from DuckDB's cursor: Ibis's ``to_pyarrow`` goes through pandas (~0.35 s
        to import), and the summaries and samples the engine reads are a handful of rows."""
        self.con._run_pre_execute_hooks(expr)  # registers in-memory tables
        cursor = self.con.raw_sql(self.con.compile(expr))
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def materialise(self, expr: Any, name: str) -> Any:
        self.con.create_table(name, expr, temp=True)
        return self.table(name)

    def write_parquet(self, expr: Any, path: Path) -> None:
        self.con._run_pre_execute_hooks(expr)
        target = str(path).replace("'", "''")
        self.con.raw_sql(f"COPY ({self.con.compile(expr)}) TO '{target}' (FORMAT parquet)")

    def read_parquet(self, path: Path, name: str) -> Any:
        source = str(path).replace("'", "''")
        self.con.raw_sql(f'CREATE TEMP VIEW "{name}" AS SELECT * FROM read_parquet(\'{source}\')')
        return self.table(name)

    def from_arrow(self, table: Any, name: str) -> Any:
        return self.con.create_table(name, table, temp=True)

    def table(self, name: str) -> Any:
        """``con.table(name)`` without its Arrow round trip (Ibis reads the schema through Arrow,
        which costs a run ~0.2 s of pyarrow and numpy imports)."""
        import ibis.expr.operations as ops
        import ibis.expr.schema as sch

        rows = self.con.con.execute(f'DESCRIBE "{name.replace(chr(34), chr(34) * 2)}"').fetchall()
        mapper = self.con.compiler.type_mapper
        schema = sch.Schema({r[0]: mapper.from_string(r[1], nullable=r[2] == "YES") for r in rows})
        return ops.DatabaseTable(name, schema=schema, source=self.con,
                                 namespace=ops.Namespace(catalog=None, database=None)).to_expr()

    # built-ins (DuckDB functions Ibis has no method for)
    def trim(self, s: Any, characters: str) -> Any:
        from ..duckdb_builtins import _trim

        return _trim(s, characters)

    def try_strptime(self, s: Any, formats: list[str]) -> Any:
        import ibis

        from ..duckdb_builtins import try_strptime

        return try_strptime(s, ibis.literal(list(formats), type="array<string>"))

    def local_timestamp(self, zone: str, ts: Any) -> Any:
        from ..duckdb_builtins import local_timestamp

        return local_timestamp(zone, ts)
