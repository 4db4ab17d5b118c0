"""The aggregates the rules read of a source with many rows per customer (an order log): ``count``,
``sum``, ``avg``, ``min``, ``max``, ``count_distinct``, each with its ``where``. Built once here: by
``evaluate`` over the prepared rows, and by ``quality`` in the one scan that also counts the log's
bad data (the source's census), so a run reads a transaction log once."""
from __future__ import annotations

from datetime import date
from typing import Any

from . import plan as P
from .expressions import ExprBuilder
from .plugin_api import DataError
from .prepare import all_exprs, col_name

FUNCTIONS = {"sum": "sum", "avg": "mean", "min": "min", "max": "max", "count": "count",
             "count_distinct": "nunique"}
#: aggregates that are 0, not missing, for a customer without rows
ZERO_WHEN_NO_ROWS = ("sum", "count", "count_distinct")


def plan_aggregates(plan: P.Plan, source: str) -> list[P.Agg]:
    """Every aggregate the rules read of ``source`` (each once, by id, in the order they appear)."""
    found: dict[str, P.Agg] = {}
    for e in all_exprs(plan):
        for n in P.walk(e):
            if isinstance(n, P.Agg) and n.source == source:
                found.setdefault(n.id, n)
    return list(found.values())


def source_aggregates(t: Any, items: list[P.Agg], registry: Any, as_of: date) -> dict[str, Any]:
    """The reductions (by aggregate id) of ``items`` over the rows ``t``, which carry the source's typed
    columns under their internal names (``col_name``)."""
    builder = ExprBuilder(lambda c: t[col_name(c.source, c.column)], _no_ref, _no_agg, registry.functions, as_of)
    metrics: dict[str, Any] = {}
    for a in items:
        where = builder(a.where) if a.where is not None else None
        if a.func == "count" and a.arg is None:
            metrics[a.id] = t.count(where=where) if where is not None else t.count()
            continue
        assert a.arg is not None  # only count(SOURCE) has no argument
        metrics[a.id] = getattr(builder(a.arg), FUNCTIONS[a.func])(where=where)
    return metrics


def _no_ref(e: Any) -> Any:  # pragma: no cover - the compiler forbids refs inside aggregates
    raise DataError("a named value cannot be used inside an aggregate over a source's rows")


def _no_agg(e: Any) -> Any:  # pragma: no cover
    raise DataError("aggregates cannot be nested")
