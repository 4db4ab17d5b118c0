"""A run, as explicit steps: open -> check data -> fit -> evaluate -> compute -> summarise -> deliver
-> write. Each step is a function with typed inputs and outputs (its own module); ``run`` calls
them in order. A rating store and an action outbox plug in between compute and deliver.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import uuid
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from . import columns as C
from . import plan as P
from .backends import Backend, open_backend
from .arrow_arrays import ListTable
from .calibration import Calibration
from .deliver import Delivered, Delivery, collector_held, columns_needed, decide, deliver_now
from .evaluate import Evaluation, evaluate
from .prepare import KEY, KeyFacts, PreparedSources, text_key
from .fit import fit, fit_measuring
from .headers import language_for
from .output import write_output, write_results  # noqa: F401  (write_output: cli.history imports it here)
from .plugin_api import ActionContext
from .plugin_api import DataError, DataIssue
from .plugin_manager import Registry
from .progress import SILENT, Progress
from .quality import check_data
from .settings import settings_for_delivery
from .sources import open_sources, openings, prefetch
if TYPE_CHECKING:
    from .record import Recording
from .summary import NO_SCORE, NO_TIER, Summary, TierCount, indicator_columns, indicator_metrics, summarise, tier_columns  # noqa: F401  (re-exported)

#: result columns the summarise step reads, besides each indicator's value and points
SUMMARY_COLUMNS = ("score", "tier")


@dataclass
class Opened:
    """The open step's output: a backend and an Ibis table per source."""

    backend: Backend
    tables: dict[str, Any]
    issues: list[DataIssue]
    scratch: Path


@dataclass
class Computed:
    """An evaluation run once: its rows in ``path`` (Parquet), ``table`` over them."""

    table: Any
    path: Path
    columns: list[str]


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
    calibration: Calibration = field(default_factory=Calibration)
    unscored: int = 0  # customers without a score because of `missing -> error` (the run fails)
    run_id: str = ""
    columns: list[str] = field(default_factory=list)  # the output columns (the result file may hold more)
    deliveries: dict[str, int] = field(default_factory=dict)  # the actions it caused: delivered/failed/pending
    facts: Any = None  # engine.report.ResultFacts: what a report's charts show (a run asked for a report)
    file_columns: list[str] = field(default_factory=list)  # the columns the result file holds, in order

    @property
    def table(self) -> Any:
        """The results (the output columns) as a pyarrow Table (read on demand)."""
        import pyarrow.parquet as pq

        return pq.read_table(self.result_path, columns=self.columns or None)

    def find(self, key: str) -> dict[str, Any] | None:
        """One customer's result row."""
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        table = pq.read_table(self.result_path, columns=self.columns or None,
                              filters=pc.field(self.plan.key_column) == key)
        return table.to_pylist()[0] if table.num_rows else None

    def write(self, path: Path, headers: str | None = None) -> None:
        """Write results as .parquet, .csv (UTF-8 with BOM, so Excel shows Chinese) or .xlsx (the ratings
        workbook); ``headers`` en|zh, default: the ruleset's language in .xlsx, machine names elsewhere."""
        if path.suffix.lower() == ".parquet" and language_for(self.plan, path, headers) == "en" \
                and self._file_is_output():
            if path.exists() and path.resolve() == self.result_path.resolve():
                return  # the run wrote its results there directly
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.result_path, path)
        else:
            write_results(self, path, headers)

    def _file_is_output(self) -> bool:
        # the run knows what it wrote: reading the schema back would import pyarrow (0.1 s)
        return not self.columns or self.file_columns == self.columns


# ---- steps ---------------------------------------------------------------------------------------

def open_step(plan: P.Plan, registry: Registry, base_dir: Path, overrides: dict[str, str] | None = None,
              backend: str | None = None) -> Opened:
    """Connect to the backend and open every source through its connector (which may start reading
    ahead while the backend connects: ``Connector.prefetch``)."""
    opening = prefetch(openings(plan, registry, overrides), base_dir)
    be = open_backend(backend)
    scratch = Path(tempfile.mkdtemp(prefix="tierwise-"))
    issues: list[DataIssue] = []
    try:
        tables = open_sources(plan, registry, be, base_dir, scratch, overrides, issues, opening)
    except BaseException:
        be.close()
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return Opened(be, tables, issues, scratch)


def compute(evaluation: Evaluation, backend: Backend, path: Path) -> Computed:
    """Run the evaluation once, sorted by key, streamed into ``path`` (Parquet) by the backend."""
    import hashlib

    table = evaluation.table.order_by(evaluation.key_column)  # the same rows in the same order on every run
    name = "tierwise_result_" + hashlib.sha1(str(path).encode()).hexdigest()[:8]
    return Computed(backend.save(table, path, name), path, list(evaluation.columns))


def held_sources(plan: P.Plan, tables: dict[str, Any], backend: Backend) -> dict[str, Any]:
    """The sources of one row per customer — read by the counting, the fitting and the scoring queries
    — with the columns the rules read, held by the backend (``Backend.held``); a log (many rows per
    customer) is read once anyway, by its census."""
    from .backends.base import ROW_ORDER
    from .prepare import source_columns

    out = dict(tables)
    for sp in plan.sources:
        t = tables[sp.name]
        needed = source_columns(plan, sp.name) | {sp.key}
        if sp.multi_row or not needed <= set(t.columns):  # a missing column is reported against them all
            continue
        wanted = [c for c in t.columns if c in needed | {ROW_ORDER}]
        out[sp.name] = backend.held(t, wanted, f"tierwise_held_{uuid.uuid4().hex[:8]}")
    return out


def summary_columns(plan: P.Plan) -> list[str]:
    """What summarise reads: its tier side and its indicator side."""
    return list(dict.fromkeys([*tier_columns(plan), *indicator_columns(plan)]))


def summarise_step(plan: P.Plan, result: Any, backend: Backend, written: list[str], whole: bool,
                   evaluate_columns: Callable[[list[str]], Any], indicator_row: dict[str, Any] | None = None
                   ) -> Summary:
    """Summarise the run from its ``result`` (which holds the ``written`` columns); ``whole``: summarise
    what was written whatever it holds (a re-rating's fired customers). A narrow output (`--columns
    score,tier`) lacks the indicators' columns: their aggregates come from ``indicator_row`` when fit's
    query computed them (``fit_measuring``), else the values are evaluated on their own — they need none
    of the normalizers' windows, so that costs a fraction of scoring again — and the score and the tier
    read from the result; without the tier side either, the summary's columns are evaluated again."""
    have = set(written)
    if whole or set(summary_columns(plan)) <= have:
        return summarise(plan, result, backend)
    if indicator_row is not None:
        tier_side = result if set(tier_columns(plan)) <= have else evaluate_columns(tier_columns(plan))
        return summarise(plan, tier_side, backend, indicator_row=indicator_row)
    if set(tier_columns(plan)) <= have:
        return summarise(plan, result, backend, values=evaluate_columns(indicator_columns(plan)))
    return summarise(plan, evaluate_columns(summary_columns(plan)), backend)


def run_columns(plan: P.Plan, output: list[str], tier_overrides: bool) -> list[str]:
    """The output columns plus what deliver reads (the result the run writes)."""
    extra = [*SUMMARY_COLUMNS, *columns_needed(plan)] + (["final_tier"] if tier_overrides else [])
    return output + [c for c in dict.fromkeys(extra) if c not in output]


def stored_summary(summary: Summary, issues: list[DataIssue], warnings: list[str]) -> dict[str, Any]:
    """The summary as the store keeps it with the run (what a report of the stored run shows)."""
    from .report import summary_json

    return summary_json(summary.distribution, summary.missing_counts, issues, warnings)


def _is_arrow(t: Any) -> bool:
    return type(t).__module__.startswith("pyarrow")


def brought_in(backend: Backend, table: Any, name: str) -> Any:
    """Rows given from Python (the store's last ratings or overrides: a ``ListTable``, or a pyarrow table)
    as a table of ``backend``; an Ibis table (or None) as it is."""
    if isinstance(table, ListTable):
        return backend.from_lists(table, name)
    return backend.from_arrow(table, name) if _is_arrow(table) else table


def _is_store_error(exc: Exception) -> bool:
    from .store.store import StoreError

    return isinstance(exc, StoreError)


def new_run_id() -> str:
    return str(uuid.uuid4())


def run(plan: P.Plan, registry: Registry, base_dir: Path, as_of: date,
        overrides: dict[str, str] | None = None, parquet_out: Path | None = None, *,
        columns: list[str] | None = None, calibration: Calibration | None = None, previous: Any = None,
        tier_overrides: Any = None, backend: str | None = None, progress: Progress = SILENT,
        record: Recording | None = None, rerate: bool = False, report: bool = False,
        deliver: bool = True) -> RunOutcome:
    """Rate everyone. With ``record``, the run and every rating go into the rating store (one
    transaction, between summarising and delivering; a failed run is recorded as failed). ``columns``: the output columns (the default output without). With
    ``parquet_out`` the results stream straight into that file (written beside it and renamed once
    complete), saving a copy of a large result. ``calibration``: fitted parameters to use instead of
    fitting; ``previous``/``tier_overrides``: tables as ``evaluate`` takes them. ``rerate``: an off-cycle
    re-rating: everyone is evaluated with ``calibration`` (required: frozen from the last full run), and
    only the customers whose triggers fire are kept — summarised, recorded, delivered and written.
    ``report``: also gather what a report's charts show (``RunOutcome.facts``: histograms of the score
    and the dimensions, segment sizes), by queries over the result. ``deliver=False``: a what-if
    (``tierwise diff``): the `on` lines' actions are neither queued nor delivered."""
    if rerate and calibration is None:
        raise ValueError("a re-rating scores with the frozen calibration of a full run: give calibration")
    if rerate and not plan.triggers:
        raise DataError(f"ruleset '{plan.name}' has no triggers: nothing can fire a re-rating")
    if record is not None:  # the store gives the last ratings (change()) and the approved overrides
        previous = previous if previous is not None else record.previous_table(plan)
        tier_overrides = tier_overrides if tier_overrides is not None else record.overrides_table(plan, as_of)
    output = list(columns) if columns is not None else C.default_columns(plan, tier_overrides is not None)
    wanted = run_columns(plan, output, tier_overrides is not None)
    if (record is not None or rerate) and plan.triggers and "triggers" not in wanted:
        wanted.append("triggers")  # a rating's reason names the triggers that fired
    if report:
        from .report import report_columns

        wanted += [c for c in report_columns(plan) if c not in wanted]
    run_id = new_run_id()
    info = {"ruleset": plan.name, "version": plan.version, "as_of": as_of.isoformat(), "text_hash": plan.text_hash,
            "sources": {s.name: s.connector for s in plan.sources}, "run_id": run_id}
    direct = parquet_out is not None and wanted == output
    registry.pm.hook.tierwise_run_started(run=info)
    with progress.step("reading"):
        opened = open_step(plan, registry, base_dir, overrides, backend)
    be, scratch = opened.backend, opened.scratch
    previous, tier_overrides = (brought_in(be, t, f"tierwise_{name}_{run_id[:8]}")
                                for name, t in (("previous", previous), ("overrides", tier_overrides)))
    # written beside --out when it is Parquet, so the final rename is atomic and nothing is copied
    result_path = parquet_out.with_name(f".{parquet_out.name}.partial") if direct and parquet_out \
        else scratch / "result.parquet"
    try:
        result_path.parent.mkdir(parents=True, exist_ok=True)
        with progress.step("reading", be.query_progress):
            opened.tables = held_sources(plan, opened.tables, be)
            quality = check_data(plan, opened.tables, be, registry=registry, as_of=as_of)
        sources = PreparedSources(plan, opened.tables, quality.keys, be)  # fit, evaluate and summarise read them
        indicator_row = None
        if calibration is None:
            # a narrow output's summary aggregates the indicators' values in fit's query: one scan fewer
            narrow = not rerate and not set(summary_columns(plan)) <= set(wanted)
            with progress.step("fitting", be.query_progress):
                calibration, indicator_row = fit_measuring(
                    plan, opened.tables, as_of, be, registry=registry, keys=quality.keys,
                    columns=indicator_columns(plan) if narrow else (),
                    measure=(lambda values, missing: indicator_metrics(plan, values, missing)) if narrow else None,
                    sources=sources)
        evaluation = evaluate(plan, opened.tables, as_of, calibration, previous, tier_overrides,
                              registry=registry, backend=be, keys=quality.keys, columns=wanted, sources=sources)
        with progress.step("scoring", be.query_progress):
            computed = compute(evaluation, be, scratch / "everyone.parquet" if rerate else result_path)
            if rerate:  # only the customers a trigger fired for are re-rated; everyone else stays as stored
                fired = computed.table.filter(computed.table["triggers"].notnull() & (computed.table["triggers"] != ""))
                fired = fired.order_by(evaluation.key_column)
                computed = Computed(be.save(fired, result_path, "tierwise_fired_" + run_id[:8]), result_path,
                                    computed.columns)
            summary = summarise_step(plan, computed.table, be, wanted, rerate,
                                     lambda cols: evaluate(plan, opened.tables, as_of, calibration, previous,
                                                           tier_overrides, registry=registry, backend=be,
                                                           keys=quality.keys, columns=[plan.key_column, *cols],
                                                           sources=sources).table,
                                     indicator_row)
        facts = None
        if report:
            from .report import result_facts

            with progress.step("reporting", be.query_progress):
                facts = result_facts(plan, computed.table, be)
        issues = opened.issues + quality.issues + summary.issues
        warnings = summary.warnings + not_applied_yet(plan, record is not None)
        owed: Iterable[Delivery] = decide(plan, computed.table, run_id, be, registry) if deliver else iter(())
        if record is not None:
            from .record import record_step  # the store (SQLAlchemy) is imported only by runs that record

            with progress.step("recording"), collector_held():  # the ratings and the outbox rows: one transaction
                record_step(record, plan, run_id, as_of, calibration, summary.distribution, computed.path, owed,
                            summary=stored_summary(summary, issues, warnings))
        else:
            with collector_held():
                owed = list(owed)
        if parquet_out is not None:
            if not direct:  # the output columns only, written by the backend from the run's result
                partial = parquet_out.with_name(f".{parquet_out.name}.partial")
                be.write_parquet(computed.table.select(*output), partial)
                os.replace(partial, parquet_out)
                result_path.unlink(missing_ok=True)
            else:
                os.replace(result_path, parquet_out)
            result_path = parquet_out
    except BaseException as exc:
        shutil.rmtree(scratch, ignore_errors=True)
        if parquet_out is not None:
            parquet_out.with_name(f".{parquet_out.name}.partial").unlink(missing_ok=True)
        failure = cannot_evaluate(exc) if isinstance(exc, Exception) and not isinstance(exc, (DataError, OSError)) \
            else exc
        if record is not None and isinstance(exc, Exception) and not _is_store_error(exc):
            from .record import record_failure

            record_failure(record, plan, run_id, as_of, str(failure))
        if failure is not exc:
            raise failure from exc
        raise
    finally:
        be.close()
    log: list[str] = []
    if record is not None:  # after the commit: what the outbox holds for this run
        from .outbox import context_from_run, deliver_pending

        with progress.step("delivering"), collector_held():
            delivered = deliver_pending(record.store, registry, run_id, context_from_run(record.store, settings_for_delivery),
                                        log.append)
    else:
        delivered = Delivered()
        with collector_held():
            for r in deliver_now(plan, registry, owed, ActionContext(settings_for_delivery(base_dir / "x.tier"),
                                                                     base_dir), log.append):
                delivered.counts[r.status] = delivered.counts.get(r.status, 0) + 1
    registry.pm.hook.tierwise_run_finished(run=info, summary={"rows": summary.rows,
                                                              "tiers": {t.tier: t.count for t in summary.distribution}})
    outcome = RunOutcome(plan, as_of, result_path, summary.rows, summary.distribution,
                         issues, warnings,
                         summary.missing_counts, log, calibration, summary.unscored, run_id, output,
                         delivered.counts, facts=facts,
                         file_columns=list(output) if parquet_out is not None else list(computed.columns))
    weakref.finalize(outcome, shutil.rmtree, scratch, True)
    return outcome


@dataclass
class CustomerRatings:
    """Customers rated one by one: each found key's result row (every result column, the explanation
    columns included), the keys not found with the population's keys (for a suggestion), the
    calibration scored with, and which rule parts read the whole population (computed on all rows)."""

    rows: dict[str, dict[str, Any]]
    calibration: Calibration
    missing: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    population: list[str] = field(default_factory=list)


def rate_customers(plan: P.Plan, registry: Registry, base_dir: Path, as_of: date, customers: list[str],
                   overrides: dict[str, str] | None = None, backend: str | None = None, *,
                   calibration: Calibration | None = None, previous: Any = None,
                   tier_overrides: Any = None) -> CustomerRatings:
    """Rate just ``customers``: the key filter is pushed into the sources, so only their rows are read
    — except by the rule parts that read the population (ranks, population aggregates, quota tiers,
    and the normalizers when no ``calibration`` is given: then it is fitted on everyone first)."""
    from .evaluate import population_nodes

    opened = open_step(plan, registry, base_dir, overrides, backend)
    be = opened.backend
    keys = [str(k).strip() for k in customers]
    try:
        # fitting and scoring read the same sources; when both read everyone, typed once and held
        everyone = calibration is None or bool(population_nodes(plan, registry, calibration, {}))
        sources = PreparedSources(plan, opened.tables, None, be, hold=everyone)
        if calibration is None:
            calibration = fit(plan, opened.tables, as_of, be, registry=registry, sources=sources)
        previous, tier_overrides = (brought_in(be, t, f"tierwise_{name}_{uuid.uuid4().hex[:8]}")
                                    for name, t in (("previous", previous), ("overrides", tier_overrides)))
        evaluation = evaluate(plan, opened.tables, as_of, calibration, previous, tier_overrides, registry=registry,
                              backend=be, columns=C.all_columns(plan, tier_overrides is not None), only=keys,
                              sources=sources)
        rows = {str(r[plan.key_column]): r for r in be.fetch_rows(evaluation.table)}
        population = sorted(population_nodes(plan, registry, calibration, {}))
        missing = [k for k in dict.fromkeys(keys) if k not in rows]
        found_keys: list[str] = []
        if missing:
            primary = next(s for s in plan.sources if s.name == plan.primary)
            t = opened.tables[primary.name]
            found_keys = [r["k"] for r in be.fetch_rows(t.select(k=text_key(t, primary.key)).distinct())]
        return CustomerRatings(rows, calibration, missing, found_keys, population)
    except (DataError, OSError):
        raise
    except Exception as exc:
        raise cannot_evaluate(exc) from exc
    finally:
        be.close()
        shutil.rmtree(opened.scratch, ignore_errors=True)


def evaluate_plan(plan: P.Plan, registry: Registry, tables: dict[str, Any], as_of: date, con: Any,
                  points_override: dict[str, float] | None = None) -> tuple[Any, list[DataIssue]]:
    """Check, fit and evaluate into a temporary table of ``con`` (a Backend or an Ibis DuckDB
    connection): (result table, data issues)."""
    from .backends.duckdb import DuckDBBackend

    be = con if isinstance(con, Backend) else DuckDBBackend(con)
    quality = check_data(plan, tables, be)
    sources = PreparedSources(plan, tables, quality.keys, be)
    calibration = fit(plan, tables, as_of, be, registry=registry, keys=quality.keys, points=points_override,
                      sources=sources)
    ev = evaluate(plan, tables, as_of, calibration, registry=registry, backend=be, keys=quality.keys, sources=sources,
                  points=points_override)
    name = f"tierwise_result_{uuid.uuid4().hex[:8]}"
    return be.materialise(ev.table.order_by(plan.key_column), name), quality.issues


def cannot_evaluate(exc: Exception) -> DataError:
    """A DataError for what the checks let through and the query engine refused (a rule that mixes
    types the data does not allow, a value out of range): one line, in the rule file's names."""
    import re

    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()] or [type(exc).__name__]
    text = re.sub(r"\bs__(.+?)__", r"\1.", lines[0])  # internal column names back to source.column
    text = re.sub(r"\b(value|points|measure|dimension|label|segment|band|weight|trigger)__", "", text)
    return DataError(f"cannot evaluate the rules on this data: {text} — if `tierwise check` passes this "
                     f"file, please report it")


def not_applied_yet(plan: P.Plan, recorded: bool = True) -> list[str]:
    """What a run checks but does not do: `review` without a store to keep the list in, and `on`
    lines that need the rating history."""
    out = []
    review = [t.name for t in plan.triggers if any(e.effect == "review" for e in t.effects)]
    if review and not recorded:
        out.append(f"trigger(s) {', '.join(review)}: `review` puts customers on the review list of the rating "
                   f"store; this run records nothing (--no-store), so nobody was put on it")
    later = sorted({r.event for r in plan.on_rules if r.event in ("enter", "leave", "upgrade", "downgrade")})
    if later and not recorded:
        out.append(f"`on {'/'.join(later)}`: without the rating store (--no-store) there is no last rating, so "
                   f"every customer enters its tier")
    return out


__all__ = ["KEY", "KeyFacts", "RunOutcome", "run", "rate_customers", "evaluate_plan", "cannot_evaluate"]
