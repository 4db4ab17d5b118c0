"""Open a store, record runs atomically, read the history back."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ..plugin_api import DataError
from ..store_location import default_url as default_url  # re-exported: the store's home
from .bulk import Columns, insert_rows
from .models import Rating, Run, table_of

MIGRATIONS = Path(__file__).with_name("migrations")
#: the newest migration (migrations/versions/); a store already there opens without starting Alembic
HEAD = "0004"


def now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class RunRecord:
    """What a run records about itself (its ratings go beside it)."""

    id: str
    kind: str
    ruleset: str
    version: str | None
    text_hash: str
    rule_text: str
    rule_file: str
    as_of: date
    started_by: str
    calibration: dict[str, Any] = field(default_factory=dict)
    sources: list[dict[str, Any]] = field(default_factory=list)
    started_at: datetime = field(default_factory=now)
    tier_counts: dict[str, int] = field(default_factory=dict)
    summary: dict[str, Any] | None = None  # the run's summary (engine.report.summary_json)

    def row(self, status: str, rows: int, error: str | None = None) -> dict[str, Any]:
        row = self._row(status, rows, error)
        if self.summary is not None:  # left out otherwise: a run without one writes what 0001's schema has
            row["summary"] = json.dumps(self.summary, ensure_ascii=False)
        return row

    def _row(self, status: str, rows: int, error: str | None) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "ruleset": self.ruleset, "version": self.version,
                "text_hash": self.text_hash, "rule_text": self.rule_text, "rule_file": self.rule_file,
                "as_of": self.as_of, "calibration": json.dumps(self.calibration, ensure_ascii=False),
                "sources": json.dumps(self.sources, ensure_ascii=False), "started_at": self.started_at,
                "finished_at": now(), "status": status, "started_by": self.started_by, "rows": rows,
                "tier_counts": json.dumps(self.tier_counts, ensure_ascii=False), "error": error}


class StoreError(DataError):
    """The store cannot be opened or written (a bad URL, a database that refuses): one message."""


class Store:
    """A rating store at ``url`` (any SQLAlchemy URL; SQLite and PostgreSQL are tested)."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> "Store":
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        try:
            engine = sa.create_engine(url)
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise StoreError(f"cannot open the rating store {safe_url(url)}: {exc}") from None
        if engine.dialect.name == "sqlite":
            sa.event.listen(engine, "connect", _sqlite_pragmas)
        store = cls(engine)
        try:
            if store.revision() != HEAD:
                store.upgrade()
        except sa.exc.OperationalError as exc:
            raise StoreError(f"cannot open the rating store {safe_url(url)}: {exc.orig}") from None
        return store

    def revision(self) -> str | None:
        """The migration the schema is at (None: a new, empty store)."""
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema up to ``revision`` with the migrations (a new store starts at the first)."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)

    def close(self) -> None:
        self.engine.dispose()

    # ---- writing -----------------------------------------------------------------------------
    def record(self, run: RunRecord, ratings: Iterable[dict[str, Any]] | Columns,
               on_batch: Callable[[int], None] | None = None,
               then: Callable[[sa.Connection], object] | None = None) -> int:
        """Record a complete run and its ratings (dicts of rating columns, or :class:`Columns`) in ONE
        transaction: a run killed half-way leaves nothing. ``then(conn)`` writes what belongs with the
        ratings (review items) in that same transaction."""
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.insert(table_of(Run)), [run.row("running", 0)])
                n = insert_rows(conn, table_of(Rating), ratings, on_batch, constants={"run_id": run.id})
                if then is not None:
                    then(conn)
                done = run.row("complete", n)
                conn.execute(sa.update(table_of(Run)).where(table_of(Run).c.id == run.id).values(
                    status="complete", rows=n, finished_at=done["finished_at"]))
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"cannot record the run in the rating store: {getattr(exc, 'orig', exc)}") from None
        return n

    def record_failure(self, run: RunRecord, error: str) -> None:
        """A run that failed: kept with its error and no ratings."""
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.insert(table_of(Run)), [run.row("failed", 0, error)])
        except sa.exc.SQLAlchemyError:
            pass  # the run's own error is what the user sees; a store that refuses this too adds nothing

    # ---- reading -----------------------------------------------------------------------------
    def runs(self, ruleset: str | None = None, limit: int | None = None) -> list[Run]:
        """Runs, newest first."""
        with Session(self.engine) as s:
            q = select(Run).order_by(col(Run.started_at).desc(), col(Run.id))
            if ruleset is not None:
                q = q.where(Run.ruleset == ruleset)
            return list(s.exec(q.limit(limit) if limit else q))

    def run(self, ref: str) -> Run | None:
        """The run whose id is ``ref`` or starts with it (when only one does)."""
        with Session(self.engine) as s:
            found = list(s.exec(select(Run).where(Run.id.startswith(ref)).limit(2)))
        return found[0] if len(found) == 1 else None

    def last_run(self, ruleset: str, kind: str | None = "periodic") -> Run | None:
        """The newest complete run of ``ruleset`` (of ``kind``, when given)."""
        with Session(self.engine) as s:
            q = select(Run).where(Run.ruleset == ruleset, Run.status == "complete")
            if kind is not None:
                q = q.where(Run.kind == kind)
            return s.exec(q.order_by(col(Run.started_at).desc()).limit(1)).first()

    def latest_ratings(self, ruleset: str, customers: Iterable[str] | None = None,
                       columns: tuple[str, ...] = ("customer", "indicator_values")) -> list[tuple[Any, ...]]:
        """Each customer's last stored rating of ``ruleset`` (from the newest complete run, periodic or
        re-rate, that rated the customer), as tuples of ``columns`` of the rating table (and
        ``run_id``), in customer order. ``customers``: only these."""
        r, u = table_of(Rating), table_of(Run)
        newest = sa.func.row_number().over(partition_by=r.c.customer,
                                           order_by=(u.c.started_at.desc(), u.c.id.desc())).label("newest")
        q = (sa.select(*(r.c[c] for c in columns), r.c.run_id, newest)
             .join(u, u.c.id == r.c.run_id).where(u.c.ruleset == ruleset, u.c.status == "complete"))
        if customers is not None:
            q = q.where(r.c.customer.in_(list(customers)))
        ranked = q.subquery()
        outer = (sa.select(*(ranked.c[c] for c in (*columns, "run_id"))).where(ranked.c.newest == 1)
                 .order_by(ranked.c.customer))
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(outer)]

    def ratings(self, run_id: str) -> list[Rating]:
        with Session(self.engine) as s:
            return list(s.exec(select(Rating).where(Rating.run_id == run_id).order_by(Rating.customer)))

    # ---- key-account managers (assign_manager; engine/store/managers.py) ----------------------------
    def assign_managers(self, ruleset: str, pool: str, managers: list[str], capacity: Callable[[str], int | None],
                        customers: Iterable[str], run_id: str) -> list[Any]:
        """Managers for these customers, balanced by load, sticky (see managers.assign)."""
        from .managers import assign

        return assign(self, ruleset, pool, managers, capacity, customers, run_id)

    def release_managers(self, ruleset: str, customers: Iterable[str], run_id: str,
                         pool: str | None = None) -> list[tuple[str, str, str]]:
        """End these customers' active assignments (see managers.release_managers)."""
        from .managers import release_managers

        return release_managers(self, ruleset, customers, run_id, pool)

    def history(self, customer: str, ruleset: str | None = None) -> list[tuple[Run, Rating]]:
        """One customer's ratings over time, oldest first (complete runs only)."""
        with Session(self.engine) as s:
            q = (select(Run, Rating).join(Rating, col(Rating.run_id) == col(Run.id))
                 .where(Rating.customer == customer, Run.status == "complete"))
            if ruleset is not None:
                q = q.where(Run.ruleset == ruleset)
            return [(r, g) for r, g in s.exec(q.order_by(col(Run.started_at), col(Run.id)))]


def _sqlite_pragmas(dbapi_con: Any, _record: Any) -> None:
    cur = dbapi_con.cursor()
    cur.execute("PRAGMA foreign_keys = ON")
    cur.execute("PRAGMA journal_mode = WAL")  # readers (history, changes) never wait for a run being recorded
    # WAL's recommended durability: a commit is atomic and survives the process dying; only a power cut can
    # lose the last commits (an outbox result then re-sent with its key), never corrupt the store
    cur.execute("PRAGMA synchronous = NORMAL")
    cur.execute("PRAGMA busy_timeout = 10000")
    cur.close()


def safe_url(url: str) -> str:
    """The URL without its password (never printed)."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(unreadable URL)"
