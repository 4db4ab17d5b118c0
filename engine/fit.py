"""Fitting the normalizers on the population: the ``Calibration`` evaluation scores with.

One aggregate query over the customers' raw values of every normalized indicator; a normalized
value built on another normalized indicator's points is fitted in a later round, once the
points it reads are fixed.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

from . import plan as P
from . import columns as C
from .calibration import Calibration, FittedNormalizer
from .evaluate import _closure, _Evaluator
from .prepare import KeyFacts, PreparedSources
from .scoring import ref_name


def fit(plan: P.Plan, tables: dict[str, Any], as_of: date, backend: Any, *, registry: Any = None,
        keys: dict[str, KeyFacts] | None = None, points: dict[str, float] | None = None,
        sources: PreparedSources | None = None) -> Calibration:
    """Fit every normalized indicator (but those whose points are given) on the customers of ``tables``;
    ``sources``: the sources of ``tables`` prepared once for the rating's steps (built here when not given)."""
    return fit_measuring(plan, tables, as_of, backend, registry=registry, keys=keys, points=points,
                         sources=sources)[0]


def fit_measuring(plan: P.Plan, tables: dict[str, Any], as_of: date, backend: Any, *, registry: Any = None,
                  keys: dict[str, KeyFacts] | None = None, points: dict[str, float] | None = None,
                  columns: Sequence[str] = (),
                  measure: Callable[[Any, Mapping[str, Any]], dict[str, Any]] | None = None,
                  sources: PreparedSources | None = None) -> tuple[Calibration, dict[str, Any] | None]:
    """``fit``, and ``measure``'s aggregates (name -> expression over a table of the output ``columns``,
    e.g. the summary's indicator side; its second argument: where an indicator's value is missing, read
    off its columns, for the indicators where that can be) computed in the same query over the same
    customers: (the calibration, their values by name). None for the values when they could not share
    the query: nothing is normalized, or a column reads a normalized indicator's points (fitted in a
    later round)."""
    if registry is None:
        from .plugin_manager import default_registry

        registry = default_registry()
    todo = [i for i in plan.indicators if i.normalizer and i.name not in (points or {})]
    calibration = Calibration()
    measured: dict[str, Any] | None = None
    if not todo:
        return calibration, measured
    sources = sources or PreparedSources(plan, tables, keys, backend)
    probe = _Evaluator(plan, registry, as_of, None, points, backend, sources)
    nodes = probe.nodes(False)
    pending = {ref_name("points", i.name) for i in todo}
    while todo:
        ready = [i for i in todo if not (_closure(nodes, {ref_name("value", i.name)}) & pending)]
        if not ready:  # pragma: no cover - the compiler refuses cycles
            raise ValueError("normalized indicators read each other's points")
        ev = _Evaluator(plan, registry, as_of, calibration, points, backend, sources)
        wanted = _closure(nodes, {ref_name("value", i.name) for i in ready})
        also: set[str] = set()  # what measure reads, when this round's query can compute it
        if measure is not None and measured is None and columns:
            also = _closure(nodes, C.needs(plan, list(columns), frozenset((points or {}).keys())))
            also = set() if also & pending else also
        base = ev.base(tables, keys or {}, wanted | also, None, None, None)
        t = ev.levels(base, nodes, wanted | also)
        if also:  # the output columns measure reads, beside the named values (a name of both: not shared)
            outputs = ev.output_columns(t, list(columns))
            also = also if not set(outputs) & set(t.columns) else set()
            t = t.mutate(**outputs) if also else t
        metrics, names = {}, []
        for n, ind in enumerate(ready):
            params = registry.normalizers[ind.normalizer]().fit(t[ref_name("value", ind.name)], ind.normalizer_options)
            for k, expr in params.items():
                metrics[f"f{n}_{k}"] = expr
                names.append((ind, k, f"f{n}_{k}"))
        shared: dict[str, Any] = {}
        if also and measure is not None:
            missing = {i.name: m for i in plan.indicators if (m := ev.missing_where(t, i)) is not None}
            shared = {f"m__{k}": e for k, e in measure(t, missing).items()}
        row = backend.fetch_one(t.aggregate(**metrics, **shared)) if metrics or shared else {}
        if also:
            measured = {k.removeprefix("m__"): row.get(k) for k in shared}
        fitted: dict[str, dict[str, float | None]] = {ind.name: {} for ind in ready}
        for ind, k, col in names:
            v = row.get(col)
            fitted[ind.name][k] = float(v) if v is not None else None
        calibration = calibration.merged(Calibration(
            {ind.name: FittedNormalizer(ind.normalizer or "", fitted[ind.name]) for ind in ready}))
        todo = [i for i in todo if i not in ready]
        pending -= {ref_name("points", i.name) for i in ready}
    return calibration, measured
