"""A run: open the sources through connector plugins, evaluate, summarise, act, write."""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import weakref
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from . import plan as P
from .backends import Backend, open_backend
from .backends.duckdb import DuckDBBackend
from .fetch import fetch_one, fetch_rows
from .evaluate import Evaluator, band_condition, source_columns
from .plugin_api import ActionBatch, ActionItem, ConnectorContext, DataError, DataIssue
from .plugin_manager import Registry

SUFFIX_HINT = "use --source NAME=PATH with a path ending in .csv, .xlsx, .parquet, .json or a database URL"


NO_SCORE = "no score (missing values)"
NO_TIER = "no tier (no tier rule matched)"


@dataclass
class TierCount:
    tier: str | None
    label: str | None
    count: int
    share: float
    expect: tuple[float, float] | None

    @property
    def within(self) -> bool | None:
        if self.expect is None:
            return None
        return self.expect[0] - 1e-12 <= self.share <= self.expect[1] + 1e-12


@dataclass
class RunOutcome:
    plan: P.Plan
    as_of: date
    result_path: Path  # the results as Parquet, in a scratch directory that lives as long as this object
    rows: int
    distribution: list[TierCount]
    issues: list[DataIssue]
    warnings: list[str]
    missing_counts: dict[str, int]
    log: list[str] = field(default_factory=list)
    calibration: dict[str, dict[str, float]] = field(default_factory=dict)

    unscored: int = 0  # customers without a score because of `missing -> error` (the run fails)

    @property
    def table(self) -> Any:
        """The results as a pyarrow Table (read on demand)."""
        import pyarrow.parquet as pq

        return pq.read_table(self.result_path)

    def find(self, key: str) -> dict[str, Any] | None:
        """One customer's result row."""
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        table = pq.read_table(self.result_path, filters=pc.field(self.plan.key_column) == key)
        return table.to_pylist()[0] if table.num_rows else None

    def write(self, path: Path) -> None:
        """Write results as .parquet, .csv (UTF-8 with BOM, so Excel shows Chinese) or .xlsx."""
        if path.suffix.lower() == ".parquet":
            if path.exists() and path.resolve() == self.result_path.resolve():
                return  # the run wrote its results there directly
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.result_path, path)
        else:
            write_output(self.table, path)


def pick_connector(registry: Registry, declared: str, location: str) -> str:
    """The connector for a --source override: the declared one unless the suffix says otherwise."""
    if "://" in location:
        scheme = location.split("://", 1)[0].split("+", 1)[0].lower()
        takes = [n for n, cls in registry.connectors.items() if scheme in getattr(cls, "url_schemes", ())]
        return declared if declared in takes or not takes else takes[0]
    suffix = "".join(Path(location).suffixes[-1:]).lower()
    if suffix in getattr(registry.connectors.get(declared), "suffixes", ()):
        return declared
    for name, cls in registry.connectors.items():
        if suffix in getattr(cls, "suffixes", ()):
            return name
    return declared


def open_sources(plan: P.Plan, registry: Registry, con: Any, base_dir: Path, temp_dir: Path,
                 overrides: dict[str, str] | None = None, issues: list[DataIssue] | None = None) -> dict[str, Any]:
    """An Ibis table per source, through its connector; what connectors skipped goes to ``issues``."""
    import os

    issues = [] if issues is None else issues
    overrides = overrides or {}
    unknown = set(overrides) - {s.name for s in plan.sources}
    if unknown:
        raise DataError(f"--source names unknown source(s): {', '.join(sorted(unknown))}; "
                        f"the ruleset declares: {', '.join(s.name for s in plan.sources)}")
    tables = {}
    backend = con if isinstance(con, Backend) else DuckDBBackend(con)
    for sp in plan.sources:
        ctx = ConnectorContext(con=backend.staging, backend=backend, base_dir=base_dir, temp_dir=temp_dir, source=sp.name,
                               columns=frozenset(source_columns(plan, sp.name) | {sp.key}), issues=issues)
        options = dict(sp.options)
        for opt, var in sp.env.items():
            if var not in os.environ:
                raise DataError(f"source '{sp.name}': environment variable {var} is not set (option {opt})")
            options[opt] = os.environ[var]
        name = sp.connector
        if sp.name in overrides:
            location = overrides[sp.name]
            name = pick_connector(registry, sp.connector, location)
            cls = registry.connectors[name]
            if name != sp.connector:
                options = {}
            if "://" in location and "#" in location and "table" in cls.Options.model_fields:
                location, options["table"] = location.rsplit("#", 1)  # --source crm=postgresql://…/db#customers
                options.pop("query", None)
            elif "://" in location and name != sp.connector and "table" in cls.Options.model_fields:
                raise DataError(f"--source {sp.name}=…: name the table after '#', e.g. "
                                f"--source '{sp.name}=postgresql://host/db#customers'")
            options[cls.location_option] = location
        cls = registry.connectors[name]
        try:
            opts = cls.Options(**options)
        except Exception as exc:  # pydantic ValidationError: a bad --source combination
            from .options import validation_message

            raise DataError(f"source '{sp.name}': "
                            + (validation_message(exc.errors()[0]) if hasattr(exc, "errors") else str(exc)))
        tables[sp.name] = backend.adopt(cls().open(opts, ctx), sp.name)
    return tables


def evaluate_plan(plan: P.Plan, registry: Registry, tables: dict[str, Any], as_of: date, con: Any,
                  points_override: dict[str, float] | None = None) -> tuple[Any, list[DataIssue]]:
    """Evaluate into an in-memory DuckDB table: (result table, data issues)."""
    result, issues, _ = evaluate_with_calibration(plan, registry, tables, as_of, con, points_override)
    return result, issues


def evaluate_with_calibration(plan: P.Plan, registry: Registry, tables: dict[str, Any], as_of: date, con: Any,
                              points_override: dict[str, float] | None = None, spill: Path | None = None
                              ) -> tuple[Any, list[DataIssue], dict[str, dict[str, float | None]]]:
    """Evaluate and materialise the result once: in memory, or streamed to ``spill`` (Parquet).

    Returns (result table, data issues, calibration: fitted normalizer parameters per indicator)."""
    ev = Evaluator(plan, registry, as_of, points_override).build(tables)
    ev.table = ev.table.order_by(plan.key_column)  # the same rows in the same order on every run: outputs diff
    name = "tierwise_result_" + hashlib.sha1(str(id(ev)).encode()).hexdigest()[:8]
    backend = con if isinstance(con, Backend) else DuckDBBackend(con)
    if spill is not None:
        return backend.save(ev.table, spill, name), ev.issues, ev.calibration
    return backend.materialise(ev.table, name), ev.issues, ev.calibration


def summarise(plan: P.Plan, result: Any) -> tuple[list[TierCount], dict[str, int], list[DataIssue], list[str], int]:
    """Tier distribution, missing values per indicator, data problems, customers left without a score
    by `missing -> error` — two aggregate queries."""
    import ibis

    lo, hi = plan.points_range
    metrics: dict[str, Any] = {"__n": result.count()}
    for i, ind in enumerate(plan.indicators):
        v, p = result[ind.name], result[f"{ind.name}.points"]
        metrics[f"m{i}"] = v.isnull().sum()
        if ind.bands and not any(b.op == "else" for b in ind.bands):
            cond = None
            for b in ind.bands:
                c = band_condition(b, v)
                cond = c if cond is None else (cond | c)
            metrics[f"u{i}"] = (v.notnull() & ~ibis.coalesce(cond, False)).sum()
        if ind.percent_compared:
            metrics[f"pc{i}"] = (v > 1).sum()
            metrics[f"px{i}"] = v.max()
        if not ind.bands and not ind.normalizer and plan.scoring == "weighted":
            metrics[f"r{i}"] = ((p < lo - 1e-9) | (p > hi + 1e-9)).sum()
    row = fetch_one(result.aggregate(**metrics))
    n = int(row["__n"])
    issues: list[DataIssue] = []
    warnings: list[str] = []
    missing: dict[str, int] = {}
    for i, ind in enumerate(plan.indicators):
        if row.get(f"m{i}"):
            missing[ind.name] = int(row[f"m{i}"])
        if row.get(f"u{i}"):
            issues.append(DataIssue("value matched no band (scored as missing)", ind.name, int(row[f"u{i}"])))
        if row.get(f"pc{i}"):
            warnings.append(
                f"{ind.name} is compared with percentages but {int(row[f'pc{i}'])} value(s) run above 1 "
                f"(max {row[f'px{i}']:g}): is {row[f'px{i}']:g} meant as {row[f'px{i}']:g}%? "
                f"Store percentages as fractions (0.95) or write the bands as plain numbers (>= 95)")
        if row.get(f"r{i}"):
            issues.append(DataIssue(f"points outside {lo:g}..{hi:g} (the value is used as points)", ind.name,
                                    int(row[f"r{i}"])))
    # a missing score comes from `missing -> error` (an error: exit 1) or from every indicator excluded
    err_missing = None
    for ind in plan.indicators:
        if ind.missing.policy == "error":
            m = result[f"{ind.name}.points"].isnull()
            err_missing = m if err_missing is None else (err_missing | m)
    no_score = result["score"].isnull()
    by_error = no_score & (err_missing if err_missing is not None else ibis.literal(False))
    rows = fetch_rows(result.group_by("tier").aggregate(
        n=result.count(), unscored=(no_score & ~by_error).sum(), unscored_error=by_error.sum()))
    unscored_excluded = sum(int(r["unscored"] or 0) for r in rows)
    unscored_error = sum(int(r["unscored_error"] or 0) for r in rows)
    if unscored_excluded:
        issues.append(DataIssue("no score: every indicator is missing (missing -> exclude)", "score",
                                unscored_excluded))
    for r in rows:
        r["unscored"] = int(r["unscored"] or 0) + int(r["unscored_error"] or 0)
    counts = {r["tier"]: r for r in rows}
    dist = []
    scored = n - sum(int(r["unscored"] or 0) for r in rows)
    for tp in plan.tiers:
        c = int(counts.pop(tp.name, {"n": 0})["n"])
        dist.append(TierCount(tp.name, tp.label, c, c / n if n else 0.0, tp.expect))
        if tp.rule == "top":  # ties at the cut all go in: say so when they swell the quota
            quota = int(scored * tp.top + 1e-9) if tp.top_percent else int(tp.top)
            if c >= max(2 * quota, quota + 2):
                what = f"top {tp.top * 100:g}%" if tp.top_percent else f"top {tp.top:g}"
                warnings.append(f"tier {tp.name} ({what}) holds {c} customers where the quota is {quota}: "
                                f"scores tie at the cut, and ties all go in")
    if None in counts:
        unscored = int(counts[None]["unscored"] or 0)
        untiered = int(counts[None]["n"]) - unscored
        if unscored:
            dist.append(TierCount(None, NO_SCORE, unscored, unscored / n, None))
        if untiered:
            dist.append(TierCount(None, NO_TIER, untiered, untiered / n, None))
            if plan.tiers:
                warnings.append(f"{untiered} customer(s) with a score match no tier: "
                                f"add `tier NAME otherwise` to give everyone a tier")
    return dist, missing, issues, warnings, unscored_error


def cannot_evaluate(exc: Exception) -> DataError:
    """A DataError for what the checks let through and the query engine refused (a rule that mixes
    types the data does not allow, a value out of range): one line, in the rule file's names."""
    import re

    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()] or [type(exc).__name__]
    text = re.sub(r"\bs__(.+?)__", r"\1.", lines[0])  # internal column names back to source.column
    text = re.sub(r"\b(value|points|measure|dimension|label|segment)__", "", text)
    return DataError(f"cannot evaluate the rules on this data: {text} — if `tierwise check` passes this "
                     f"file, please report it")


def not_applied_yet(plan: P.Plan) -> list[str]:
    """What a run checks but does not do yet: triggers and `on` lines that need the rating history."""
    out = []
    if plan.triggers:
        out.append(f"trigger(s) {', '.join(t.name for t in plan.triggers)} checked, not applied: re-rating, "
                   f"tier caps and downgrades need the rating history (tiers here are before any trigger)")
    later = sorted({r.event for r in plan.on_rules if r.event not in ("tier", "label")})
    if later:
        out.append(f"`on {'/'.join(later)}` lines checked, not run: they need the rating history")
    return out


def deliver_actions(plan: P.Plan, registry: Registry, result: Any, run_id: str, log: list[str]) -> None:
    """Run the `on tier X` / `on label X` lines (history-based events need the store)."""
    for rule in plan.on_rules:
        if rule.event == "tier":
            sel = result.filter(result["tier"] == rule.target)
        elif rule.event == "label" and "labels" in result.columns:
            sel = result.filter(result["labels"].split(",").contains(rule.target))
        else:
            continue
        rows = fetch_rows(sel.select(k=sel[plan.key_column], tier=sel["tier"], score=sel["score"]))
        for action in rule.actions:
            handler = registry.actions[action.action]()
            items = [ActionItem(r["k"], r["tier"], r["score"], rule.text,
                                f"{run_id}:{r['k']}:{action.action}:{rule.text}") for r in rows]
            handler.deliver(ActionBatch(run_id, plan.name, action.action, action.options, items, log.append))


def run(plan: P.Plan, registry: Registry, base_dir: Path, as_of: date,
        overrides: dict[str, str] | None = None, parquet_out: Path | None = None,
        backend_spec: str | None = None, spark_conf: dict[str, str] | None = None) -> RunOutcome:
    """Rate everyone. With ``parquet_out`` the results stream straight into that file
    (written beside it and renamed once complete), saving a copy of a large result."""
    backend = open_backend(backend_spec, spark_conf)
    scratch = Path(tempfile.mkdtemp(prefix="tierwise-"))
    # written beside --out when it is Parquet, so the final rename is atomic and nothing is copied
    result_path = parquet_out.with_name(f".{parquet_out.name}.partial") if parquet_out else scratch / "result.parquet"
    info = {"ruleset": plan.name, "version": plan.version, "as_of": as_of.isoformat(), "text_hash": plan.text_hash,
            "sources": {s.name: s.connector for s in plan.sources}}
    registry.pm.hook.tierwise_run_started(run=info)
    try:
        result_path.parent.mkdir(parents=True, exist_ok=True)
        source_issues: list[DataIssue] = []
        tables = open_sources(plan, registry, backend, base_dir, scratch, overrides, source_issues)
        result, issues, cal = evaluate_with_calibration(plan, registry, tables, as_of, backend, spill=result_path)
        issues = source_issues + issues
        dist, missing, more_issues, warnings, unscored = summarise(plan, result)
        warnings += not_applied_yet(plan)
        log: list[str] = []
        run_id = f"{plan.text_hash[:12]}-{as_of.isoformat()}"
        deliver_actions(plan, registry, result, run_id, log)
        if parquet_out is not None:
            os.replace(result_path, parquet_out)
            result_path = parquet_out
    except BaseException as exc:
        shutil.rmtree(scratch, ignore_errors=True)
        if parquet_out is not None:
            result_path.unlink(missing_ok=True)
        if isinstance(exc, Exception) and not isinstance(exc, (DataError, OSError)):
            raise cannot_evaluate(exc) from exc
        raise
    finally:
        backend.close()
    rows = sum(t.count for t in dist)
    registry.pm.hook.tierwise_run_finished(run=info, summary={"rows": rows, "tiers": {t.tier: t.count for t in dist}})
    outcome = RunOutcome(plan, as_of, result_path, rows, dist, issues + more_issues, warnings, missing, log, cal,
                         unscored)
    weakref.finalize(outcome, shutil.rmtree, scratch, True)
    return outcome


def write_output(table: Any, path: Path) -> None:
    """Write results as .csv (UTF-8 with BOM, so Excel shows Chinese), .parquet or .xlsx."""
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, path)
    elif suffix == ".csv":
        import pyarrow.csv as pacsv

        with open(path, "wb") as fh:
            fh.write(b"\xef\xbb\xbf")
            pacsv.write_csv(table, fh)
    elif suffix == ".xlsx":
        write_xlsx(table, path)
    else:
        raise DataError(f"cannot write {path.name}: the output must end in .csv, .parquet or .xlsx")


XLSX_MAX_ROWS = 1_048_575


def write_xlsx(table: Any, path: Path) -> None:
    from openpyxl import Workbook

    if table.num_rows > XLSX_MAX_ROWS:
        raise DataError(f"{table.num_rows} rows do not fit in one Excel sheet (max {XLSX_MAX_ROWS}); "
                        f"write .parquet or .csv instead")
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("ratings")

    def cell(v: Any) -> Any:
        """Text stays text: control characters (illegal in .xlsx) become U+FFFD, and a leading '='
        is not a formula (a key "=HYPERLINK(...)" must not turn into a live link)."""
        if not isinstance(v, str):
            return v
        v = ILLEGAL_CHARACTERS_RE.sub("\ufffd", v)
        if v[:1] != "=":
            return v
        c = WriteOnlyCell(ws, value=v)
        c.data_type = "s"
        return c

    ws.append([cell(c) for c in table.column_names])
    for batch in table.to_batches(50_000):
        cols = [c.to_pylist() for c in batch.columns]
        for row in zip(*cols):
            ws.append([cell(v) for v in row])
    wb.save(path)
