"""PostgreSQL: rate where the data lives (``--backend postgresql://USER@HOST[:PORT]/DB``).

The password comes from the environment only: ``TIERWISE_PG_PASSWORD``, else libpq's
``PGPASSWORD`` (or ~/.pgpass); it is never printed and never part of a message. A ``sql``
source in the same database is read in place (no rows through Python); files are read by
the connectors on a DuckDB staging connection and loaded with ``COPY``, numbered in file
order by an identity column. ``work_mem`` is set from ``TIERWISE_MEMORY_LIMIT``; the server
spills to its own temporary files.
"""
from __future__ import annotations

import itertools
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from .base import ROW_ORDER, Backend, Limits, PortableBuiltins, ident, out_of_memory_message

PASSWORD_VARIABLES = ("TIERWISE_PG_PASSWORD", "PGPASSWORD")
_names = itertools.count()


def masked(spec: str) -> str:
    """``spec`` with any password in it replaced by ***."""
    from . import masked_spec

    return masked_spec(spec)


def pg_type(dtype: Any) -> str | None:
    """The PostgreSQL type a staged column is loaded as; None: load it as its text."""
    if dtype.is_string() or dtype.is_null():
        return "text"
    if dtype.is_boolean():
        return "boolean"
    if dtype.is_integer():
        return "numeric" if dtype.is_uint64() else "bigint"
    if dtype.is_floating():
        return "double precision"
    if dtype.is_decimal():
        return "numeric"
    if dtype.is_date():
        return "date"
    if dtype.is_timestamp():
        return "timestamptz" if dtype.timezone else "timestamp"
    return None


class PostgresBackend(PortableBuiltins, Backend):
    name = "postgresql"

    def __init__(self, con: Any, where: dict[str, Any], limits: Limits):
        self.con = con
        self.where = where  # host, port, database, user: what "the same database" means
        self.limits = limits
        self._staging: Any = None
        self._scratch = Path(tempfile.mkdtemp(prefix="tierwise-pg-"))
        con._tierwise_backend = self

    @classmethod
    def connect(cls, spec: str) -> "PostgresBackend":
        import ibis

        from ..plugin_api import DataError

        parts = urlsplit(spec)
        if parts.password is not None:
            raise DataError(f"--backend {masked(spec)}: put the password in the environment "
                            f"({' or '.join(PASSWORD_VARIABLES)}), not in the URL")
        database = unquote(parts.path.lstrip("/"))
        if not parts.hostname or not database:
            raise DataError(f"--backend {masked(spec)}: write it as postgresql://USER@HOST[:PORT]/DATABASE")
        try:
            port = parts.port or 5432
        except ValueError:
            raise DataError(f"--backend {masked(spec)}: the port is not a number") from None
        user = unquote(parts.username) if parts.username else None
        password = next((os.environ[v] for v in PASSWORD_VARIABLES if os.environ.get(v)), None)
        where = {"host": parts.hostname, "port": port, "database": database, "user": user}
        from .ibis_compilers import load_lazily

        load_lazily()
        try:
            con = ibis.postgres.connect(host=parts.hostname, port=port, user=user, password=password,
                                        database=database)
        except Exception as exc:
            message = str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__
            if password:
                message = message.replace(password, "***")
            raise DataError(f"cannot connect to PostgreSQL at {masked(spec)}: {message}") from None
        limits = Limits.from_environment()
        work_mem = max(64 * 2 ** 20, min(limits.memory // 16, 2 ** 31 - 2 ** 20))
        con.raw_sql(f"SET work_mem = '{work_mem // 2 ** 20}MB'").close()
        return cls(con, where, limits)

    # ---- sources ---------------------------------------------------------------------------------
    @property
    def staging(self) -> Any:
        if self._staging is None:
            from .duckdb import connect_duckdb

            self._staging = connect_duckdb(self.limits)
        return self._staging

    def owns(self, table: Any) -> bool:
        try:
            return table._find_backend() is self.con
        except Exception:
            return False

    def adopt(self, table: Any, name: str) -> Any:
        if self.owns(table):
            return table
        return self.copy_in(table, f"tierwise_{re.sub(r'[^A-Za-z0-9_]', '_', name)}_{next(_names)}")

    def copy_in(self, table: Any, name: str) -> Any:
        """A staged DuckDB table loaded with COPY into the temporary table ``name`` (rows numbered
        in the staged order by an identity column)."""
        staging = self.staging
        columns, select = [], []
        for col, dtype in table.schema().items():
            kind = pg_type(dtype)
            q = ident(col)
            select.append(f"{q}" if kind is not None and not dtype.is_null() else f"CAST({q} AS VARCHAR) AS {q}")
            columns.append(f"{q} {kind or 'text'}")
        staging._run_pre_execute_hooks(table)
        path = self._scratch / f"{name}.csv"
        query = f"SELECT {', '.join(select)} FROM ({staging.compile(table)})"
        staging.raw_sql(f"COPY ({query}) TO '{str(path).replace(chr(39), chr(39) * 2)}' "
                        f"(FORMAT csv, HEADER false)")
        names = ", ".join(ident(c) for c in table.columns)
        with self.running():
            conn = self.con.con
            with conn.cursor() as cur:
                cur.execute(f"CREATE TEMP TABLE {ident(name)} ({ident(ROW_ORDER)} bigint GENERATED ALWAYS AS "
                            f"IDENTITY, {', '.join(columns)})")
                with cur.copy(f"COPY {ident(name)} ({names}) FROM STDIN (FORMAT csv)") as copy, \
                        open(path, "rb") as fh:
                    while chunk := fh.read(1 << 20):
                        copy.write(chunk)
            conn.commit()
        path.unlink(missing_ok=True)
        return self.table(name)

    def read_native(self, kind: str, **what: Any) -> Any | None:
        """A ``sql`` source in this very database (same host, port and database) as it lies."""
        if kind != "sql":
            return None
        url = what["url"]
        if not str(getattr(url, "drivername", "")).startswith("postgres"):
            return None
        host = {"localhost": "127.0.0.1"}
        if (host.get(url.host or "", url.host), url.port or 5432, url.database) != (
                host.get(self.where["host"], self.where["host"]), self.where["port"], self.where["database"]):
            return None
        if what.get("query"):
            return self.con.sql(what["query"])
        schema = what.get("db_schema")
        if what["table"] not in self.con.list_tables(database=schema):
            return None  # the connector says what is wrong (with a did-you-mean)
        return self.con.table(what["table"], database=schema)

    # ---- running ---------------------------------------------------------------------------------
    def out_of_memory(self, exc: BaseException) -> bool:
        import psycopg

        return isinstance(exc, (psycopg.errors.OutOfMemory, psycopg.errors.DiskFull))

    def memory_message(self) -> str:
        return out_of_memory_message(self.limits, "PostgreSQL", "work_mem per sort or hash; the server's "
                                     "temp_file_limit and disk bound what it spills")

    def sql(self, expr: Any) -> str:
        """The query of ``expr`` with every derived table fenced (``OFFSET 0``): PostgreSQL would
        otherwise pull each level of the scoring query up into the next, copying a column's whole
        expression into every use of it (the query grows exponentially with its depth)."""
        import sqlglot.expressions as sge

        self.con._run_pre_execute_hooks(expr)
        query = self.con.compiler.to_sqlglot(expr)
        for sub in list(query.find_all(sge.Subquery)):
            inner = sub.this
            if isinstance(inner, sge.Select) and not inner.args.get("limit") and not inner.args.get("offset"):
                inner.set("offset", sge.Offset(expression=sge.Literal.number(0)))
        sql: str = query.sql(dialect=self.con.dialect)
        return sql

    def fetch_tuples(self, expr: Any) -> tuple[list[str], list[tuple[Any, ...]]]:
        with self.running():
            cursor = self.con.raw_sql(self.sql(expr))
            try:
                return [d[0] for d in cursor.description], list(cursor.fetchall())
            finally:
                cursor.close()

    def materialise(self, expr: Any, name: str) -> Any:
        with self.running():
            self.con.raw_sql(f"CREATE TEMP TABLE {ident(name)} AS {self.sql(expr)}").close()
            self.con.con.commit()
        return self.table(name)

    def write_parquet(self, expr: Any, path: Path) -> None:
        import pyarrow.parquet as pq

        with self.running():
            reader = self.con.to_pyarrow_batches(expr, chunk_size=100_000)
            with pq.ParquetWriter(path, reader.schema) as writer:
                for batch in reader:
                    writer.write_batch(batch)

    def save(self, expr: Any, path: Path, name: str) -> Any:
        table = self.materialise(expr, name)
        self.write_parquet(table, path)
        return table

    def read_parquet(self, path: Path, name: str) -> Any:
        source = str(path).replace("'", "''")
        return self.copy_in(self.staging.sql(f"SELECT * FROM read_parquet('{source}')"), name)

    def from_arrow(self, table: Any, name: str) -> Any:
        return self.copy_in(self.staging.create_table(name, table, temp=True), name)

    def close(self) -> None:
        try:
            self.con.disconnect()
        finally:
            if self._staging is not None:
                self._staging.disconnect()
            shutil.rmtree(self._scratch, ignore_errors=True)

    # ---- built-ins ---------------------------------------------------------------------------------
    def local_timestamp(self, zone: str, ts: Any) -> Any:
        from .portable import pg_timezone

        return pg_timezone(zone, ts)
