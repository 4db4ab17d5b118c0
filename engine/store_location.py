"""Where the rating store is, without opening it (and without importing SQLAlchemy): ``TIERWISE_DB``, else
``tierwise.db`` beside the rule file. Commands that only read a store when one exists (`explain`, `rate`)
look here first."""
from __future__ import annotations

import os
from pathlib import Path

DB_FILE = "tierwise.db"


def default_url(rule_file: Path | None = None) -> str:
    """``TIERWISE_DB``, else ``tierwise.db`` beside the rule file (else in the working directory)."""
    env = os.environ.get("TIERWISE_DB")
    if env:
        return env
    base = rule_file.resolve().parent if rule_file is not None else Path.cwd()
    return f"sqlite:///{base / DB_FILE}"


def missing_sqlite_file(url: str) -> Path | None:
    """The file of a SQLite ``url`` when it does not exist (nothing to read there), else None."""
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        return None if path.exists() else path
    return None
