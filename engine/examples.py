"""Run a ruleset's ``example`` blocks: business-level tests of the rules."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from . import plan as P
from .backends import open_backend
from .evaluate import evaluate
from .prepare import column_type, source_columns
from .plugin_api import DataError
from .plugin_manager import Registry
from .run import cannot_evaluate

DEFAULT_TOLERANCE = 1e-6
ARROW_TYPES = {"number": "float64", "date": "date32", "string": "string", "any": "string", "bool": "bool"}


@dataclass
class ExampleResult:
    name: str
    passed: bool
    failures: list[str] = field(default_factory=list)
    score: float | None = None
    tier: str | None = None
    line: int = 0


def _table(backend: Any, plan: P.Plan, source: P.SourcePlan, rows: list[dict[str, Any]], key_value: str) -> Any:
    import pyarrow as pa

    # every column the rules read from this source: one the example does not give is missing, not absent
    columns = source_columns(plan, source.name)
    for r in rows:
        columns |= set(r)
    columns.discard(source.key)
    if not rows and source.name == plan.primary:
        rows = [{source.key: key_value}]
    data: dict[str, Any] = {source.key: pa.array([str(r.get(source.key, key_value)) for r in rows], pa.string())}
    for c in sorted(columns):
        values = [r.get(c) for r in rows]
        given = [v for v in values if v is not None]
        if given and any(isinstance(v, str) for v in given):
            data[c] = pa.array([None if v is None else str(v) for v in values], pa.string())
        elif given:
            data[c] = pa.array([float(v) for v in given] if len(given) == len(values)
                               else [None if v is None else float(v) for v in values], pa.float64())
        else:
            data[c] = pa.nulls(len(rows), getattr(pa, ARROW_TYPES[column_type(plan, source.name, c)])())
    return backend.from_arrow(pa.table(data), f"tierwise_example_{next(_names)}")


_names = itertools.count()


def run_example(plan: P.Plan, registry: Registry, ex: P.ExamplePlan, default_as_of: date,
                backend: Any = None) -> ExampleResult:
    """One example on ``backend`` (default: one of its own, as ``open_backend`` chooses, closed afterwards)."""
    as_of = date.fromisoformat(ex.as_of) if ex.as_of else default_as_of
    primary = next(s for s in plan.sources if s.name == plan.primary)
    given = [r.get(primary.key) for r in ex.rows.get(primary.name, []) if r.get(primary.key) is not None]
    key_value = str(given[0]) if given else ex.name  # rows of other sources belong to this customer
    own = backend is None
    backend = open_backend() if own else backend
    try:
        tables = {s.name: _table(backend, plan, s, ex.rows.get(s.name, []), key_value) for s in plan.sources}
        # the example's customers are its population: normalizers are fitted on them inside the query
        result = evaluate(plan, tables, as_of, None, registry=registry, backend=backend, points=ex.points)
        rows = backend.fetch_rows(result.table)
    except DataError:
        raise
    except Exception as exc:  # what the checks let through: a failing example, never a traceback
        raise cannot_evaluate(exc) from exc
    finally:
        if own:
            backend.close()
    out = ExampleResult(ex.name, True, line=ex.span.line if ex.span else 0)
    if len(rows) != 1:
        out.passed = False
        out.failures.append(f"expected one customer, the example data gave {len(rows)}")
        return out
    row = rows[0]
    out.score, out.tier = row["score"], row["tier"]
    labels = set(filter(None, (row.get("labels") or "").split(",")))
    for e in ex.expectations:
        if e.what == "score":
            tol = e.tolerance if e.tolerance is not None else DEFAULT_TOLERANCE
            if row["score"] is None or abs(row["score"] - e.score) > tol:
                out.failures.append(f"score: expected {e.score:g} ± {tol:g}, got {_fmt(row['score'])}")
        elif e.what == "tier":
            if row["tier"] != e.name:
                out.failures.append(f"tier: expected {e.name}, got {row['tier'] or 'no tier'}")
        elif e.what == "label":
            if e.name not in labels:
                out.failures.append(f"label: expected {e.name}, got {', '.join(sorted(labels)) or 'none'}")
        elif e.what == "no_label" and e.name in labels:
            out.failures.append(f"label: expected no {e.name}")
        elif e.what == "segment" and row.get(e.name) != e.value:
            got = row.get(e.name)
            out.failures.append(f"segment {e.name}: expected {e.value}, "
                                f"got {got if got is not None else 'none (no case matched)'}")
    if row.get("missing") and out.failures:
        out.failures.append(f"(missing values in: {row['missing']})")
    out.passed = not out.failures
    return out


def _fmt(x: float | None) -> str:
    return "nothing (score missing)" if x is None else f"{x:.10g}"
