"""action outbox, manager assignments

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("key", sa.String(), primary_key=True),
        sa.Column("run_id", sa.String(), sa.ForeignKey("run.id"), nullable=False),
        sa.Column("customer", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("event", sa.String(), nullable=False),
        sa.Column("options", sa.Text(), nullable=False),
        sa.Column("tier", sa.String(), nullable=True),
        sa.Column("previous_tier", sa.String(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_outbox_run_id", "outbox", ["run_id"])
    op.create_index("ix_outbox_status_key", "outbox", ["status", "key"])
    op.create_table(
        "manager_assignment",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("ruleset", sa.String(), nullable=False),
        sa.Column("customer", sa.String(), nullable=False),
        sa.Column("pool", sa.String(), nullable=False),
        sa.Column("manager", sa.String(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_by_run", sa.String(), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by_run", sa.String(), nullable=True),
    )
    op.create_index("ix_manager_assignment_ruleset", "manager_assignment", ["ruleset"])
    op.create_index("ix_manager_assignment_customer", "manager_assignment", ["customer"])


def downgrade() -> None:
    op.drop_index("ix_manager_assignment_customer", "manager_assignment")
    op.drop_index("ix_manager_assignment_ruleset", "manager_assignment")
    op.drop_table("manager_assignment")
    op.drop_index("ix_outbox_status_key", "outbox")
    op.drop_index("ix_outbox_run_id", "outbox")
    op.drop_table("outbox")
