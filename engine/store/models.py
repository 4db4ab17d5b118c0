"""The rating store's tables (SQLModel). Changed only through a migration in migrations/versions/.

JSON columns are text (portable between SQLite and PostgreSQL); times are UTC.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, Table, Text
from sqlmodel import Field, SQLModel


class Run(SQLModel, table=True):
    """One rating run: what was rated, with which rules, data and calibration, by whom, when."""

    __tablename__ = "run"
    __table_args__ = (Index("ix_run_ruleset_started", "ruleset", "started_at"),)

    id: str = Field(primary_key=True)  # a UUID4, as hex
    kind: str  # "periodic" (tierwise run) or "rerate"
    ruleset: str
    version: str | None = None
    text_hash: str
    rule_text: str = Field(sa_type=Text)  # the rule file as it was: a past run is explained exactly later
    rule_file: str
    as_of: date
    calibration: str = Field(sa_type=Text)  # JSON: the normalizers' fitted parameters (engine.calibration.Calibration)
    sources: str = Field(sa_type=Text)  # JSON: [{"name", "location", "size", "sha256"}]
    started_at: datetime
    finished_at: datetime | None = None
    status: str  # "complete" or "failed"
    started_by: str
    rows: int = 0
    tier_counts: str = Field(default="{}", sa_type=Text)  # JSON: {tier or "": count}
    error: str | None = Field(default=None, sa_type=Text)
    #: JSON: the run's summary (engine.report.summary_json): tier distribution, missing values, data
    #: problems with sample rows, warnings. None: recorded before migration 0004
    summary: str | None = Field(default=None, sa_type=Text)


class Rating(SQLModel, table=True):
    """One customer's rating in one run."""

    __tablename__ = "rating"

    run_id: str = Field(foreign_key="run.id", primary_key=True)
    customer: str = Field(primary_key=True, index=True)
    score: float | None = None
    computed_tier: str | None = None
    final_tier: str | None = None
    labels: str = Field(default="", sa_type=Text)  # comma-separated, in the ruleset's order
    segments: str = Field(default="{}", sa_type=Text)  # JSON: {segment: value}
    indicator_values: str = Field(default="{}", sa_type=Text)  # JSON: {indicator: raw value}
    points: str = Field(default="{}", sa_type=Text)  # JSON: {indicator: points}
    dimensions: str | None = Field(default=None, sa_type=Text)  # JSON: {dimension: score}; None before 0004
    reason: str = "periodic"  # "periodic", "trigger NAME" or "override ID"


class Override(SQLModel, table=True):
    """A manager's exception (例外处理): the final tier of a customer set by hand, once a second person approves."""

    __tablename__ = "override"

    id: str = Field(primary_key=True)  # short, typed by people: "OV-" + 8 hex digits
    ruleset: str = Field(index=True)
    customer: str = Field(index=True)
    tier: str
    reason: str = Field(sa_type=Text)
    requested_by: str
    requested_at: datetime
    until: date | None = None  # last day it applies (inclusive); None: until revoked
    status: str  # "requested", "approved", "rejected", "revoked"
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str | None = Field(default=None, sa_type=Text)


class AuditEvent(SQLModel, table=True):
    """Every change to an override (and other hand-made decisions), in order, never edited."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime
    actor: str
    action: str  # "override requested", "override approved", ...
    customer: str | None = Field(default=None, index=True)
    subject: str  # the override's (or review item's) id
    detail: str = Field(default="{}", sa_type=Text)  # JSON


class ReviewItem(SQLModel, table=True):
    """A customer put on the review list by a trigger's `review` effect."""

    __tablename__ = "review_item"

    id: str = Field(primary_key=True)  # "RV-" + 8 hex digits
    run_id: str = Field(foreign_key="run.id")
    customer: str = Field(index=True)
    trigger: str
    created_at: datetime
    status: str  # "open" or "resolved"
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    note: str | None = Field(default=None, sa_type=Text)


class OutboxItem(SQLModel, table=True):
    """One delivery an action owes: (run, customer, action), written with the run's ratings in one
    transaction, delivered after the commit. ``status``: pending -> delivered | failed (for good)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_key", "status", "key"),)

    key: str = Field(primary_key=True)  # the idempotency key: "{run id}:{on-line}.{action}:{customer}"
    run_id: str = Field(foreign_key="run.id", index=True)
    customer: str
    action: str  # the handler's name
    rule: str  # the `on` line, e.g. "on enter A -> notify(channel: "sales")"
    event: str  # what fired, e.g. "enter A"
    options: str = Field(sa_type=Text)  # JSON: the handler's options as checked
    tier: str | None = None  # the final tier of the rating
    previous_tier: str | None = None
    score: float | None = None
    status: str = "pending"
    attempts: int = 0
    detail: str | None = Field(default=None, sa_type=Text)  # the receiver's last answer
    created_at: datetime
    updated_at: datetime


class ManagerAssignment(SQLModel, table=True):
    """A key-account manager assigned to a customer by `assign_manager(pool)`: sticky until released."""

    __tablename__ = "manager_assignment"

    id: int | None = Field(default=None, primary_key=True)
    ruleset: str = Field(index=True)
    customer: str = Field(index=True)
    pool: str
    manager: str
    assigned_at: datetime
    assigned_by_run: str
    released_at: datetime | None = None
    released_by_run: str | None = None


def table_of(model: type[SQLModel]) -> Table:
    """The SQLAlchemy table of a table model (SQLModel sets ``__table__`` without declaring its type)."""
    table = model.__table__  # type: ignore[attr-defined]  # set by SQLModel's metaclass, undeclared
    assert isinstance(table, Table)
    return table
