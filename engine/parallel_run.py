"""A parallel run (champion/challenger, 新旧标准并行): the same data rated by two versions of a ruleset.

Both rulesets are run by the engine (``run.run`` with nothing recorded and no action delivered: a
what-if must not notify anyone) and compared from their
results, never re-derived: the migration matrix of computed tiers (the tier the score and the cuts
give; overrides and trigger effects depend on a rating history and are left out), the share that
moved, the score shift per old tier (engine.changes, the core ``tierwise changes`` uses too), the
structural diff of the two Plans (engine.ruleset_diff), and per moved customer why: the indicators
whose points changed with the band that scored them on each side and the rule that differs, the
weights that differ, and the tier cuts between the two tiers.

The two rulesets must read the same data: each source both declare is read from one place (a
``--source`` override applies to both; without one, both files must name the same location).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from . import plan as P
from .changes import TierChanges, compare_tables
from .plugin_api import DataError, DataIssue
from .plugin_manager import Registry
from .progress import SILENT, Progress
from .ruleset_diff import RuleChange, indicator_causes, ruleset_diff
from .run import RunOutcome, run

#: the options that choose which data a connector reads, besides its location
SELECTING = ("table", "query", "sheet", "glob")


@dataclass(frozen=True)
class Reason:
    """Why a mover's rating differs: an indicator whose points changed (``indicator``, the points and
    the band that scored it on each side, the rule changes behind it), or a rule change that moves the
    score or the tier of everyone it applies to (``indicator`` None: a weight, a tier cut, a scale)."""

    indicator: str | None
    points_before: float | None = None
    points_after: float | None = None
    band_before: str | None = None
    band_after: str | None = None
    rules: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        if self.indicator is None:
            return "; ".join(self.rules)
        head = f"{self.indicator} {_pts(self.points_before)} → {_pts(self.points_after)}"
        if (self.band_before or self.band_after) and self.band_before != self.band_after:
            head += f" (band `{self.band_before or '—'}` → `{self.band_after or '—'}`)"
        return head + (": " + "; ".join(self.rules) if self.rules else "")


def _pts(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.4f}".rstrip("0").rstrip(".")


@dataclass
class DiffMover:
    customer: str
    tier_before: str | None
    tier_after: str | None
    score_before: float | None
    score_after: float | None
    reasons: list[Reason] = field(default_factory=list)


@dataclass
class ParallelRun:
    old: P.Plan
    new: P.Plan
    as_of: date
    rules: list[RuleChange]  # the structural diff
    changes: TierChanges  # matrix, shares, score shifts (customer = the key)
    movers: list[DiffMover]
    old_outcome: RunOutcome
    new_outcome: RunOutcome
    notes: list[str] = field(default_factory=list)  # e.g. a source only one ruleset reads

    @property
    def issues(self) -> list[tuple[str, DataIssue]]:
        return [("old", i) for i in self.old_outcome.issues] + [("new", i) for i in self.new_outcome.issues]


# ---- the same data -------------------------------------------------------------------------------

def _location(sp: P.SourcePlan, base_dir: Path, overrides: dict[str, str], registry: Registry) -> tuple[Any, ...]:
    if sp.name in overrides:
        return ("--source", overrides[sp.name])
    cls = registry.connectors.get(sp.connector)
    option = getattr(cls, "location_option", "path")
    where = sp.options.get(option, sp.options.get("path"))
    if option in sp.env:
        where = f"env({sp.env[option]})"
    elif isinstance(where, str) and "://" not in where:
        p = Path(where).expanduser()
        where = str((p if p.is_absolute() else base_dir / p).resolve())
    chosen = tuple((k, str(sp.options[k])) for k in SELECTING if k in sp.options)
    return (where, chosen)


def _shown(loc: tuple[Any, ...]) -> str:
    where, chosen = loc
    return str(where) + "".join(f" {k}: {v}" for k, v in chosen)


def same_data(old: P.Plan, old_dir: Path, new: P.Plan, new_dir: Path, overrides: dict[str, str],
              registry: Registry) -> list[str]:
    """Check that every source both rulesets declare is read from one place; DataError naming each
    one that is not. Returns notes about sources only one of them declares."""
    unknown = sorted(set(overrides) - {s.name for s in old.sources} - {s.name for s in new.sources})
    if unknown:
        raise DataError(f"--source names unknown source(s): {', '.join(unknown)}; the rulesets declare: "
                        + ", ".join(dict.fromkeys(s.name for s in [*old.sources, *new.sources])))
    new_sources = {s.name: s for s in new.sources}
    differ = []
    for sp in old.sources:
        other = new_sources.get(sp.name)
        if other is None:
            continue
        a, b = _location(sp, old_dir, overrides, registry), _location(other, new_dir, overrides, registry)
        if a != b:
            differ.append(f"source '{sp.name}': the old ruleset reads {_shown(a)}, the new one {_shown(b)}")
    if differ:
        names = [d.split("'")[1] for d in differ]
        raise DataError("the two rulesets read different data, so a diff would compare the data too: "
                        + "; ".join(differ) + " — give "
                        + " ".join(f"--source {n}=PATH" for n in names) + " to rate both on the same data")
    notes = []
    for mine, theirs, side in ((old, new, "old"), (new, old, "new")):
        their_sources = {s.name for s in theirs.sources}
        for sp in mine.sources:
            if sp.name not in their_sources:
                notes.append(f"source '{sp.name}' is read by the {side} ruleset only")
    return notes


# ---- the runs and the comparison -----------------------------------------------------------------

def diff_columns(plan: P.Plan) -> list[str]:
    """What each side's run writes: the key, score, tier and each indicator's value, points and band."""
    cols = [plan.key_column, "score", "tier"]
    if any(t.label for t in plan.tiers):
        cols.append("tier_label")
    for ind in plan.indicators:
        cols += [ind.name, f"{ind.name}.points", f"{ind.name}.band"]
    return cols


def _rated(outcome: RunOutcome) -> Any:
    """The key, tier and score of a result (Arrow), the key as ``customer``."""
    import pyarrow.parquet as pq

    key = outcome.plan.key_column
    t = pq.read_table(outcome.result_path, columns=[key, "tier", "score"])
    return t.rename_columns(["customer", "tier", "score"])


def compare_results(old_out: RunOutcome, new_out: RunOutcome, tiers: list[str], points_of: Any) -> TierChanges:
    """engine.changes' comparison run in DuckDB over the two results."""
    import duckdb

    con = duckdb.connect()
    try:
        con.from_arrow(_rated(old_out)).create_view("a")
        con.from_arrow(_rated(new_out)).create_view("b")
        return compare_tables(lambda sql: con.execute(sql).fetchall(), tiers, points_of)
    finally:
        con.close()


def _rows(outcome: RunOutcome, keys: list[str]) -> dict[str, dict[str, Any]]:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    plan = outcome.plan
    key = plan.key_column
    t = pq.read_table(outcome.result_path, columns=diff_columns(plan))
    t = t.filter(pc.is_in(t[key], value_set=pa.array(keys, t.schema.field(key).type)))
    return {str(r[key]): r for r in t.to_pylist()}


def _band(plan: P.Plan, name: str, row: dict[str, Any] | None) -> str | None:
    if row is None:
        return None
    ind = next((i for i in plan.indicators if i.name == name), None)
    at = row.get(f"{name}.band")
    if ind is None or not ind.bands or at is None:
        return None
    return ind.bands[int(at)].text


def explain_movers(old: P.Plan, new: P.Plan, changes: list[RuleChange], movers: list[Any],
                   old_rows: dict[str, dict[str, Any]], new_rows: dict[str, dict[str, Any]]) -> list[DiffMover]:
    """Each mover with its reasons, read from both results' rows and the structural diff."""
    causes = indicator_causes(new, changes)
    for name, found in indicator_causes(old, changes).items():  # an indicator the new ruleset removed
        causes.setdefault(name, found)
    added = {c.name: c for c in changes if c.part == "indicator" and not c.aspect}
    weights = [c.text for c in changes if c.aspect == "weight"]
    scales = [c.text for c in changes if c.part == "ruleset" and c.aspect in ("scoring", "points", "score", "base", "cap")]
    tier_rules = [c for c in changes if c.part == "tier" or (c.part == "ruleset" and c.aspect == "tier order")]
    order = [t.name for t in new.tiers] + [t.name for t in old.tiers if t.name not in {x.name for x in new.tiers}]
    names = list(dict.fromkeys([i.name for i in old.indicators] + [i.name for i in new.indicators]))
    out = []
    for m in movers:
        a, b = old_rows.get(m.customer), new_rows.get(m.customer)
        reasons: list[Reason] = []
        for name in names:
            pa_ = a.get(f"{name}.points") if a else None
            pb = b.get(f"{name}.points") if b else None
            if _same(pa_, pb):
                continue
            rules = tuple(c.text for c in causes.get(name, [])) or ((added[name].text,) if name in added else ())
            reasons.append(Reason(name, pa_, pb, _band(old, name, a), _band(new, name, b), rules))
        if weights and not _same(m.score_before, m.score_after):
            reasons.append(Reason(None, rules=tuple(weights)))
        if scales:
            reasons.append(Reason(None, rules=tuple(scales)))
        between = _tiers_between(order, m.tier_before, m.tier_after)
        cuts = tuple(c.text for c in tier_rules if c.part != "tier" or c.name in between)
        if cuts:
            reasons.append(Reason(None, rules=cuts))
        out.append(DiffMover(m.customer, m.tier_before, m.tier_after, m.score_before, m.score_after, reasons))
    return out


def _tiers_between(order: list[str], a: str | None, b: str | None) -> set[str]:
    """The tiers from ``a`` to ``b`` in the tier order, both included (every tier when one is unknown)."""
    if a not in order or b not in order:
        return set(order)
    i, j = sorted((order.index(a), order.index(b)))
    return set(order[i:j + 1])


def _same(x: Any, y: Any) -> bool:
    if x is None or y is None:
        return x is y
    return bool(abs(x - y) <= 1e-9 * max(1.0, abs(x), abs(y)))


def parallel_run(old: P.Plan, old_file: Path, new: P.Plan, new_file: Path, registry: Registry, as_of: date,
                 overrides: dict[str, str] | None = None, *, backend: str | None = None,
                 progress: Progress = SILENT) -> ParallelRun:
    """Rate the same data with ``old`` and ``new`` (the rule files they came from: sources are relative
    to them) and compare. DataError when they would read different data."""
    overrides = dict(overrides or {})
    notes = same_data(old, old_file.parent, new, new_file.parent, overrides, registry)
    outcomes = []
    for plan, file in ((old, old_file), (new, new_file)):
        mine = {k: v for k, v in overrides.items() if k in {s.name for s in plan.sources}}
        outcomes.append(run(plan, registry, file.parent, as_of, mine, columns=diff_columns(plan),
                            backend=backend, progress=progress, record=None, deliver=False))
    old_out, new_out = outcomes
    rules = ruleset_diff(old, new)
    order = [t.name for t in new.tiers] + [t.name for t in old.tiers if t.name not in {x.name for x in new.tiers}]
    cache: dict[str, Any] = {}

    def points_of(keys: list[str]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
        cache["old"], cache["new"] = _rows(old_out, keys), _rows(new_out, keys)

        def pts(plan: P.Plan, row: dict[str, Any] | None) -> dict[str, Any]:
            return {} if row is None else {i.name: row.get(f"{i.name}.points") for i in plan.indicators}
        return {k: (pts(old, cache["old"].get(k)), pts(new, cache["new"].get(k))) for k in keys}

    changes = compare_results(old_out, new_out, order, points_of)
    movers = explain_movers(old, new, rules, changes.movers, cache.get("old", {}), cache.get("new", {}))
    return ParallelRun(old, new, as_of, rules, changes, movers, old_out, new_out, notes)
