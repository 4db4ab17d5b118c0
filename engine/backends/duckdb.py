"""DuckDB, in process: the default backend (and every backend's staging area for connectors)."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator

from .base import Backend, Limits, ident


def connect_duckdb(limits: Limits | None = None, **settings: Any) -> Any:
    """An Ibis DuckDB connection with the memory limit and spill directory set."""
    import ibis

    from .ibis_compilers import load_lazily

    load_lazily()
    con = ibis.duckdb.connect(**settings)
    if limits is not None:
        limits.spill_dir.mkdir(parents=True, exist_ok=True)
        spill = str(limits.spill_dir).replace("'", "''")
        con.raw_sql(f"SET memory_limit = '{limits.memory // 2 ** 20}MB'")
        con.raw_sql(f"SET temp_directory = '{spill}'")
    return con


class DuckDBBackend(Backend):
    name = "duckdb"

    def __init__(self, con: Any, limits: Limits | None = None):
        self.con = con
        self.limits = limits or Limits.from_environment()
        if getattr(con, "_tierwise_backend", None) is None:
            con._tierwise_backend = self

    @classmethod
    def connect(cls, **settings: Any) -> "DuckDBBackend":
        limits = Limits.from_environment()
        con = connect_duckdb(limits, **settings)
        # progress is tracked for query_progress() but never printed by DuckDB itself
        con.raw_sql("SET enable_progress_bar = true; SET enable_progress_bar_print = false")
        return cls(con, limits)

    @property
    def staging(self) -> Any:
        return self.con

    def adopt(self, table: Any, name: str) -> Any:
        """Connectors' tables live here already. DuckDB numbers rows in scan order
        (``row_number()`` over the source keeps insertion order), so no column is added."""
        return table

    def held(self, table: Any, columns: list[str], name: str) -> Any:
        """A view (a Parquet or JSON file read lazily) becomes a temporary table: each query over a view
        decodes the file again — at 1M customers the counting, fitting and scoring queries decoded it
        three times, 0.3 s more than reading it once. Tables in DuckDB already (CSV, xlsx, a database's
        rows) stay as they are. Under the memory limit DuckDB spills the table to its temporary directory."""
        if not self._is_view(table):
            return table
        return self.materialise(table.select(*columns) if len(columns) < len(table.columns) else table, name)

    def _is_view(self, table: Any) -> bool:
        import ibis.expr.operations as ops

        op = table.op()
        if not isinstance(op, ops.DatabaseTable):
            return False
        found = self.con.con.execute("SELECT table_type FROM information_schema.tables WHERE table_name = ?",
                                     [op.name]).fetchall()
        return bool(found) and found[0][0] == "VIEW"

    def out_of_memory(self, exc: BaseException) -> bool:
        import duckdb

        return isinstance(exc, duckdb.OutOfMemoryException) or (
            isinstance(exc, duckdb.IOException) and "No space left" in str(exc))

    def memory_message(self) -> str:
        from .base import out_of_memory_message

        return out_of_memory_message(self.limits, "DuckDB", f"spilling to {self.limits.spill_dir}")

    def query_progress(self) -> float | None:
        pct = self.con.con.query_progress()
        return pct if pct >= 0 else None

    def fetch_tuples(self, expr: Any) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Rows straight from DuckDB's cursor: Ibis's ``to_pyarrow`` goes through pandas (~0.35 s
        to import), and the summaries and samples the engine reads are a handful of rows."""
        with self.running(), unfused():
            self.con._run_pre_execute_hooks(expr)  # registers in-memory tables
            cursor = self.con.raw_sql(self.con.compile(expr))
            return [d[0] for d in cursor.description], cursor.fetchall()

    def materialise(self, expr: Any, name: str) -> Any:
        """A temporary table of ``expr``, made with SQL: Ibis's ``create_table`` reads the new table's
        schema back through Arrow (importing pyarrow and numpy: ~0.3 s of a run that needs neither)."""
        with self.running(), unfused():
            self.con._run_pre_execute_hooks(expr)
            self.con.raw_sql(f"CREATE TEMP TABLE {ident(name)} AS {self.con.compile(expr)}")
        return self.table(name)

    def write_parquet(self, expr: Any, path: Path) -> None:
        with self.running(), unfused():
            self.con._run_pre_execute_hooks(expr)
            target = str(path).replace("'", "''")
            self.con.raw_sql(f"COPY ({self.con.compile(expr)}) TO '{target}' (FORMAT parquet)")

    def read_parquet(self, path: Path, name: str) -> Any:
        source = str(path).replace("'", "''")
        self.con.raw_sql(f'CREATE TEMP VIEW "{name}" AS SELECT * FROM read_parquet(\'{source}\')')
        return self.table(name)

    def from_arrow(self, table: Any, name: str) -> Any:
        """Registered with DuckDB itself: Ibis's ``create_table`` of a pyarrow table goes through
        ``memtable``, which imports pandas (0.15 s of rating one customer)."""
        duck, view = self.con.con, f"{name}_arrow"
        duck.register(view, table)
        try:
            duck.execute(f'CREATE TEMP TABLE "{name}" AS SELECT * FROM "{view}"')
        finally:
            duck.unregister(view)
        return self.table(name)

    def from_lists(self, table: Any, name: str) -> Any:
        """Made by DuckDB from the lists themselves (query parameters): no pyarrow, whose import with
        numpy's costs more than rating one customer against the store."""
        kinds = {"text": "VARCHAR", "float": "DOUBLE"}
        lists_table(self.con.con, name, table.columns, [kinds[table.types[c]] for c in table.columns])
        return self.table(name)

    def table(self, name: str) -> Any:
        return duckdb_table(self.con, name)

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


@contextlib.contextmanager
def unfused() -> Iterator[None]:
    """Ibis compiling without fusing consecutive selects into one (``ibis.options.sql.fuse_selects``):
    to decide each fusion Ibis scores the complexity of the whole expression below it, which is
    about half of compiling an evaluation (its chain of mutate levels); DuckDB plans the nested
    selects as fast."""
    import ibis

    before = ibis.options.sql.fuse_selects
    ibis.options.sql.fuse_selects = False
    try:
        yield
    finally:
        ibis.options.sql.fuse_selects = before


def lists_table(duck: Any, name: str, columns: dict[str, list[Any]], types: list[str]) -> None:
    """The temporary table ``name`` of a DuckDB connection (not Ibis's), from Python lists of the DuckDB
    ``types`` given (one per column), unnested side by side from query parameters."""
    if len(types) != len(columns) or not set(types) <= {"VARCHAR", "DOUBLE", "TIMESTAMP"}:
        raise ValueError(f"one type of VARCHAR, DOUBLE, TIMESTAMP per column, not {types}")
    select = ", ".join(f"unnest($c{i}::{k}[]) AS {ident(c)}" for i, (c, k) in enumerate(zip(columns, types)))
    duck.execute(f"CREATE TEMP TABLE {ident(name)} AS SELECT {select}",
                 {f"c{i}": list(v) for i, v in enumerate(columns.values())})


def duckdb_table(con: Any, name: str) -> Any:
    """``con.table(name)`` of an Ibis DuckDB connection without its Arrow round trip (Ibis reads
    the schema through Arrow, which costs a run ~0.2 s of pyarrow and numpy imports)."""
    import ibis.expr.operations as ops
    import ibis.expr.schema as sch

    rows = con.con.execute(f'DESCRIBE "{name.replace(chr(34), chr(34) * 2)}"').fetchall()
    mapper = con.compiler.type_mapper
    schema = sch.Schema({r[0]: mapper.from_string(r[1], nullable=r[2] == "YES") for r in rows})
    return ops.DatabaseTable(name, schema=schema, source=con,
                             namespace=ops.Namespace(catalog=None, database=None)).to_expr()
