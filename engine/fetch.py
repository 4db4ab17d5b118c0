"""Run small queries (summaries, checks, samples) on the backend an expression lives on."""
from __future__ import annotations

from typing import Any


def fetch_rows(expr: Any, backend: Any = None) -> list[dict[str, Any]]:
    """Execute an Ibis table expression on ``backend`` (default: the one its tables live on)."""
    from .backends import backend_of

    return (backend or backend_of(expr)).fetch_rows(expr)


def fetch_one(expr: Any, backend: Any = None) -> dict[str, Any]:
    rows = fetch_rows(expr, backend)
    return rows[0] if rows else {}
