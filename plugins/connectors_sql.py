"""The sql connector: a table or query from any database SQLAlchemy supports, streamed in batches.

Values are read as the driver returns them (no SQLAlchemy type processing, which fails a whole
column on one odd value) and typed by ``sql_values``. Passwords never reach a message.
"""
from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator

from tierwise.engine.plugin_api import Connector, ConnectorContext, DataError, PluginOptions

from .connector_util import check_unique_columns, existing_file, file_kind, unique_name
from .sql_secrets import KEY_VALUE, mask_url, normalize_url, scrub

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy import Connection
    from sqlalchemy.engine import URL
from .sql_values import column_array, unify


class SqlOptions(PluginOptions):
    url: str = Field(description="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db or sqlite:///crm.db "
                                 "(relative to the rule file); use env(\"VAR\") for one with a password")
    table: str | None = Field(None, description="table or view to read")
    query: str | None = Field(None, description="SELECT to run instead of a table")
    db_schema: str | None = Field(None, description="schema of the table")
    batch_size: int = Field(50_000, gt=0, description="rows fetched per round trip")

    @model_validator(mode="after")
    def _one_of(self) -> SqlOptions:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of table: or query:")
        return self


def parse_url(url: str, ctx: ConnectorContext) -> URL:
    """The SQLAlchemy URL object; a relative SQLite file resolves against the rule file's folder
    and must exist (SQLite would silently create an empty database)."""
    from sqlalchemy.engine import make_url

    shown = mask_url(url)
    if "://" not in url:
        if KEY_VALUE.search(url) or re.search(r"\b(host|dbname|user)\s*=", url):
            raise DataError(f"'{shown}' is a libpq connection string, not a URL: write it as "
                            f"postgresql+psycopg://USER:PASSWORD@HOST:PORT/DBNAME")
        raise DataError(f"'{shown}' is not a database URL (like postgresql+psycopg://user@host/db or "
                        f"sqlite:///crm.db)")
    try:
        parsed = make_url(normalize_url(url))
    except Exception:
        raise DataError(f"bad database URL {shown} (expected like postgresql+psycopg://user@host:5432/db)") from None
    if parsed.get_backend_name() != "sqlite":
        return parsed
    db = parsed.database
    if not db or db == ":memory:" or db.startswith("file:") or parsed.query.get("uri"):
        return parsed
    path = existing_file(ctx, db)
    if path.stat().st_size and file_kind(path) != "sqlite":
        raise DataError(f"{path.name} is not a SQLite database")
    return parsed.set(database=str(path))


def table_ref(conn: Connection, options: SqlOptions, shown: str) -> str:
    """The quoted table name, or a DataError suggesting a similar table or view."""
    import sqlalchemy as sa

    assert options.table is not None  # a table: source, not a query:
    insp = sa.inspect(conn)
    views = insp.get_view_names(schema=options.db_schema)
    if not insp.has_table(options.table, schema=options.db_schema) and options.table not in views:
        names = insp.get_table_names(schema=options.db_schema) + views
        close = difflib.get_close_matches(options.table, names, n=1)
        raise DataError(f"no table '{options.table}' in {shown}"
                        + (f" — did you mean '{close[0]}'?" if close else f" (tables: {', '.join(names[:20])})"))
    prep = conn.dialect.identifier_preparer
    ref = prep.quote(options.table)
    return f"{prep.quote_schema(options.db_schema)}.{ref}" if options.db_schema else ref


def read_columns(conn: Connection, options: SqlOptions, shown: str, ctx: ConnectorContext | None = None
                 ) -> tuple[list[str], list[list[Any]]]:
    """(column names, per column its Arrow batches)."""
    import sqlalchemy as sa

    if options.table is not None:
        what = f"table {options.table}"
        stmt = sa.text(f"SELECT * FROM {table_ref(conn, options, shown)}")
    else:
        what = "the query's result"
        assert options.query is not None  # one of table: and query: (SqlOptions._one_of)
        stmt = sa.text(options.query.replace(":", "\\:"))  # no bind parameters: colons are literal
    result = conn.execution_options(stream_results=True).execute(stmt)
    columns = list(result.keys())
    columns = check_unique_columns(columns, what, ctx, fix="give them different names with AS")
    chunks: list[list[Any]] = [[] for _ in columns]
    while rows := result.fetchmany(options.batch_size):
        for j, values in enumerate(zip(*rows)):
            try:
                chunks[j].append(column_array(list(values)))
            except Exception as exc:
                raise DataError(f"column {columns[j]} of {what} in {shown}: cannot read its values ({exc})") from None
    return columns, chunks


def driver_message(exc: BaseException) -> str:
    """The first line of a driver's error, without SQLAlchemy's "(psycopg.OperationalError)" prefix."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    line = lines[0] if lines else type(exc).__name__
    return re.sub(r"^\([\w.]+\)\s*", "", line)


class SqlConnector(Connector):
    """Reads a table or query from any database SQLAlchemy supports, streamed in batches."""

    name = "sql"
    Options = SqlOptions
    positional = ("url",)
    location_option = "url"
    url_schemes = ("postgresql", "postgres", "sqlite", "mysql", "mariadb", "mssql", "oracle")

    def open(self, options: SqlOptions, ctx: ConnectorContext) -> Any:  # an Ibis table
        import pyarrow as pa
        import sqlalchemy as sa

        url, shown = options.url, mask_url(options.url)

        def clean(text: str) -> str:
            return scrub(scrub(text, url), normalize_url(url))

        parsed = parse_url(url, ctx)
        native = ctx.native("sql", url=parsed, table=options.table, query=options.query, db_schema=options.db_schema)
        if native is not None:  # a table of the backend's own database: rated where it lies
            return native
        try:
            engine = sa.create_engine(parsed)
        except sa.exc.NoSuchModuleError:
            hint = " — write postgresql+psycopg://" if parsed.drivername.startswith("postgres") else ""
            raise DataError(f"unknown kind of database '{parsed.drivername}' in {shown}{hint}") from None
        except ImportError as exc:
            raise DataError(f"the database driver for {shown} is not installed: {clean(str(exc))}") from None
        except Exception as exc:
            raise DataError(f"bad database URL {shown}: {clean(driver_message(exc))}") from None
        try:
            with engine.connect() as conn:
                columns, chunks = read_columns(conn, options, shown, ctx)
        except DataError as exc:
            raise DataError(clean(str(exc))) from None
        except Exception as exc:
            raise DataError(f"reading {shown} failed: {clean(driver_message(exc))}") from None
        finally:
            engine.dispose()
        arrays = {}
        for column, parts in zip(columns, chunks):
            try:
                arrays[column] = unify(parts) if parts else pa.array([], pa.string())
            except Exception as exc:
                raise DataError(f"column {column} in {shown}: cannot read its values ({clean(str(exc))})") from None
        return ctx.con.create_table(unique_name("sql"), pa.table(arrays), temp=True)
