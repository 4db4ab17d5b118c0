"""Decisions people make over the ratings: overrides (例外处理) with a second person's approval, and the
review list a trigger's `review` puts customers on. Every change is an audit event, in the same
transaction as the change itself.

An override goes requested -> approved | rejected; an approved one can be revoked. An approved override
applies from its approval on, through its `until` day (inclusive; none: until revoked): it sets the final
tier on every later run and re-rate (before trigger effects and the computed tier).
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from .models import AuditEvent, Override, ReviewItem, table_of
from .store import Store, now


class DecisionError(Exception):
    """A request the rules of the process refuse (approving one's own override, an unknown id, ...)."""


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


def _audit(s: Session, actor: str, action: str, subject: str, customer: str | None, **detail: Any) -> None:
    s.add(AuditEvent(at=now(), actor=actor, action=action, customer=customer, subject=subject,
                     detail=json.dumps(detail, ensure_ascii=False, default=str)))


def request_override(store: Store, ruleset: str, customer: str, tier: str, reason: str, by: str,
                     until: date | None = None) -> Override:
    if not reason.strip():
        raise DecisionError("an override needs a reason (--reason)")
    if not by.strip():
        raise DecisionError("an override needs the requester's name (--by)")
    if until is not None and until < date.today():
        raise DecisionError(f"--until {until} is in the past")
    with Session(store.engine, expire_on_commit=False) as s:
        ov = Override(id=_id("OV"), ruleset=ruleset, customer=customer, tier=tier, reason=reason.strip(),
                      requested_by=by.strip(), requested_at=now(), until=until, status="requested")
        s.add(ov)
        _audit(s, ov.requested_by, "override requested", ov.id, customer, tier=tier, reason=ov.reason,
               until=until, ruleset=ruleset)
        s.commit()
        return ov


def _decide(store: Store, override_id: str, by: str, note: str | None, new: str, allowed: tuple[str, ...]) -> Override:
    by = by.strip()
    if not by:
        raise DecisionError("say who decides (--by)")
    with Session(store.engine, expire_on_commit=False) as s:
        ov = s.get(Override, override_id.strip().upper(), with_for_update=True)
        if ov is None:  # a customer: their one override that can be decided so
            found = list(s.exec(select(Override).where(Override.customer == override_id.strip(),
                                                       col(Override.status).in_(allowed)).with_for_update()))
            if len(found) > 1:
                raise DecisionError(f"customer {override_id.strip()} has {len(found)} {' or '.join(allowed)} "
                                    f"overrides ({', '.join(o.id for o in found)}): give the id")
            if not found:
                an = "an" if allowed[0][0] in "aeiou" else "a"
                raise DecisionError(f"no override {override_id} (an id, or a customer with {an} "
                                    f"{' or '.join(allowed)} override; see `tierwise override list`)")
            ov = found[0]
        if ov.status not in allowed:
            raise DecisionError(f"override {ov.id} is {ov.status}; only a{'n' if allowed[0][0] in 'aeiou' else ''} "
                                f"{' or '.join(allowed)} override can be {new}")
        if new in ("approved", "rejected") and by.casefold() == ov.requested_by.casefold():
            raise DecisionError(f"override {ov.id} was requested by {ov.requested_by}: a different person "
                                f"must {'approve' if new == 'approved' else 'reject'} it")
        ov.status, ov.decided_by, ov.decided_at, ov.note = new, by, now(), note
        s.add(ov)
        _audit(s, by, f"override {new}", ov.id, ov.customer, tier=ov.tier, note=note)
        s.commit()
        return ov


def approve_override(store: Store, override_id: str, by: str, note: str | None = None) -> Override:
    return _decide(store, override_id, by, note, "approved", ("requested",))


def reject_override(store: Store, override_id: str, by: str, note: str | None = None) -> Override:
    return _decide(store, override_id, by, note, "rejected", ("requested",))


def revoke_override(store: Store, override_id: str, by: str, note: str | None = None) -> Override:
    return _decide(store, override_id, by, note, "revoked", ("approved", "requested"))


def overrides(store: Store, ruleset: str | None = None, customer: str | None = None,
              status: str | None = None) -> list[Override]:
    with Session(store.engine) as s:
        q = select(Override)
        if ruleset is not None:
            q = q.where(Override.ruleset == ruleset)
        if customer is not None:
            q = q.where(Override.customer == customer)
        if status is not None:
            q = q.where(Override.status == status)
        return list(s.exec(q.order_by(col(Override.requested_at), col(Override.id))))


@dataclass(frozen=True)
class ActiveOverride:
    id: str
    customer: str
    tier: str


def active_overrides(store: Store, ruleset: str, on: date) -> list[ActiveOverride]:
    """The overrides that set a final tier on ``on``: approved, not past their `until`; the latest approved
    one per customer."""
    with Session(store.engine) as s:
        q = (select(Override).where(Override.ruleset == ruleset, Override.status == "approved",
                                    sa.or_(col(Override.until).is_(None), col(Override.until) >= on))
             .order_by(col(Override.decided_at), col(Override.id)))
        latest: dict[str, Override] = {ov.customer: ov for ov in s.exec(q)}
    return [ActiveOverride(ov.id, c, ov.tier) for c, ov in sorted(latest.items())]


def audit_events(store: Store, customer: str | None = None) -> list[AuditEvent]:
    with Session(store.engine) as s:
        q = select(AuditEvent)
        if customer is not None:
            q = q.where(AuditEvent.customer == customer)
        return list(s.exec(q.order_by(col(AuditEvent.id))))


# ---- the review list -----------------------------------------------------------------------------
def open_reviews(conn: sa.Connection, run_id: str, pairs: list[tuple[str, str]]) -> int:
    """Put each (customer, trigger) on the review list with its audit event, inside the transaction
    of ``conn`` (the one recording the run whose trigger fired). A customer already open for review
    by the same trigger is not added twice."""
    if not pairs:
        return 0
    items = table_of(ReviewItem)
    open_now = {(c, t) for c, t in conn.execute(
        sa.select(items.c.customer, items.c.trigger).where(items.c.status == "open"))}
    fresh = [(c, t) for c, t in dict.fromkeys(pairs) if (c, t) not in open_now]
    at = now()
    rows = [{"id": _id("RV"), "run_id": run_id, "customer": c, "trigger": t, "created_at": at, "status": "open",
             "resolved_by": None, "resolved_at": None, "note": None} for c, t in fresh]
    if rows:
        conn.execute(sa.insert(items), rows)
        conn.execute(sa.insert(table_of(AuditEvent)), [
            {"at": at, "actor": "tierwise", "action": "review opened", "customer": r["customer"], "subject": r["id"],
             "detail": json.dumps({"trigger": r["trigger"], "run": run_id}, ensure_ascii=False)} for r in rows])
    return len(rows)


def reviews(store: Store, status: str | None = "open") -> list[ReviewItem]:
    with Session(store.engine) as s:
        q = select(ReviewItem)
        if status is not None:
            q = q.where(ReviewItem.status == status)
        return list(s.exec(q.order_by(col(ReviewItem.created_at), col(ReviewItem.id))))


def resolve_review(store: Store, item_id: str, by: str, note: str) -> ReviewItem:
    if not by.strip() or not note.strip():
        raise DecisionError("resolving a review needs who (--by) and what was decided (--note)")
    with Session(store.engine, expire_on_commit=False) as s:
        item = s.get(ReviewItem, item_id.strip().upper(), with_for_update=True)
        if item is None:  # a customer: their one open item
            found = list(s.exec(select(ReviewItem).where(ReviewItem.customer == item_id.strip(),
                                                         ReviewItem.status == "open").with_for_update()))
            if len(found) > 1:
                raise DecisionError(f"customer {item_id.strip()} has {len(found)} open review items "
                                    f"({', '.join(i.id for i in found)}): give the id")
            if not found:
                raise DecisionError(f"no review item {item_id} (an id, or a customer with an open item; "
                                    f"see `tierwise review list`)")
            item = found[0]
        if item.status != "open":
            raise DecisionError(f"review item {item.id} is resolved already (by {item.resolved_by})")
        item.status, item.resolved_by, item.resolved_at, item.note = "resolved", by.strip(), now(), note.strip()
        s.add(item)
        _audit(s, item.resolved_by, "review resolved", item.id, item.customer, note=item.note)
        s.commit()
        return item
