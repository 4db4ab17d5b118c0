"""The rating store: every run and every customer's rating, kept (SQLModel + Alembic).

SQLite by default (``tierwise.db`` beside the rule file), ``TIERWISE_DB`` or an explicit URL;
PostgreSQL in production. ``Store.open`` brings the schema up to date with the migrations.
"""
from __future__ import annotations

from .models import Rating, Run
from .store import RunRecord, Store, default_url

__all__ = ["Rating", "Run", "RunRecord", "Store", "default_url"]
