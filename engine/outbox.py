"""The action outbox: deciding and delivering are separate.

A run writes every delivery it owes into the ``outbox`` table in the same transaction as its ratings
(``queue``), so a run that commits has recorded every action it caused and one that dies has caused
none. After the commit, ``deliver_pending`` hands the pending rows to their handlers in batches and
records how each ended: ``delivered``, ``failed`` (for good, with the receiver's answer) or still
``pending`` (tried again by ``tierwise actions retry``). A delivery interrupted between sending and
recording stays pending and is sent again with the same idempotency key (at-least-once: receivers
drop repeated keys). Nothing is ever delivered twice by a re-run: a key already delivered is skipped.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from .deliver import Delivered, Delivery, grouped, handle
from .plugin_api import PENDING, ActionContext
from .plugin_manager import Registry
from .store.bulk import insert_rows
from .store.models import OutboxItem, Run, table_of
from .store.store import now

TABLE = table_of(OutboxItem)
DELIVERY_COLUMNS = ("key", "run_id", "customer", "action", "rule", "options", "tier", "previous_tier", "score")


def queue(conn: sa.Connection, deliveries: Iterable[Delivery]) -> int:
    """Write deliveries as pending outbox rows inside the transaction of ``conn`` (the run's own)."""
    at = now()
    rows = ({"key": d.key, "run_id": d.run_id, "customer": d.customer, "action": d.action, "rule": d.rule,
             "event": d.rule, "options": d.options, "tier": d.tier, "previous_tier": d.previous_tier,
             "score": d.score, "status": PENDING, "attempts": 0, "detail": None, "created_at": at,
             "updated_at": at} for d in deliveries)
    return insert_rows(conn, TABLE, rows)


def _delivery(row: Any) -> Delivery:
    return Delivery(*row)  # the columns in Delivery's order


def pending(store: Any, run_id: str | None = None, chunk: int = 10_000) -> Iterator[list[Delivery]]:
    """The pending deliveries (of one run, or all), oldest first, ``chunk`` at a time."""
    last = ""
    while True:
        q = sa.select(*(TABLE.c[c] for c in DELIVERY_COLUMNS)).where(TABLE.c.status == PENDING, TABLE.c.key > last)
        if run_id is not None:
            q = q.where(TABLE.c.run_id == run_id)
        with store.engine.connect() as conn:
            rows = list(conn.execute(q.order_by(TABLE.c.key).limit(chunk)))
        if not rows:
            return
        last = rows[-1].key
        yield [_delivery(r) for r in rows]


def deliver_pending(store: Any, registry: Registry, run_id: str | None = None,
                    context_for: Callable[[str], ActionContext] | None = None,
                    log: Callable[[str], None] | None = None) -> Delivered:
    """Hand every pending delivery (of ``run_id``, or all) to its handler; record each result as it
    comes back (one short transaction per handler batch)."""
    done = Delivered()
    write = log or done.log.append
    contexts: dict[str, ActionContext] = {}
    rulesets: dict[str, str] = {}

    def context(rid: str) -> ActionContext:
        if rid not in contexts:
            contexts[rid] = context_for(rid) if context_for is not None else ActionContext(store=store)
        return contexts[rid]

    def ruleset(rid: str) -> str:
        if rid not in rulesets:
            with store.engine.connect() as conn:
                rulesets[rid] = conn.execute(sa.select(table_of(Run).c.ruleset)
                                             .where(table_of(Run).c.id == rid)).scalar() or ""
        return rulesets[rid]

    for chunk in pending(store, run_id):
        for (rid, action, options), ds in grouped(chunk).items():
            for r in handle(registry, action, options, ds, rid, ruleset(rid), context(rid), write,
                            each=lambda results: record_results(store, results)):
                done.counts[r.status] = done.counts.get(r.status, 0) + 1
    return done


def record_results(store: Any, results: list[Any]) -> None:
    """Each result onto its outbox row — its status, one more attempt, the receiver's answer — in one
    transaction: one UPDATE per (status, answer) for up to 900 keys (a batch mostly ends alike)."""
    if not results:
        return
    at = now()
    alike: dict[tuple[str, str | None], list[str]] = {}
    for r in results:
        alike.setdefault((r.status, r.detail or None), []).append(r.idempotency_key)
    with store.engine.begin() as conn:
        for (status, detail), keys in alike.items():
            for i in range(0, len(keys), 900):
                conn.execute(sa.update(TABLE).where(TABLE.c.key.in_(keys[i:i + 900]), TABLE.c.status == PENDING)
                             .values(status=status, attempts=TABLE.c.attempts + 1, detail=detail, updated_at=at))


def items(store: Any, status: str | None = None, run_id: str | None = None, limit: int | None = None) -> list[Any]:
    """Outbox rows, newest run first, then by key."""
    q = sa.select(TABLE)
    if status is not None:
        q = q.where(TABLE.c.status == status)
    if run_id is not None:
        q = q.where(TABLE.c.run_id.startswith(run_id))
    q = q.order_by(TABLE.c.created_at.desc(), TABLE.c.key)
    with store.engine.connect() as conn:
        return list(conn.execute(q.limit(limit) if limit else q))


def item(store: Any, key: str) -> Any:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(TABLE).where(TABLE.c.key == key)).first()


def latest_for_customer(store: Any, customer: str) -> list[Any]:
    """A customer's deliveries of the newest run that owed them any, by key."""
    with store.engine.connect() as conn:
        newest = conn.execute(sa.select(TABLE.c.run_id).where(TABLE.c.customer == customer)
                              .order_by(TABLE.c.created_at.desc()).limit(1)).scalar()
        if newest is None:
            return []
        return list(conn.execute(sa.select(TABLE).where(TABLE.c.customer == customer, TABLE.c.run_id == newest)
                                 .order_by(TABLE.c.key)))


def counts(store: Any, run_id: str | None = None) -> dict[str, int]:
    q = sa.select(TABLE.c.status, sa.func.count()).group_by(TABLE.c.status)
    if run_id is not None:
        q = q.where(TABLE.c.run_id == run_id)
    with store.engine.connect() as conn:
        return {s: n for s, n in conn.execute(q)}


def context_from_run(store: Any, load_settings: Callable[[Path], Any] | None = None) -> Callable[[str], ActionContext]:
    """An ActionContext per run: the settings beside its rule file, that directory, the store."""
    def make(run_id: str) -> ActionContext:
        with store.engine.connect() as conn:
            rule_file = conn.execute(sa.select(table_of(Run).c.rule_file).where(table_of(Run).c.id == run_id)).scalar()
        base = Path(rule_file).parent if rule_file else None
        settings = load_settings(Path(rule_file)) if load_settings is not None and rule_file else None
        return ActionContext(settings=settings, base_dir=base, store=store)

    return make


def options_of(row: Any) -> dict[str, Any]:
    try:
        options: dict[str, Any] = json.loads(row.options or "{}")
        return options
    except ValueError:
        return {}
