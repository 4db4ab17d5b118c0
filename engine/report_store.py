"""The report of a stored run: read from the rating store (never re-rated).

The run row gives the rule text (compiled again for the tiers, cuts, dimensions and segments), the
tier counts and, since migration 0004, the run's summary (distribution, missing values, data problems
with sample rows, warnings). The ratings give each customer's score, computed tier, dimension scores
(since 0004) and segments: they are read into DuckDB and the same queries as a run's report count them.
"""
from __future__ import annotations

import json
from typing import Any

from . import plan as P
from .plugin_api import DataError, DataIssue
from .report import (MissingLine, Report, add_history, distribution_from_json, issues_from_json, missing_lines,
                     result_facts, score_axis, tier_cuts)
from .summary import NO_TIER, TierCount

READ_BATCH = 50_000


def stored_plan(run: Any, registry: Any) -> P.Plan:
    """The ruleset a stored run was rated with, compiled from the rule text the run kept."""
    from .build import compile_text

    plan, diags, _ = compile_text(run.rule_text or "", run.rule_file or "stored rule text", registry)
    if plan is None:
        first = diags.errors[0].message if diags.errors else "no rules"
        raise DataError(f"run {run.id[:8]}: its stored rule text does not compile here ({first}); "
                        f"is a plugin it uses missing?")
    return plan


def stored_report(store: Any, run: Any, registry: Any, *, history: bool = True) -> Report:
    """The report of run ``run`` (a store.models.Run), from the store alone."""
    if run.status != "complete":
        raise DataError(f"run {run.id[:8]} {run.status}: it has no ratings to report on")
    plan = stored_plan(run, registry)
    notes: list[str] = []
    summary = json.loads(run.summary) if run.summary else None
    facts, kept = _facts(store, run, plan)
    if plan.dimensions and not kept["dimensions"]:
        notes.append("dimension scores: not in the store for this run (recorded before the store kept them, "
                     "or its --columns left them out)")
    if plan.segments and not kept["segments"]:
        notes.append("segments: not in the store for this run (its --columns left them out)")
    missing: list[MissingLine] | None
    issues: list[DataIssue] | None
    if summary is not None:
        distribution = distribution_from_json(summary.get("distribution") or [])
        missing = missing_lines(plan, summary.get("missing") or {})
        issues = issues_from_json(summary.get("issues") or [])
        warnings = [str(w) for w in summary.get("warnings") or []]
    else:
        distribution = _distribution_from_counts(plan, json.loads(run.tier_counts or "{}"), run.rows)
        missing = issues = None
        warnings = []
        notes.append("data quality: this run was recorded before the store kept its summary (missing values, "
                     "data problems): run it again to see them")
    report = Report(ruleset=run.ruleset, version=run.version, as_of=run.as_of, rows=run.rows,
                    distribution=distribution, cuts=tier_cuts(plan, facts.quota_cuts), facts=facts,
                    score_axis=score_axis(plan), missing=missing, issues=issues, warnings=warnings, run_id=run.id,
                    started_at=run.started_at, started_by=run.started_by, kind=run.kind, notes=notes)
    if history:
        add_history(report, store, run)
    return report


def _distribution_from_counts(plan: P.Plan, counts: dict[str, int], rows: int) -> list[TierCount]:
    """The distribution from a run's tier counts (a run stored before its summary was)."""
    n = rows or sum(counts.values())
    out = [TierCount(tp.name, tp.label, int(counts.get(tp.name, 0)), counts.get(tp.name, 0) / n if n else 0.0,
                     tp.expect) for tp in plan.tiers]
    if counts.get(""):
        out.append(TierCount(None, NO_TIER.replace("no tier rule matched", "no score or no tier rule matched"),
                             int(counts[""]), counts[""] / n if n else 0.0, None))
    return out


def _json_path(name: str) -> str:
    """A DuckDB JSON path to the key ``name`` (quoted: keys may be Chinese or hold dots)."""
    return "$." + json.dumps(name, ensure_ascii=False).replace("'", "''")


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _facts(store: Any, run: Any, plan: P.Plan) -> tuple[Any, dict[str, bool]]:
    """(ResultFacts of the run's ratings, whether the ratings carry dimension scores and segments)."""
    import pyarrow as pa
    import sqlalchemy as sa

    from .backends import open_backend
    from .store.models import Rating, table_of

    r = table_of(Rating)
    batches = []
    wanted: list[tuple[str, sa.Column[Any], pa.DataType]] = [("score", r.c.score, pa.float64()), ("tier", r.c.computed_tier, pa.string())]
    if plan.segments:  # only what the ruleset has: every column read is a million values through Python
        wanted.append(("segments", r.c.segments, pa.string()))
    if plan.dimensions:
        wanted.append(("dimensions", r.c.dimensions, pa.string()))
    q = sa.select(*(c for _, c, _ in wanted)).where(r.c.run_id == run.id)
    schema = pa.schema([(name, t) for name, _, t in wanted])
    with store.engine.connect() as conn:
        # the database driver's own cursor: SQLAlchemy's Row objects cost more than reading the rows
        sql = q.compile(conn, compile_kwargs={"literal_binds": True})
        cursor = conn.connection.driver_connection.cursor()
        try:
            cursor.execute(str(sql))
            while chunk := cursor.fetchmany(READ_BATCH):
                cols = list(zip(*chunk))
                batches.append(pa.record_batch([pa.array(c, t.type) for c, t in zip(cols, schema)], schema=schema))
        finally:
            cursor.close()
    table = pa.Table.from_batches(batches, schema=schema)
    be = open_backend("duckdb")
    try:
        con = be.con
        name = f"tierwise_ratings_{run.id[:8]}"
        con.con.register(name + "_raw", table)
        dims = [d.name for d in plan.dimensions]

        def stored(column: str, wanted: bool) -> bool:  # any rating carries it (a narrow --columns run: none)
            return wanted and con.con.execute(f'SELECT count(*) FROM "{name}_raw" WHERE {column} IS NOT NULL '
                                              f"AND {column} <> '{{}}'").fetchone()[0] > 0

        kept = {"dimensions": stored("dimensions", bool(dims)), "segments": stored("segments", bool(plan.segments))}
        select = ["score", "tier"]
        if kept["dimensions"]:
            select += [f"TRY_CAST(json_extract_string(dimensions, '{_json_path(d)}') AS DOUBLE) AS {_quoted(d)}"
                       for d in dims]
        if kept["segments"]:
            select += [f"json_extract_string(segments, '{_json_path(s.name)}') AS {_quoted(s.name)}"
                       for s in plan.segments]
        con.raw_sql(f'CREATE TEMP VIEW "{name}" AS SELECT {", ".join(select)} FROM "{name}_raw"')
        return result_facts(plan, be.table(name), be), kept
    finally:
        be.close()
