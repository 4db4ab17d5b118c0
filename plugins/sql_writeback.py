"""``sql(url, table, key_column, columns)``: write each customer's final tier, score and rating time back
into a table of any SQLAlchemy database (the CRM's), by key — an upsert, so a delivery repeated writes
the same row again, never a second one.

    on tier A -> sql(url: "postgresql://crm@db.internal/crm", table: "customer_rating", key_column: "客户编号",
                     columns: "tier=客户等级, score=评分, rated_at=评级时间, run=评级批次")

``columns`` maps what tierwise writes (tier, score, rated_at, as_of, run, previous_tier, reason) onto the
table's columns (``tier`` alone: a column of that name). tierwise creates nothing: the table, its columns
and a primary key or unique index on ``key_column`` must exist (else the delivery fails, saying which).
When ``rated_at`` is written, a row holding a later rating is left as it is (a late retry of an older run
does not overwrite a newer one). The password comes from the environment only — the variable
``password_env`` names, else for PostgreSQL ``TIERWISE_PG_PASSWORD`` or ``PGPASSWORD`` — never from the
rule file, and never reaches a message. SQLite and PostgreSQL use INSERT … ON CONFLICT, MySQL/MariaDB
ON DUPLICATE KEY UPDATE, other databases an UPDATE then an INSERT in one transaction.
"""
from __future__ import annotations

import os
import re
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator, model_validator

from tierwise.engine.plugin_api import (DELIVERED, FAILED, PENDING, ActionBatch, ActionHandler, DeliveryResult, PluginOptions,
                                        closest, postgres_password)

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy import Column, Connection, Table
    from sqlalchemy.engine import URL

FIELDS = {
    "tier": "the final tier", "score": "the score", "rated_at": "when the run rated the customer (UTC)",
    "as_of": "the rating date (the run's as-of)", "run": "the run id", "previous_tier": "the tier before",
    "reason": "the event that fired (enter A, downgrade, ...)",
}


def parse_columns(text: str) -> dict[str, str]:
    """``"tier=客户等级, score"`` -> {"tier": "客户等级", "score": "score"}; ValueError when wrong."""
    out: dict[str, str] = {}
    for part in re.split(r"[,，]", text):
        part = part.strip()
        if not part:
            continue
        field, eq, column = (s.strip() for s in part.replace("＝", "=").partition("="))
        column = column if eq else field
        if field not in FIELDS:
            close = closest(field, list(FIELDS))
            raise ValueError(f"'{field}' is not something tierwise writes (one of: {', '.join(FIELDS)})"
                             + (f" — did you mean '{close}'?" if close else ""))
        if not column:
            raise ValueError(f"'{field}=' names no column")
        if field in out:
            raise ValueError(f"'{field}' is given twice")
        if column in out.values():
            raise ValueError(f"column '{column}' is given twice")
        out[field] = column
    if not out:
        raise ValueError("name at least one of: " + ", ".join(FIELDS))
    return out


class SqlWriteOptions(PluginOptions):
    url: str = Field(description="SQLAlchemy URL without a password, e.g. postgresql://crm@db/crm or "
                                 "sqlite:///crm.db (relative to the rule file)")
    table: str = Field(description="the table to write (it must exist)")
    key_column: str = Field(description="the table's column that holds the customer's key (unique)")
    columns: str = Field("tier, score, rated_at",
                         description="what to write where: FIELD=COLUMN, … (fields: " + ", ".join(FIELDS) + ")")
    db_schema: str | None = Field(None, description="schema of the table")
    password_env: str | None = Field(None, description="environment variable that holds the password")

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        from sqlalchemy.engine import make_url

        from .sql_secrets import mask_url

        if "://" not in url:
            raise ValueError("a database URL like postgresql://user@host/db or sqlite:///crm.db")
        try:
            parsed = make_url(url)
        except Exception:
            raise ValueError(f"not a database URL: {mask_url(url)}") from None
        if parsed.password is not None:
            raise ValueError("a password in the rule file: put it in the environment (password_env: \"VAR\", or "
                             "TIERWISE_PG_PASSWORD / PGPASSWORD for PostgreSQL)")
        return url

    @field_validator("columns")
    @classmethod
    def _columns(cls, columns: str) -> str:
        parse_columns(columns)
        return columns

    @field_validator("password_env")
    @classmethod
    def _variable(cls, name: str | None) -> str | None:
        if name is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError("the name of an environment variable, not the password")
        return name

    @model_validator(mode="after")
    def _key_not_written(self) -> SqlWriteOptions:
        if self.key_column in parse_columns(self.columns).values():
            raise ValueError(f"key_column '{self.key_column}' is also in columns")
        return self


class Failed(Exception):
    """The whole batch fails for good (status, message)."""

    def __init__(self, message: str, status: str = FAILED):
        super().__init__(message)
        self.status = status


def database_url(options: SqlWriteOptions, base_dir: Path | None) -> URL:
    """The URL to connect with: a relative SQLite file against the rule file's folder (it must exist:
    SQLite would create an empty one), the password from the environment."""
    from sqlalchemy.engine import make_url

    url = make_url(options.url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() == "sqlite":
        db = url.database
        if db and db != ":memory:" and not db.startswith("file:"):
            p = Path(db).expanduser()
            p = p if p.is_absolute() else (base_dir or Path.cwd()) / p
            if not p.is_file():
                raise Failed(f"no SQLite database at {p}: the table must exist (tierwise creates nothing)")
            url = url.set(database=str(p))
    password = None
    if options.password_env:
        password = os.environ.get(options.password_env)
        if not password:
            raise Failed(f"password_env names {options.password_env}, which is not set")
    elif url.get_backend_name() == "postgresql":
        password = postgres_password()
    return url.set(password=password) if password else url


def _rated(batch: ActionBatch) -> tuple[datetime, date | None]:
    """When the run rated (its finish as the store recorded it, else now) and its as-of date."""
    run = batch.context.store.run(batch.run_id) if batch.context.store is not None else None
    at = (run.finished_at or run.started_at) if run is not None else None
    at = at or datetime.now(timezone.utc)
    at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)  # SQLite gives the stored UTC back naive
    return at, run.as_of if run is not None else None


def _python_type(column: Column[Any]) -> type | None:
    try:
        kind: type = column.type.python_type
        return kind
    except NotImplementedError:
        return None


def coerce(value: Any, column: Column[Any]) -> Any:
    """A value in the form the column takes (ValueError when it cannot be)."""
    if value is None:
        return None
    kind = _python_type(column)
    if isinstance(value, datetime):
        if kind is datetime:
            if getattr(column.type, "timezone", False):
                return value
            return value.astimezone(timezone.utc).replace(tzinfo=None)  # a column without a zone holds UTC
        if kind is date:
            return value.date()
        return value.astimezone(timezone.utc).isoformat(sep=" ", timespec="seconds") if kind is str else value
    if isinstance(value, date):
        return value.isoformat() if kind is str else value
    if kind is int and not isinstance(value, int):
        text = str(value).strip()
        if not re.fullmatch(r"[+-]?\d+", text):
            raise ValueError(f"'{value}' is not a whole number, as column {column.name} holds")
        return int(text)
    if kind is str and not isinstance(value, str):
        return str(value)
    return value


def _unique_key(conn: Connection, table: Table, key: str) -> bool:
    import sqlalchemy as sa

    insp = sa.inspect(conn)
    schema = table.schema
    if insp.get_pk_constraint(table.name, schema=schema).get("constrained_columns") == [key]:
        return True
    if any(u.get("column_names") == [key] for u in insp.get_unique_constraints(table.name, schema=schema)):
        return True
    return any(ix.get("unique") and ix.get("column_names") == [key]
               for ix in insp.get_indexes(table.name, schema=schema))


def reflect(conn: Connection, options: SqlWriteOptions, shown: str) -> Table:
    import difflib

    import sqlalchemy as sa

    insp = sa.inspect(conn)
    if not insp.has_table(options.table, schema=options.db_schema):
        names = insp.get_table_names(schema=options.db_schema)
        close = difflib.get_close_matches(options.table, names, n=1)
        raise Failed(f"no table '{options.table}' in {shown} (tierwise creates nothing)"
                     + (f" — did you mean '{close[0]}'?" if close else
                        f"; its tables: {', '.join(names[:20])}" if names else "; it has no tables"))
    table = sa.Table(options.table, sa.MetaData(), autoload_with=conn, schema=options.db_schema)
    wanted = [options.key_column, *parse_columns(options.columns).values()]
    missing = [c for c in wanted if c not in table.c]
    if missing:
        hints = [f"{c} (did you mean {near}?)" if (near := closest(c, list(table.c.keys()))) else c for c in missing]
        raise Failed(f"table '{options.table}' has no column {', '.join(hints)}; its columns: "
                     f"{', '.join(table.c.keys())}")
    if not _unique_key(conn, table, options.key_column):
        raise Failed(f"column '{options.key_column}' of table '{options.table}' is not its primary key and has "
                     f"no unique index: the write-back replaces rows by it (CREATE UNIQUE INDEX … ON "
                     f"{options.table} ({options.key_column}))")
    return table


def upsert(conn: Connection, table: Table, key: str, rows: list[dict[str, Any]], rated: str | None) -> None:
    """Insert each row, or update the row with its key (keeping one whose ``rated`` column is later)."""
    import sqlalchemy as sa

    if not rows:
        return
    columns = [c for c in rows[0] if c != key]
    name = conn.dialect.name
    if name in ("sqlite", "postgresql"):
        from sqlalchemy.dialects import postgresql, sqlite

        stmt = (sqlite if name == "sqlite" else postgresql).insert(table)
        newer = None
        if rated is not None:
            newer = sa.or_(table.c[rated].is_(None), table.c[rated] <= stmt.excluded[rated])
        stmt = stmt.on_conflict_do_update(index_elements=[table.c[key]],
                                          set_={c: stmt.excluded[c] for c in columns}, where=newer)
        conn.execute(stmt, rows)
    elif name in ("mysql", "mariadb"):
        from sqlalchemy.dialects import mysql

        stmt = mysql.insert(table)
        conn.execute(stmt.on_duplicate_key_update({c: stmt.inserted[c] for c in columns}), rows)
    else:
        for row in rows:
            where = table.c[key] == row[key]
            if rated is not None:
                where &= sa.or_(table.c[rated].is_(None), table.c[rated] <= row[rated])
            done = conn.execute(sa.update(table).where(where).values({c: row[c] for c in columns}))
            if done.rowcount == 0 and conn.execute(
                    sa.select(sa.func.count()).select_from(table).where(table.c[key] == row[key])).scalar() == 0:
                conn.execute(sa.insert(table).values(row))


def _message(exc: BaseException, url: URL) -> str:
    from .connectors_sql import driver_message
    from .sql_secrets import scrub

    text = driver_message(getattr(exc, "orig", None) or exc)
    shown = url.render_as_string(hide_password=False)
    text = scrub(text, shown)
    if url.password:
        text = text.replace(str(url.password), "***")
    return text


def write_back(batch: ActionBatch) -> list[DeliveryResult]:
    import sqlalchemy as sa

    options: SqlWriteOptions = batch.options
    fields = parse_columns(options.columns)
    key = options.key_column
    results: dict[str, DeliveryResult] = {}
    try:
        url = database_url(options, batch.context.base_dir)
    except Failed as exc:
        return [DeliveryResult(i.idempotency_key, exc.status, str(exc)) for i in batch.items]
    shown = url.render_as_string(hide_password=True)
    try:
        engine = sa.create_engine(url)
    except Exception as exc:
        return [DeliveryResult(i.idempotency_key, FAILED, f"cannot open {shown}: {_message(exc, url)}")
                for i in batch.items]
    rated_at, as_of = _rated(batch)
    transient = (sa.exc.OperationalError, sa.exc.InterfaceError)
    try:
        with engine.connect() as conn:
            table = reflect(conn, options, shown)
        rows: dict[str, dict[str, Any]] = {}  # by customer: the last item of a customer wins
        owner: dict[str, list[str]] = {}
        for item in batch.items:
            values = {"tier": item.tier, "score": item.score, "rated_at": rated_at, "as_of": as_of,
                      "run": batch.run_id, "previous_tier": item.previous_tier, "reason": item.reason}
            try:
                row = {key: coerce(item.customer, table.c[key])}
                row.update({column: coerce(values[f], table.c[column]) for f, column in fields.items()})
            except ValueError as exc:
                results[item.idempotency_key] = DeliveryResult(item.idempotency_key, FAILED, str(exc))
                continue
            rows[str(item.customer)] = row
            owner.setdefault(str(item.customer), []).append(item.idempotency_key)
        try:
            with engine.begin() as conn:
                upsert(conn, table, key, list(rows.values()), fields.get("rated_at"))
        except transient:
            raise
        except sa.exc.DBAPIError:  # a row the database refuses: find which, write the others one by one
            for customer, row in rows.items():
                try:
                    with engine.begin() as conn:
                        upsert(conn, table, key, [row], fields.get("rated_at"))
                except transient:
                    raise
                except sa.exc.DBAPIError as exc:
                    for k in owner.pop(customer):
                        results[k] = DeliveryResult(k, FAILED, f"{options.table} refused the row: "
                                                               f"{_message(exc, url)}")
        for keys in owner.values():
            for k in keys:
                results[k] = DeliveryResult(k, DELIVERED, options.table)
    except Failed as exc:
        return [DeliveryResult(i.idempotency_key, exc.status, str(exc)) for i in batch.items]
    except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError) as exc:
        return [DeliveryResult(i.idempotency_key, PENDING, f"cannot write to {shown}: {_message(exc, url)}")
                for i in batch.items]
    except sa.exc.SQLAlchemyError as exc:
        return [DeliveryResult(i.idempotency_key, FAILED, f"writing to {shown} failed: {_message(exc, url)}")
                for i in batch.items]
    except ImportError as exc:
        return [DeliveryResult(i.idempotency_key, FAILED, f"the database driver for {shown} is not installed: "
                                                          f"{exc}") for i in batch.items]
    finally:
        engine.dispose()
    written = sum(r.status == DELIVERED for r in results.values())
    batch.log(f"action=sql table={options.table} rows={written} run={batch.run_id}")
    return [results[i.idempotency_key] for i in batch.items]


class SqlWriteBack(ActionHandler):
    """Upserts final tier, score and rating time into a table of any SQLAlchemy database (CRM write-back)."""

    name = "sql"
    Options = SqlWriteOptions
    positional = ("url",)
    batch_size = 1000

    def deliver(self, batch: ActionBatch) -> list[DeliveryResult]:
        return write_back(batch)
