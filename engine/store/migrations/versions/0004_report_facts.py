"""what a report of a stored run reads: each rating's dimension scores, the run's summary

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

``rating.dimensions``: JSON {dimension: score} (NULL for ratings recorded before this migration).
``run.summary``: JSON of the run's summary as the run printed it: the tier distribution (with the
customers without a score apart from those without a tier), missing values per indicator and how
they were scored, the data problems with their sample rows, the warnings (NULL before this migration).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rating") as batch:
        batch.add_column(sa.Column("dimensions", sa.Text(), nullable=True))
    with op.batch_alter_table("run") as batch:
        batch.add_column(sa.Column("summary", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run") as batch:
        batch.drop_column("summary")
    with op.batch_alter_table("rating") as batch:
        batch.drop_column("dimensions")
