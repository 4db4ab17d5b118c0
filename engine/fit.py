"""Fitting the normalizers on the population: the ``Calibration`` evaluation scores with.

One aggregate query over the customers' raw values of every normalized indicator; a normalized
value built on another normalized indicator's points is fitted in a later round, once the
points it reads are fixed.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from . import plan as P
from .calibration import Calibration, FittedNormalizer
from .evaluate import _closure, _Evaluator
from .prepare import KeyFacts
from .scoring import ref_name


def fit(plan: P.Plan, tables: dict[str, Any], as_of: date, backend: Any, *, registry: Any = None,
        keys: dict[str, KeyFacts] | None = None, points: dict[str, float] | None = None) -> Calibration:
    """Fit every normalized indicator (but those whose points are given) on the customers of ``tables``."""
    if registry is None:
        from .plugin_manager import default_registry

        registry = default_registry()
    todo = [i for i in plan.indicators if i.normalizer and i.name not in (points or {})]
    calibration = Calibration()
    if not todo:
        return calibration
    probe = _Evaluator(plan, registry, as_of, None, points, backend)
    nodes = probe.nodes(False)
    pending = {ref_name("points", i.name) for i in todo}
    while todo:
        ready = [i for i in todo if not (_closure(nodes, {ref_name("value", i.name)}) & pending)]
        if not ready:  # pragma: no cover - the compiler refuses cycles
            raise ValueError("normalized indicators read each other's points")
        ev = _Evaluator(plan, registry, as_of, calibration, points, backend)
        wanted = _closure(nodes, {ref_name("value", i.name) for i in ready})
        base = ev.base(tables, keys or {}, wanted, None, None, None)
        t = ev.levels(base, nodes, wanted)
        metrics, names = {}, []
        for n, ind in enumerate(ready):
            params = registry.normalizers[ind.normalizer]().fit(t[ref_name("value", ind.name)], ind.normalizer_options)
            for k, expr in params.items():
                metrics[f"f{n}_{k}"] = expr
                names.append((ind, k, f"f{n}_{k}"))
        row = backend.fetch_one(t.aggregate(**metrics)) if metrics else {}
        fitted: dict[str, dict[str, float | None]] = {ind.name: {} for ind in ready}
        for ind, k, col in names:
            v = row.get(col)
            fitted[ind.name][k] = float(v) if v is not None else None
        calibration = calibration.merged(Calibration(
            {ind.name: FittedNormalizer(ind.normalizer or "", fitted[ind.name]) for ind in ready}))
        todo = [i for i in todo if i not in ready]
        pending -= {ref_name("points", i.name) for i in ready}
    return calibration
