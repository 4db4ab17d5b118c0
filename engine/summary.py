"""The summarise step: the tier distribution against the expected shares, missing values, values no
band matched, points out of range, customers without a score."""
from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import Any, TypedDict

from . import plan as P
from .plugin_api import DataIssue
from .scoring import matched_no_band


class _TierRow(TypedDict):
    """One tier's counts as summarise reads them (tier None: customers with no tier)."""

    tier: str | None
    n: int
    unscored: int
    unscored_error: int

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
class Summary:
    distribution: list[TierCount]
    missing_counts: dict[str, int]
    issues: list[DataIssue] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unscored: int = 0  # customers without a score because of `missing -> error` (the run fails)

    @property
    def rows(self) -> int:
        return sum(t.count for t in self.distribution)


def tier_columns(plan: P.Plan) -> list[str]:
    """The result columns the tier side of the summary reads: the score, the tier, and the points of the
    indicators under `missing -> error` (a customer they leave without a score is an error)."""
    return ["score", "tier", *(f"{i.name}.points" for i in plan.indicators if i.missing.policy == "error")]


def indicator_columns(plan: P.Plan) -> list[str]:
    """The result columns the indicator side of the summary reads: each indicator's value, and the points
    of those whose value is used as points (checked against the points range)."""
    return [c for ind in plan.indicators
            for c in (ind.name, *([f"{ind.name}.points"] if _raw_points(plan, ind) else []))]


def _raw_points(plan: P.Plan, ind: P.IndicatorPlan) -> bool:
    return not ind.bands and not ind.normalizer and plan.scoring == "weighted"


def indicator_metrics(plan: P.Plan, values: Any, missing: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The indicator side's aggregates over ``values`` (a table with the ``indicator_columns``): missing
    values, values no band matched, values above 1 compared with percentages, points out of range.
    ``missing``: for some indicators, where their value is missing, read off their columns (cheaper
    than computing a value only to see it is missing)."""
    lo, hi = plan.points_range
    out: dict[str, Any] = {}
    for i, ind in enumerate(plan.indicators):
        v = values[ind.name]
        m = (missing or {}).get(ind.name)
        out[f"m{i}"] = (m if m is not None else v.isnull()).sum()
        unmatched = matched_no_band(ind, v)
        if unmatched is not None:
            out[f"u{i}"] = unmatched.sum()
        if ind.percent_compared:
            out[f"pc{i}"] = (v > 1).sum()
            out[f"px{i}"] = v.max()
        if _raw_points(plan, ind):
            p = values[f"{ind.name}.points"]
            out[f"r{i}"] = ((p < lo - 1e-9) | (p > hi + 1e-9)).sum()
    return out


def summarise(plan: P.Plan, result: Any, backend: Any, values: Any = None,
              indicator_row: dict[str, Any] | None = None) -> Summary:
    """Tier distribution, missing values per indicator, data problems, customers left without a score
    by `missing -> error` — aggregate queries over the result (which carries the columns of
    ``tier_columns`` and ``indicator_columns``). When ``result`` carries only the tier side (a narrow
    output), the indicator side comes from ``values`` (a table of the same customers with its columns:
    each side is then one aggregate query of its own) or, already aggregated by another query over the
    same customers (fit's), from ``indicator_row`` (``indicator_metrics`` by name)."""
    import ibis

    lo, hi = plan.points_range
    metrics: dict[str, Any] = {"__n": result.count()}
    # a missing score comes from `missing -> error` (an error: exit 1) or from every indicator excluded
    err_missing = None
    for ind in plan.indicators:
        if ind.missing.policy == "error":
            m = result[f"{ind.name}.points"].isnull()
            err_missing = m if err_missing is None else (err_missing | m)
    no_score = result["score"].isnull()
    by_error = no_score & (err_missing if err_missing is not None else ibis.literal(False))
    tiers: list[str | None] = [tp.name for tp in plan.tiers] + [None]
    for j, name in enumerate(tiers):
        here = result["tier"].isnull() if name is None else (result["tier"] == name)
        here = ibis.coalesce(here, False)
        metrics[f"tn{j}"] = here.sum()
        metrics[f"tu{j}"] = (here & no_score & ~by_error).sum()
        metrics[f"te{j}"] = (here & by_error).sum()
    if indicator_row is not None:  # the indicator side aggregated already
        row = {**backend.fetch_one(result.aggregate(**metrics)), **indicator_row}
    elif values is None:  # both sides in one query over the result
        row = backend.fetch_one(result.aggregate(**metrics, **indicator_metrics(plan, result)))
    else:
        side = indicator_metrics(plan, values)
        row = {**backend.fetch_one(result.aggregate(**metrics)),
               **(backend.fetch_one(values.aggregate(**side)) if side else {})}
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
    rows: list[_TierRow] = [{"tier": name, "n": int(row.get(f"tn{j}") or 0), "unscored": int(row.get(f"tu{j}") or 0),
             "unscored_error": int(row.get(f"te{j}") or 0)} for j, name in enumerate(tiers)]
    rows = [r for r in rows if r["n"]]
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
        c = int(counts.pop(tp.name)["n"]) if tp.name in counts else 0
        dist.append(TierCount(tp.name, tp.label, c, c / n if n else 0.0, tp.expect))
        if tp.rule == "top":  # ties at the cut all go in: say so when they swell the quota
            assert tp.top is not None  # a `top` tier has its N
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
    return Summary(dist, missing, issues, warnings, unscored_error)
