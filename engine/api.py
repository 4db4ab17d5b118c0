"""The Python API for integrators who rate in their own service.

    import tierwise
    rules = tierwise.load("rulesets/relationship_rating.tier")
    [r] = rules.rate([{"客户编号": "KH1", "年交易额": 5_200_000, ...}], calibration=calibration)
    r.score, r.tier, r.tier_label, r.labels, r.segments, r.points, r.explanation

A record is a mapping of the population source's columns to values; for a ruleset with several
sources, a mapping of source name to that source's rows (one mapping, or a list of them). Values are
read exactly as the same values in a CSV cell would be (numbers, 500万, 30%, dates in any accepted
spelling), so a record rates identically to that customer in a batch run with the same calibration.

The evaluation is built, compiled to SQL and prepared (a DuckDB prepared statement) once per
(ruleset, calibration, as-of); each call replaces the rows of the same in-process input tables and
executes that statement.
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


FEW = 64  # up to this many records a call, the rows go in as prepared INSERTs; more, through Arrow


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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
        self._prepared: dict[tuple[str, date], str] = {}  # (calibration, as-of) -> prepared statement
        self._input_columns: dict[str, list[str]] = {}
        self._input_tables: dict[str, Any] | None = None
        self._checked: set[str] = set()  # calibrations found fit for these rules

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

    def _columns(self) -> dict[str, list[str]]:
        """Each source's input table columns: the key, then every column the rules read, all text."""
        if not self._input_columns:
            for sp in self.plan.sources:
                self._input_columns[sp.name] = [sp.key, *sorted(source_columns(self.plan, sp.name) - {sp.key})]
        return self._input_columns

    def _tables(self) -> dict[str, Any]:
        """The input tables, made once (every cell as text: one schema for every call, so the SQL is
        prepared once); each call replaces their rows."""
        if self._input_tables is None:
            import ibis

            con = self._backend.con
            self._input_tables = {
                name: con.create_table(f"tierwise_api_{name}", schema=ibis.schema({c: "string" for c in columns}),
                                       temp=True, overwrite=True)
                for name, columns in self._columns().items()}
        return self._input_tables

    def _load(self, rows: dict[str, list[dict[str, Any]]]) -> None:
        """Replace the input tables' rows: a few rows as one prepared INSERT each, many through Arrow."""
        import pyarrow as pa

        raw = self._backend.con.con
        for name, columns in self._columns().items():
            table = _ident(f"tierwise_api_{name}")
            raw.execute(f"DELETE FROM {table}")
            given = rows[name]
            if not given:
                continue
            if len(given) <= FEW:
                raw.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(columns))})",
                                [[_cell(r.get(c)) for c in columns] for r in given])
            else:
                data = pa.table({c: pa.array([_cell(r.get(c)) for r in given], pa.string()) for c in columns})
                raw.register("tierwise_api_input", data)
                try:
                    raw.execute(f"INSERT INTO {table} SELECT * FROM tierwise_api_input")
                finally:
                    raw.unregister("tierwise_api_input")

    # ---- rating ----------------------------------------------------------------------------------
    def rate(self, records: Iterable[Mapping[str, Any]], calibration: Calibration | Mapping[str, Any] | str | None
             = None, as_of: date | None = None) -> list[Rating]:
        """One :class:`Rating` per record, in order. ``calibration``: a full run's fitted normalizer
        parameters (a ``Calibration``, its dict or its JSON) — needed when the rules scale indicators."""
        from .backends import open_backend

        plan = self.plan
        records = list(records)
        day = as_of or date.today()
        cal = self._checked_calibration(calibration)
        if self._backend is None:
            self._backend = open_backend("duckdb")
            # DuckDB's optimizer costs ~10x what it saves on a few rows, and an optimized prepared
            # statement is planned again on every EXECUTE; this connection runs only the rules' query
            self._backend.con.con.execute("SET enable_progress_bar = false; PRAGMA disable_optimizer")
        rows = self._rows(records)
        tables = self._tables()
        signature = (cal.to_json() if cal is not None else "", day)
        if signature not in self._prepared:
            from .evaluate import evaluate

            ev = evaluate(plan, tables, day, cal, registry=self.registry, backend=self._backend,
                          columns=C.all_columns(plan))
            name = f"tierwise_api_q{len(self._prepared)}"
            self._backend.con.con.execute(f"PREPARE {name} AS {self._backend.con.compile(ev.table)}")
            self._prepared[signature] = name
        self._load(rows)
        cursor = self._backend.con.con.execute(f"EXECUTE {self._prepared[signature]}")
        names = [d[0] for d in cursor.description]
        by_key = {}
        for values in cursor.fetchall():
            row = dict(zip(names, values))
            by_key[str(row[plan.key_column])] = row
        primary = next(s for s in plan.sources if s.name == plan.primary)
        return [self._rating(by_key[str(_cell(r[primary.key])).strip()], cal or Calibration(), day)
                for r in rows[primary.name]]

    def _checked_calibration(self, calibration: Any) -> Calibration | None:
        """The calibration as given, checked once per distinct one: scaled rules need it, and rules that
        read the whole population cannot be rated one record at a time."""
        plan = self.plan
        cal = _calibration(calibration)
        signature = cal.to_json() if cal is not None else ""
        if signature in self._checked:
            return cal
        from .evaluate import population_nodes

        if any(i.normalizer for i in plan.indicators) and cal is None:
            names = ", ".join(i.name for i in plan.indicators if i.normalizer)
            raise DataError(f"{names} are scaled on a run's population: rate() needs that run's calibration "
                            f"(tierwise.load(...).rate(records, calibration=...); see Store.last_run)")
        population = population_nodes(plan, self.registry, cal, {})
        if population:
            raise DataError("these rules read the whole population (" + ", ".join(sorted(population)) + "): "
                            "rate them in a run; one record alone cannot be rated as the batch would")
        self._checked.add(signature)
        return cal

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
            self._prepared.clear()
            self._input_tables = None


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
