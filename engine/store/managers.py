"""Key-account managers assigned by ``assign_manager(pool)``: balanced by load, sticky, released on leaving.

An assignment is a row of ``manager_assignment``: active while ``released_at`` is empty. A manager's load
is the number of active assignments they hold in the pool (over every ruleset); a customer holds at most
one active assignment per (ruleset, pool). Each call is one transaction; on PostgreSQL it holds an advisory
lock on the pool, so two deliveries at once cannot both hand out the same free place.
"""
from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from .models import ManagerAssignment, table_of
from .store import now

T = table_of(ManagerAssignment)


@dataclass(frozen=True)
class Assigned:
    """What ``assign`` did for one customer."""

    customer: str
    manager: str | None  # None: the pool is full
    new: bool = False  # assigned now (False: the customer kept the manager it held, or this run assigned it)


def _lock(conn: sa.Connection, pool: str) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"),
                     {"k": zlib.crc32(f"tierwise.manager_pool.{pool}".encode()) - 2 ** 31})


def loads(conn: sa.Connection, pool: str) -> dict[str, int]:
    """Active assignments per manager of ``pool`` (over every ruleset)."""
    q = (sa.select(T.c.manager, sa.func.count()).where(T.c.pool == pool, T.c.released_at.is_(None))
         .group_by(T.c.manager))
    return {m: n for m, n in conn.execute(q)}


def assign(store: Any, ruleset: str, pool: str, managers: Sequence[str], capacity: Any,
           customers: Iterable[str], run_id: str) -> list[Assigned]:
    """Give each customer a manager of the pool: the one with the fewest active assignments, ties by
    the pool's order, skipping those at ``capacity(manager)`` (None: no limit). A customer holding an
    active assignment from this pool keeps it; one this run assigned already (a delivery repeated) is
    left as it is. Returns what happened to each customer, in order."""
    customers = list(dict.fromkeys(customers))
    out: list[Assigned] = []
    with store.engine.begin() as conn:
        _lock(conn, pool)
        mine = (T.c.ruleset == ruleset) & (T.c.pool == pool)
        held: dict[str, str] = {}
        done: dict[str, str] = {}
        for chunk in _chunks(customers):
            for c, m, by_run, released in conn.execute(
                    sa.select(T.c.customer, T.c.manager, T.c.assigned_by_run, T.c.released_at)
                    .where(mine, T.c.customer.in_(chunk) if chunk else sa.false())):
                if released is None:
                    held[c] = m
                if by_run == run_id:
                    done[c] = m
        load = loads(conn, pool)
        order = {m: i for i, m in enumerate(managers)}
        rows = []
        at = now()
        for c in customers:
            if c in held or c in done:
                out.append(Assigned(c, held.get(c, done.get(c))))
                continue
            free = [m for m in managers if capacity(m) is None or load.get(m, 0) < capacity(m)]
            if not free:
                out.append(Assigned(c, None))
                continue
            m = min(free, key=lambda m: (load.get(m, 0), order[m]))
            load[m] = load.get(m, 0) + 1
            rows.append({"ruleset": ruleset, "customer": c, "pool": pool, "manager": m, "assigned_at": at,
                         "assigned_by_run": run_id})
            out.append(Assigned(c, m, new=True))
        if rows:
            conn.execute(sa.insert(T), rows)
    return out


def release_managers(store: Any, ruleset: str, customers: Iterable[str], run_id: str,
                     pool: str | None = None) -> list[tuple[str, str, str]]:
    """End the active assignments of these customers (of ``pool``, else of every pool) in ``ruleset``:
    they left the tier. Returns (customer, pool, manager) of each one released; releasing again releases
    nothing."""
    customers = list(dict.fromkeys(customers))
    released: list[tuple[str, str, str]] = []
    with store.engine.begin() as conn:
        if pool is not None:
            _lock(conn, pool)
        for chunk in _chunks(customers):
            where = (T.c.ruleset == ruleset) & T.c.customer.in_(chunk) & T.c.released_at.is_(None)
            if pool is not None:
                where &= T.c.pool == pool
            found = list(conn.execute(sa.select(T.c.id, T.c.customer, T.c.pool, T.c.manager).where(where)
                                      .order_by(T.c.customer, T.c.pool)))
            if found:
                conn.execute(sa.update(T).where(T.c.id.in_([r.id for r in found]))
                             .values(released_at=now(), released_by_run=run_id))
                released += [(r.customer, r.pool, r.manager) for r in found]
    return released


def assignments(store: Any, pool: str | None = None, customer: str | None = None,
                active_only: bool = True) -> list[ManagerAssignment]:
    """Assignments, oldest first (active ones only unless ``active_only`` is False)."""
    from sqlmodel import Session, col, select

    with Session(store.engine) as s:
        q = select(ManagerAssignment)
        if pool is not None:
            q = q.where(ManagerAssignment.pool == pool)
        if customer is not None:
            q = q.where(ManagerAssignment.customer == customer)
        if active_only:
            q = q.where(col(ManagerAssignment.released_at).is_(None))
        return list(s.exec(q.order_by(col(ManagerAssignment.assigned_at), col(ManagerAssignment.id))))


def _chunks(items: list[str], size: int = 500) -> list[list[str]]:
    return [items[i:i + size] for i in range(0, len(items), size)] or [[]]
