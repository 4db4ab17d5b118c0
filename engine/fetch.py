"""Fetch small query results straight from DuckDB.

Ibis's ``to_pyarrow`` goes through its pandas converter (importing pandas
costs ~0.35 s per process); the summaries, checks and samples the engine
reads are a handful of rows, so they are fetched as Python tuples instead.
"""
from __future__ import annotations

from typing import Any


def fetch_rows(expr: Any) -> list[dict[str, Any]]:
    """Execute an Ibis table expression on its DuckDB backend; rows as dicts."""
    import ibis
    from ibis.common.exceptions import IbisError

    try:
        backend = expr._find_backend()
    except IbisError:  # only in-memory tables: Ibis's default DuckDB backend
        backend = ibis.get_backend()
    backend._run_pre_execute_hooks(expr)  # registers in-memory tables (examples)
    cursor = backend.raw_sql(backend.compile(expr))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def fetch_one(expr: Any) -> dict[str, Any]:
    rows = fetch_rows(expr)
    return rows[0] if rows else {}


def table_of(con: Any, name: str) -> Any:
    """The Ibis table for a table or view in ``con``: ``con.table(name)`` without its Arrow round
    trip (Ibis reads the schema through Arrow, which costs a run ~0.2 s of pyarrow and numpy imports)."""
    import ibis.expr.operations as ops
    import ibis.expr.schema as sch

    rows = con.con.execute(f'DESCRIBE "{name.replace(chr(34), chr(34) * 2)}"').fetchall()
    mapper = con.compiler.type_mapper
    schema = sch.Schema({r[0]: mapper.from_string(r[1], nullable=r[2] == "YES") for r in rows})
    return ops.DatabaseTable(name, schema=schema, source=con,
                             namespace=ops.Namespace(catalog=None, database=None)).to_expr()
