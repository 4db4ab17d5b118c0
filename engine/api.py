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
(ruleset, calibration, as-of, input shape); each call replaces the rows of the same in-process input
tables and executes that statement. The input shape: a column the rules read as a number whose values
in a call are all finite ints or floats goes in as DOUBLE, as a date whose values are all dates as
DATE (read exactly as their text would be, without parsing text in SQL), anything else as text.
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
from .prepare import KeyFacts, column_type, source_columns


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


FEW = 64  # up to this many records a call: prepared INSERTs and the prepared query; more: Arrow, optimized SQL


def _finite_number(v: Any) -> bool:
    """None, or a number a DOUBLE holds exactly as its text would read (no bool, NaN, inf or huge int)."""
    if v is None:
        return True
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return abs(v) < 2 ** 53
    return isinstance(v, float) and math.isfinite(v)


def _as_float(v: Any) -> float | None:
    return None if v is None else float(v)


def _same(v: Any) -> Any:
    return v


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
        # (calibration, as-of, input shape, key facts) -> (prepared statement, its SQL)
        self._prepared: dict[tuple[str, date, tuple[tuple[str, ...], ...], tuple[KeyFacts, ...]],
                             tuple[str, str]] = {}
        self._input_columns: dict[str, list[str]] = {}
        self._wants: dict[tuple[str, str], str] = {}  # (source, column) -> the type the rules read it as
        self._input_tables: dict[Any, dict[str, Any]] = {}  # input shape -> source -> table
        self._input_names: dict[Any, dict[str, str]] = {}
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
        """Each source's input table columns: the key, then every column the rules read."""
        if not self._input_columns:
            for sp in self.plan.sources:
                self._input_columns[sp.name] = [sp.key, *sorted(source_columns(self.plan, sp.name) - {sp.key})]
        return self._input_columns

    def _kinds(self, rows: dict[str, list[dict[str, Any]]]) -> tuple[tuple[str, ...], ...]:
        """Per source, each input column's type for this call: DOUBLE where the rules read a number
        and every value is a finite int or float, DATE where they read a date and every value is a
        date, else VARCHAR (the value as a CSV cell holds it). A typed value reads exactly as its text
        would, without parsing text in SQL; the SQL is prepared once per such shape."""
        if not self._wants:
            self._wants = {(sp.name, c): column_type(self.plan, sp.name, c)
                           for sp in self.plan.sources for c in self._columns()[sp.name][1:]}
        out = []
        for sp in self.plan.sources:
            kinds = ["VARCHAR"]  # the key is text
            for c in self._columns()[sp.name][1:]:
                want = self._wants[sp.name, c]
                values = [r.get(c) for r in rows[sp.name]]
                if want == "number" and all(_finite_number(v) for v in values):
                    kinds.append("DOUBLE")
                elif want == "date" and all(v is None or (isinstance(v, date) and not isinstance(v, datetime))
                                            for v in values):
                    kinds.append("DATE")
                else:
                    kinds.append("VARCHAR")
            out.append(tuple(kinds))
        return tuple(out)

    def _key_facts(self, rows: dict[str, list[dict[str, Any]]]) -> dict[str, KeyFacts]:
        """What this call's keys need (as ``quality`` finds out for a run): trimming where one is
        padded, dropping blank ones, the first row of a duplicate key; nothing of it for one record."""
        from .coerce import WHITESPACE

        out = {}
        for sp in self.plan.sources:
            keys = [_cell(r.get(sp.key)) for r in rows[sp.name]]
            trimmed = [None if k is None else k.strip(WHITESPACE) for k in keys]
            out[sp.name] = KeyFacts(padded=any(k != t for k, t in zip(keys, trimmed)),
                                    blank=any(not t for t in trimmed),
                                    duplicates=not sp.multi_row and len(set(trimmed)) != len(trimmed))
        return out

    def _tables(self, kinds: tuple[tuple[str, ...], ...]) -> dict[str, Any]:
        """The input tables of this shape, made once; each call replaces their rows."""
        if kinds not in self._input_tables:
            import ibis

            con = self._backend.con
            n = len(self._input_tables)
            types = {"VARCHAR": "string", "DOUBLE": "float64", "DATE": "date"}
            self._input_tables[kinds] = {
                name: con.create_table(f"tierwise_api_{name}_{n}", temp=True, overwrite=True, schema=ibis.schema(
                    {c: types[k] for c, k in zip(columns, shape)}))
                for (name, columns), shape in zip(self._columns().items(), kinds)}
            self._input_names[kinds] = {name: f"tierwise_api_{name}_{n}" for name in self._columns()}
        return self._input_tables[kinds]

    def _load(self, kinds: tuple[tuple[str, ...], ...], rows: dict[str, list[dict[str, Any]]]) -> None:
        """Replace the input tables' rows: a few rows as one prepared INSERT each, many through Arrow."""
        import pyarrow as pa

        raw = self._backend.con.con
        arrow = {"VARCHAR": pa.string(), "DOUBLE": pa.float64(), "DATE": pa.date32()}
        for ((name, columns), shape) in zip(self._columns().items(), kinds):
            table = _ident(self._input_names[kinds][name])
            raw.execute(f"DELETE FROM {table}")
            given = rows[name]
            if not given:
                continue
            convert = [_cell if k == "VARCHAR" else _as_float if k == "DOUBLE" else _same for k in shape]
            if len(given) <= FEW:
                raw.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(columns))})",
                                [[f(r.get(c)) for c, f in zip(columns, convert)] for r in given])
            else:
                data = pa.table({c: pa.array([f(r.get(c)) for r in given], arrow[k])
                                 for c, f, k in zip(columns, convert, shape)})
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
            # on a few rows DuckDB's optimizer costs ~10x what it saves, and an optimized prepared
            # statement is planned again on every EXECUTE: prepared unoptimized (this connection runs
            # only the rules' query), and a call of many records is planned, optimized, on its own
            self._backend.con.con.execute("SET enable_progress_bar = false; PRAGMA disable_optimizer")
        rows = self._rows(records)
        kinds = self._kinds(rows)
        tables = self._tables(kinds)
        facts = self._key_facts(rows)
        signature = (cal.to_json() if cal is not None else "", day, kinds, tuple(facts.values()))
        if signature not in self._prepared:
            from .evaluate import evaluate

            ev = evaluate(plan, tables, day, cal, registry=self.registry, backend=self._backend,
                          columns=C.all_columns(plan), keys=facts)
            name = f"tierwise_api_q{len(self._prepared)}"
            sql = self._backend.con.compile(ev.table)
            self._backend.con.con.execute(f"PREPARE {name} AS {sql}")
            self._prepared[signature] = (name, sql)
        self._load(kinds, rows)
        name, sql = self._prepared[signature]
        raw = self._backend.con.con
        if len(records) <= FEW:
            cursor = raw.execute(f"EXECUTE {name}")
            names, found = [d[0] for d in cursor.description], cursor.fetchall()
        else:  # many records: planning with the optimizer pays for itself
            raw.execute("PRAGMA enable_optimizer")
            try:
                cursor = raw.execute(sql)
                names, found = [d[0] for d in cursor.description], cursor.fetchall()
            finally:
                raw.execute("PRAGMA disable_optimizer")
        by_key = {}
        for values in found:
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
            self._input_tables.clear()
            self._input_names.clear()


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
