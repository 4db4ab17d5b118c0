"""The Python API for integrators who rate in their own service.

    import tierwise
    rules = tierwise.load("rulesets/relationship_rating.tier")
    [r] = rules.rate([{"客户编号": "KH1", "年交易额": 5_200_000, ...}], calibration=calibration)
    r.score, r.tier, r.tier_label, r.labels, r.segments, r.points, r.explanation

A record is a mapping of the population source's columns to values; for a ruleset with several
sources, a mapping of source name to that source's rows (one mapping, or a list of them). Values are
read exactly as the same values in a CSV cell would be (numbers, 500万, 30%, dates in any accepted
spelling), so a record rates identically to that customer in a batch run with the same calibration.

The evaluation is built and compiled to SQL once per (ruleset, calibration, as-of); each call loads
the records into the same in-process DuckDB tables and runs that SQL.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from . import columns as C
from . import plan as P
from .calibration import Calibration
from .explain import Scorecard, scorecard
from .plugin_api import DataError
from .prepare import source_columns


@dataclass
class Rating:
    """One record rated."""

    customer: str
    score: float | None
    tier: str | None
    tier_label: str | None
    labels: list[str]
    segments: dict[str, str | None]
    points: dict[str, float | None]
    values: dict[str, Any]
    explanation: Scorecard
    row: dict[str, Any] = field(repr=False, default_factory=dict)  # every result column


def _cell(v: Any) -> str | None:
    """A value as the text a CSV cell would hold (the engine reads both the same way)."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return None if math.isnan(v) else repr(v)
    if isinstance(v, datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


class Ruleset:
    """A checked rule file, ready to rate records."""

    def __init__(self, plan: P.Plan, registry: Any, path: Path | None = None):
        self.plan = plan
        self.registry = registry
        self.path = path
        self._backend: Any = None
        self._prepared: dict[tuple[str, date], tuple[str, list[str]]] = {}

    # ---- loading the records ---------------------------------------------------------------------
    def _rows(self, records: Sequence[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        plan = self.plan
        primary = next(s for s in plan.sources if s.name == plan.primary)
        out: dict[str, list[dict[str, Any]]] = {s.name: [] for s in plan.sources}
        for n, rec in enumerate(records, start=1):
            if not isinstance(rec, Mapping):
                raise DataError(f"record {n} is not a mapping of columns to values")
            if len(plan.sources) == 1:
                per_source: Mapping[str, Any] = {primary.name: rec}
            else:
                unknown = set(rec) - set(out)
                if unknown:
                    raise DataError(f"record {n}: a ruleset with several sources takes source name -> rows; "
                                    f"unknown source(s) {', '.join(sorted(map(str, unknown)))} (sources: "
                                    f"{', '.join(out)})")
                per_source = rec
            head = per_source.get(primary.name)
            head_rows = [head] if isinstance(head, Mapping) else list(head or [])
            if len(head_rows) != 1 or head_rows[0].get(primary.key) in (None, ""):
                raise DataError(f"record {n} needs one row of '{primary.name}' with its key column '{primary.key}'")
            key = head_rows[0][primary.key]
            for sp in plan.sources:
                given = per_source.get(sp.name)
                rows = [given] if isinstance(given, Mapping) else list(given or [])
                out[sp.name] += [{**r, sp.key: r.get(sp.key, key)} for r in rows]
        return out

    def _tables(self, rows: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        import pyarrow as pa

        be = self._backend
        tables = {}
        for sp in self.plan.sources:
            columns = sorted(source_columns(self.plan, sp.name) - {sp.key})
            data = {sp.key: pa.array([_cell(r.get(sp.key)) for r in rows[sp.name]], pa.string())}
            for c in columns:  # every cell as text: one schema for every call, so the SQL is prepared once
                data[c] = pa.array([_cell(r.get(c)) for r in rows[sp.name]], pa.string())
            tables[sp.name] = be.con.create_table(f"tierwise_api_{sp.name}", pa.table(data), temp=True,
                                                  overwrite=True)
        return tables

    # ---- rating ----------------------------------------------------------------------------------
    def rate(self, records: Iterable[Mapping[str, Any]], calibration: Calibration | Mapping[str, Any] | str | None
             = None, as_of: date | None = None) -> list[Rating]:
        """One :class:`Rating` per record, in order. ``calibration``: a full run's fitted normalizer
        parameters (a ``Calibration``, its dict or its JSON) — needed when the rules scale indicators."""
        from .backends import open_backend
        from .evaluate import evaluate, population_nodes

        plan = self.plan
        records = list(records)
        day = as_of or date.today()
        cal = _calibration(calibration)
        if any(i.normalizer for i in plan.indicators) and cal is None:
            names = ", ".join(i.name for i in plan.indicators if i.normalizer)
            raise DataError(f"{names} are scaled on a run's population: rate() needs that run's calibration "
                            f"(tierwise.load(...).rate(records, calibration=...); see Store.last_run)")
        population = population_nodes(plan, self.registry, cal, {})
        if population:
            raise DataError("these rules read the whole population (" + ", ".join(sorted(population)) + "): "
                            "rate them in a run; one record alone cannot be rated as the batch would")
        if self._backend is None:
            self._backend = open_backend("duckdb")
        tables = self._tables(self._rows(records))
        signature = (cal.to_json() if cal is not None else "", day)
        if signature not in self._prepared:
            ev = evaluate(plan, tables, day, cal, registry=self.registry, backend=self._backend,
                          columns=C.all_columns(plan))
            self._prepared[signature] = (self._backend.con.compile(ev.table), ev.columns)
        sql, _ = self._prepared[signature]
        cursor = self._backend.con.raw_sql(sql)
        names = [d[0] for d in cursor.description]
        by_key = {}
        for values in cursor.fetchall():
            row = dict(zip(names, values))
            by_key[str(row[plan.key_column])] = row
        primary = next(s for s in plan.sources if s.name == plan.primary)
        out = []
        for rec_rows in self._rows(records)[primary.name]:
            row = by_key[str(_cell(rec_rows[primary.key])).strip()]
            out.append(self._rating(row, cal or Calibration(), day))
        return out

    def _rating(self, row: dict[str, Any], cal: Calibration, day: date) -> Rating:
        plan = self.plan
        tier = row.get("tier")
        return Rating(
            customer=str(row[plan.key_column]), score=row.get("score"), tier=tier,
            tier_label=next((t.label for t in plan.tiers if t.name == tier and t.label), None),
            labels=[x for x in (row.get("labels") or "").split(",") if x],
            segments={s.name: row.get(s.name) for s in plan.segments},
            points={i.name: row.get(f"{i.name}.points") for i in plan.indicators},
            values={i.name: row.get(i.name) for i in plan.indicators},
            explanation=scorecard(plan, cal, row, day), row=row)

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None


def _calibration(c: Calibration | Mapping[str, Any] | str | None) -> Calibration | None:
    if c is None or isinstance(c, Calibration):
        return c
    try:
        return Calibration.from_json(c) if isinstance(c, str) else Calibration.from_dict(dict(c))
    except ValueError as exc:
        raise DataError(f"not a calibration: {exc}") from None


def load(path: str | Path) -> Ruleset:
    """Read and check a rule file; a RuleFileError (with the diagnostics) when it has errors."""
    from ..dsl import RuleFileError, read_rule_file
    from .build import compile_text
    from .plugin_manager import default_registry

    registry = default_registry()
    text = read_rule_file(path)
    plan, diags, _ = compile_text(text, str(path), registry)
    if plan is None:
        raise RuleFileError(diags)
    return Ruleset(plan, registry, Path(path))


__all__ = ["Rating", "Ruleset", "load"]
