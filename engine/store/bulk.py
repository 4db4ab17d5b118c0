"""Bulk inserts: PostgreSQL's COPY; on SQLite the driver's executemany of plain tuples; else SQLAlchemy
Core's executemany (ORM add_all is ~20x slower).

Rows come as dicts (column -> value) or, on the bulk path of a run's ratings, as :class:`Columns`:
batches of one list per column, which go to the database as tuples without a dict per row.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice, repeat
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.schema import ScalarElementColumnDefault

BATCH = 20_000


@dataclass
class Columns:
    """Rows given column-wise: each batch is one list per name of ``names``, all of one length."""

    names: list[str]
    batches: Iterable[list[list[Any]]]


def batches(rows: Iterable[dict[str, Any]], size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


def written_columns(table: sa.Table, given: Iterable[str], constants: dict[str, Any]) -> list[str]:
    """The columns an insert names: those the rows give, the constants and those with a scalar default.
    A nullable column nobody names is left to the database (a store a migration behind lacks it; Core's
    insert does the same)."""
    named = set(given) | set(constants) | {c.name for c in table.columns
                                           if c.default is not None and c.default.is_scalar}
    return [c.name for c in table.columns if c.name in named]


def _tuple_batches(table: sa.Table, rows: Iterable[dict[str, Any]] | Columns, constants: dict[str, Any],
                   columns: list[str]) -> Iterator[tuple[int, Iterable[tuple[Any, ...]]]]:
    """(row count, rows as tuples in the order of ``columns``) per batch; a column the rows leave out
    takes ``constants``' value, else the column's scalar default (as Core's insert gives it)."""
    defaults = {c.name: c.default.arg for c in table.columns if isinstance(c.default, ScalarElementColumnDefault)}
    fixed = {**defaults, **constants}
    if isinstance(rows, Columns):
        for cols in rows.batches:
            n = len(cols[0]) if cols else 0
            given = dict(zip(rows.names, cols))
            yield n, zip(*(given[c] if c in given else repeat(fixed.get(c), n) for c in columns))
        return
    for chunk in batches(rows):
        yield len(chunk), [tuple(r[c] if c in r else fixed.get(c) for c in columns) for r in
                           ({**constants, **r} for r in chunk)]


def insert_rows(conn: sa.Connection, table: sa.Table, rows: Iterable[dict[str, Any]] | Columns,
                on_batch: Callable[[int], None] | None = None, constants: dict[str, Any] | None = None) -> int:
    """Insert ``rows`` inside the connection's open transaction; returns the count. ``constants``:
    columns with one value for every row (a rating's run id)."""
    if not isinstance(rows, Columns):
        rows = list(rows)
    given = rows.names if isinstance(rows, Columns) else set().union(*rows) if rows else set()
    columns = written_columns(table, given, constants or {})
    names = ", ".join(f'"{c}"' for c in columns)
    dialect = (conn.dialect.name, conn.dialect.driver)
    # the driver takes the values as they are only where no column's type converts them (dates do) and
    # every default is a plain value (Core computes a callable or a server default for a key left out)
    raw = all((isinstance(c.type, sa.Float) or c.type.bind_processor(conn.dialect) is None)
              and c.server_default is None and (c.default is None or c.default.is_scalar) for c in table.columns)
    total = 0
    copy = f'COPY "{table.name}" ({names}) FROM STDIN'
    insert = f'INSERT INTO "{table.name}" ({names}) VALUES ({", ".join("?" * len(columns))})'
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        with contextlib.ExitStack() as stack:
            cp = None
            if dialect == ("postgresql", "psycopg"):  # one COPY: the server stores a batch while the next is read
                driver = conn.connection.driver_connection
                assert driver is not None  # an open connection's DB-API connection
                cursor = stack.enter_context(driver.cursor())
                cp = stack.enter_context(cursor.copy(copy))
            for n, chunk in _tuple_batches(table, rows, constants or {}, columns):
                if cp is not None:
                    for row in chunk:
                        cp.write_row(row)
                elif dialect == ("sqlite", "pysqlite") and raw:
                    driver = conn.connection.driver_connection
                    assert driver is not None
                    cursor = driver.cursor()
                    try:
                        cursor.executemany(insert, chunk)
                    finally:
                        cursor.close()
                else:
                    conn.execute(sa.insert(table), [dict(zip(columns, row)) for row in chunk])
                total += n
                if on_batch is not None:
                    on_batch(total)
    except dbapi_error as exc:  # the driver's own error, as SQLAlchemy would have raised it
        raise sa.exc.DBAPIError(copy if dialect[0] == "postgresql" else insert, None, exc) from exc
    return total
