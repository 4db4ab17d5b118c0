"""What a report shows, gathered from a run's result, summary and the rating store (never recomputed).

``Report`` is everything the HTML report renders: the tier distribution against the expected shares
(the Summary's counts), the tier cuts (the rule file's `score >= c` tiers; a quota tier's cut is the
lowest score it holds), the histograms of the score and of each dimension's score and the segment
sizes (``result_facts``: a few aggregate queries over the result table, on whatever backend holds
it), missing values and data problems (the Summary's), and with a history the migration matrix
against the previous run and the biggest movers (engine.changes). engine.report_store builds one
from a stored run.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from . import plan as P
from .plugin_api import DataIssue
from .summary import TierCount

BINS = 40  # about this many bins per histogram (the width is rounded to 1, 2, 2.5 or 5 × 10^k)
EPS = 1e-9  # as the tiers' cuts: a score within 1e-9 of a bin edge counts as on the edge


@dataclass
class Histogram:
    """Counts of a column's values in ``len(counts)`` bins of ``width`` from ``lo``; ``missing``: nulls."""

    lo: float
    width: float
    counts: list[int]
    missing: int = 0

    @property
    def hi(self) -> float:
        return self.lo + self.width * len(self.counts)

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True)
class Cut:
    """Where a tier starts on the score axis: ``score >= value`` (op ``>=``/``>``), or for a quota tier
    (``quota``) the lowest score in the tier."""

    tier: str
    value: float
    op: str
    quota: bool = False


@dataclass
class SegmentSizes:
    name: str
    counts: list[tuple[str | None, int]]  # (case, customers) in the rule file's order; None: no case matched


@dataclass
class ResultFacts:
    """What the histograms and segment charts show, from queries over a result table."""

    score: Histogram | None = None
    dimensions: dict[str, Histogram] = field(default_factory=dict)
    segments: list[SegmentSizes] = field(default_factory=list)
    quota_cuts: dict[str, float] = field(default_factory=dict)  # quota tier -> the lowest score it holds


@dataclass(frozen=True)
class MissingLine:
    indicator: str
    count: int
    how: str  # how the missing values were scored: "scored 1", "excluded", "no score"


@dataclass
class Report:
    ruleset: str
    version: str | None
    as_of: date
    rows: int
    distribution: list[TierCount]
    cuts: list[Cut]
    facts: ResultFacts
    score_axis: str  # what the score is on: "score 0..100", "points 1..10", "additive score"
    missing: list[MissingLine] | None = None  # None: not known (a run stored before the store kept it)
    issues: list[DataIssue] | None = None
    warnings: list[str] = field(default_factory=list)
    run_id: str = ""
    started_at: Any = None
    started_by: str = ""
    kind: str = "periodic"
    changes: Any = None  # engine.changes.RunChanges against the previous run, when there is one
    movers: list[Any] = field(default_factory=list)  # the biggest movers (engine.changes.Mover)
    history_note: str = ""  # why there is no migration matrix
    notes: list[str] = field(default_factory=list)  # what this report could not show, and why


# ---- from the rule file --------------------------------------------------------------------------

def tier_cuts(plan: P.Plan, quota_cuts: dict[str, float] | None = None) -> list[Cut]:
    """The score cuts of the tiers, in tier order: ``when score >= c`` / ``> c`` (either side written),
    and the lowest score of each quota tier (``top N``). Tiers with other rules have no cut."""
    out = []
    for tp in plan.tiers:
        c = tp.condition
        if tp.rule == "top" and quota_cuts and tp.name in quota_cuts:
            out.append(Cut(tp.name, float(quota_cuts[tp.name]), ">=", quota=True))
        elif isinstance(c, P.Cmp):
            if c.left == P.Ref("score") and isinstance(c.right, P.Lit) and c.op in (">=", ">"):
                out.append(Cut(tp.name, float(c.right.value), c.op))
            elif c.right == P.Ref("score") and isinstance(c.left, P.Lit) and c.op in ("<=", "<"):
                out.append(Cut(tp.name, float(c.left.value), ">=" if c.op == "<=" else ">"))
    return out


def score_range(plan: P.Plan) -> tuple[float, float] | None:
    """The range the score lies in, when the rule file fixes it (weighted scoring)."""
    if plan.scoring != "weighted":
        return None
    return plan.score_range or plan.points_range


def score_axis(plan: P.Plan) -> str:
    if plan.scoring != "weighted":
        return "additive score"
    if plan.score_range:
        return f"score {plan.score_range[0]:g}..{plan.score_range[1]:g}"
    return f"points {plan.points_range[0]:g}..{plan.points_range[1]:g}"


def dimension_range(plan: P.Plan) -> tuple[float, float] | None:
    """A dimension's score is on the points scale with weighted scoring; additive: not fixed."""
    return plan.points_range if plan.scoring == "weighted" else None


def missing_lines(plan: P.Plan, counts: dict[str, int]) -> list[MissingLine]:
    rules = {i.name: i.missing for i in plan.indicators}
    out = []
    for name, n in counts.items():
        m = rules.get(name)
        how = "" if m is None else (f"scored {m.points:g}" if m.policy == "points"
                                    else "excluded (its weight re-spread)" if m.policy == "exclude"
                                    else "no score (missing -> error)")
        out.append(MissingLine(name, int(n), how))
    return out


# ---- from the result -----------------------------------------------------------------------------

def nice_bins(lo: float, hi: float, bins: int = BINS) -> tuple[float, float, int]:
    """(lo, width, count): a round bin width (1, 2, 2.5, 5 × 10^k) for about ``bins`` bins over lo..hi."""
    span = hi - lo
    if not math.isfinite(span) or span <= 0:
        return (math.floor(lo) if math.isfinite(lo) else 0.0), 1.0, 1
    raw = span / bins
    mag = 10 ** math.floor(math.log10(raw))
    width = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * (1 - 1e-12))
    start = math.floor(lo / width + EPS) * width
    count = max(1, math.ceil((hi - start) / width - EPS))
    return start, width, count


def result_facts(plan: P.Plan, result: Any, backend: Any) -> ResultFacts:
    """The histograms (score, each dimension) and segment sizes, from aggregate queries over the
    result table (columns ``score``, ``tier``, each dimension's and segment's name; missing ones are
    skipped)."""
    import ibis

    columns = set(result.columns)
    facts = ResultFacts()
    hist_cols: dict[str, tuple[float, float] | None] = {}
    if "score" in columns:
        hist_cols["score"] = score_range(plan)
    for d in plan.dimensions:
        if d.name in columns:
            hist_cols[d.name] = dimension_range(plan)
    unknown = [c for c, r in hist_cols.items() if r is None]
    quota = [tp.name for tp in plan.tiers if tp.rule == "top"] if {"score", "tier"} <= columns else []
    metrics: dict[str, Any] = {}
    for i, c in enumerate(unknown):
        metrics[f"lo{i}"], metrics[f"hi{i}"] = result[c].min(), result[c].max()
    for j, name in enumerate(quota):
        metrics[f"q{j}"] = result["score"].min(where=result["tier"] == name)
    if metrics:
        row = backend.fetch_one(result.aggregate(**metrics))
        for i, c in enumerate(unknown):
            lo, hi = row.get(f"lo{i}"), row.get(f"hi{i}")
            hist_cols[c] = (float(lo), float(hi)) if lo is not None and hi is not None else (0.0, 1.0)
        facts.quota_cuts = {name: float(row[f"q{j}"]) for j, name in enumerate(quota) if row.get(f"q{j}") is not None}
    hists = {}
    for c, (lo, hi) in hist_cols.items():  # type: ignore[misc]
        start, width, count = nice_bins(lo, hi)
        v = result[c].cast("float64")
        index = ((v - start) / width + EPS).floor().cast("int64").clip(0, count - 1)
        bins = result.select(b=ibis.coalesce(index, -1)).group_by("b").aggregate(n=ibis._.count())
        counts = [0] * count
        missing = 0
        for r in backend.fetch_rows(bins):
            if int(r["b"]) < 0:
                missing = int(r["n"])
            else:
                counts[int(r["b"])] = int(r["n"])
        hists[c] = Histogram(start, width, counts, missing)
    facts.score = hists.pop("score", None)
    facts.dimensions = hists
    for seg in plan.segments:
        if seg.name not in columns:
            continue
        got = {r["v"]: int(r["n"]) for r in backend.fetch_rows(
            result.select(v=result[seg.name].cast("string")).group_by("v").aggregate(n=ibis._.count()))}
        order = [case for case, _ in seg.cases]
        sizes: list[tuple[str | None, int]] = [(case, got.pop(case, 0)) for case in order]
        sizes += [(v, n) for v, n in sorted(got.items(), key=lambda kv: (kv[0] is None, str(kv[0])))]
        facts.segments.append(SegmentSizes(seg.name, sizes))
    return facts


def report_columns(plan: P.Plan) -> list[str]:
    """The result columns ``result_facts`` reads."""
    return ["score", "tier", *(d.name for d in plan.dimensions), *(s.name for s in plan.segments)]


# ---- the summary, as the store keeps it ------------------------------------------------------------

def summary_json(distribution: list[TierCount], missing_counts: dict[str, int], issues: list[DataIssue],
                 warnings: list[str]) -> dict[str, Any]:
    """A run's summary as the store keeps it (``run.summary``)."""
    return {"distribution": [{"tier": t.tier, "label": t.label, "count": t.count, "share": t.share,
                              "expect": list(t.expect) if t.expect else None} for t in distribution],
            "missing": dict(missing_counts),
            "issues": [{"what": i.what, "where": i.where, "count": i.count, "samples": list(i.samples)}
                       for i in issues],
            "warnings": list(warnings)}


def distribution_from_json(data: list[dict[str, Any]]) -> list[TierCount]:
    return [TierCount(d.get("tier"), d.get("label"), int(d.get("count") or 0), float(d.get("share") or 0.0),
                      tuple(d["expect"]) if d.get("expect") else None) for d in data]


def issues_from_json(data: list[dict[str, Any]]) -> list[DataIssue]:
    return [DataIssue(str(d.get("what", "")), str(d.get("where", "")), int(d.get("count") or 0),
                      [str(s) for s in d.get("samples") or []]) for d in data]


# ---- history ---------------------------------------------------------------------------------------

def biggest_movers(changes: Any, tiers: list[str], top: int = 20) -> list[Any]:
    """The movers that moved most: tiers jumped first, then the size of the score change."""
    rank = {t: i for i, t in enumerate(tiers)}

    def size(m: Any) -> tuple[float, float, str]:
        a, b = rank.get(m.tier_before or "", len(tiers)), rank.get(m.tier_after or "", len(tiers))
        delta = abs((m.score_after or 0.0) - (m.score_before or 0.0)) \
            if m.score_after is not None and m.score_before is not None else 0.0
        return (-abs(a - b), -delta, m.customer)

    return sorted(changes.movers, key=size)[:top]


def previous_run(store: Any, run: Any) -> Any:
    """The complete run of the same ruleset started last before ``run`` (None: the first)."""
    for r in store.runs(run.ruleset):  # newest first
        if r.id != run.id and r.status == "complete" and r.started_at < run.started_at:
            return r
    return None


def add_history(report: Report, store: Any, run: Any, top: int = 20) -> None:
    """The migration matrix against the previous run of the same ruleset, and the biggest movers."""
    from .changes import compare_runs

    before = previous_run(store, run)
    if before is None:
        report.history_note = "the first recorded run of this ruleset: nothing to compare with"
        return
    report.changes = compare_runs(store, before, run, top=3)
    report.movers = biggest_movers(report.changes, report.changes.tiers, top)


def outcome_report(outcome: Any, store: Any = None) -> Report:
    """The report of a run just made (engine.run.RunOutcome, run with ``report=True``); with the store
    it was recorded in, the migration matrix against the previous run."""
    plan = outcome.plan
    facts = outcome.facts if outcome.facts is not None else ResultFacts()
    report = Report(ruleset=plan.name, version=plan.version, as_of=outcome.as_of, rows=outcome.rows,
                    distribution=list(outcome.distribution), cuts=tier_cuts(plan, facts.quota_cuts), facts=facts,
                    score_axis=score_axis(plan), missing=missing_lines(plan, outcome.missing_counts),
                    issues=list(outcome.issues), warnings=list(outcome.warnings), run_id=outcome.run_id)
    run = store.run(outcome.run_id) if store is not None and outcome.run_id else None
    if run is None:
        report.history_note = "this run was not recorded in a rating store (--no-store): no history to compare with"
        return report
    report.started_at, report.started_by, report.kind = run.started_at, run.started_by, run.kind
    add_history(report, store, run)
    return report
