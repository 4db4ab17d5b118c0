"""One customer's scorecard, read from that customer's result row (never re-derived).

The row carries, per indicator, its value, points, the index of the band that scored it
(``NAME.band``) and its effective weight in the score (``NAME.weight``); per dimension its
score and effective weight; and ``no_score_reason``. The Plan gives the bands' text, the
declared weights and the caps; the Calibration the normalizers' fitted parameters.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from . import plan as P
from .calibration import Calibration

EPS = 1e-9


def number_text(x: Any) -> str:
    """A number as the scorecard shows it: 1,234.5678 (four decimals at most), — for missing."""
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:,.4f}".rstrip("0").rstrip(".")
    return str(x)


@dataclass(frozen=True)
class Line:
    """A row of the scorecard: an indicator, a dimension's subtotal, the base or a cap (additive)."""

    kind: Literal["indicator", "subtotal", "base", "cap"]
    dimension: str | None
    name: str
    value: Any = None
    rule: str = ""
    points: float | None = None
    declared_weight: float | None = None  # weighted scoring: the weight written, inside its group
    weight: float | None = None  # its effective weight inside its group (after `missing -> exclude`)
    share: float | None = None  # its effective share of the score (the result's NAME.weight)
    contribution: float | None = None  # what it adds to the score


@dataclass(frozen=True)
class Comparison:
    """What ``change(NAME)`` compared: the last stored raw value, the fresh one, the relative change."""

    indicator: str
    last: float | None
    fresh: Any
    change: float | None


@dataclass(frozen=True)
class TriggerLine:
    """A trigger: whether it fired for this customer, its effects, what its change() compared."""

    name: str
    fired: bool
    effects: str
    comparisons: list[Comparison] = field(default_factory=list)


def effect_text(e: P.TriggerEffect) -> str:
    if e.effect == "cap":
        return f"cap tier at {e.tier}"
    if e.effect == "downgrade":
        return f"downgrade {e.steps:g}"
    return e.effect


@dataclass
class Scorecard:
    key_column: str
    key: str
    as_of: date
    additive: bool
    lines: list[Line]
    score: float | None
    tier: str | None
    tier_label: str | None
    segments: list[tuple[str, str | None]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    no_score_reason: str | None = None
    unscored_by_error: bool = False  # no score because of `missing -> error` (explain exits 1, as run does)
    next_tier: str | None = None
    final_tier: str | None = None  # after overrides and trigger effects (the result's final_tier)
    triggers: list[TriggerLine] = field(default_factory=list)


def _rule_applied(plan: P.Plan, calibration: Calibration, ind: P.IndicatorPlan, row: dict[str, Any],
                  missing: set[str]) -> str:
    value, points = row.get(ind.name), row.get(f"{ind.name}.points")
    band_at = row.get(f"{ind.name}.band")
    band = ind.bands[band_at] if ind.bands and band_at is not None else None
    raw: float | None
    if ind.bands:
        rule = "missing" if value is None else band.text if band is not None else "no band matched"
        raw = band.points if band is not None else None
    elif ind.normalizer:
        params = calibration.params(ind.name)
        rule = f"scale {ind.normalizer}(" + ", ".join(f"{k}={number_text(v)}" for k, v in params.items()) + ")"
        raw = None
    else:
        rule, raw = "value is the points", value if isinstance(value, (int, float)) else None
    if ind.name in missing:
        p = ind.missing
        policy = f"missing -> {p.policy}" + (f" {number_text(p.points)}" if p.points is not None else "")
        rule = policy if value is None else f"{rule}; {policy}"
    elif ind.cap is not None and points is not None:  # additive: the indicator's points stop at its cap
        if raw is not None and raw > ind.cap + EPS:
            rule += f"; cap {number_text(ind.cap)}: {number_text(raw)} → {number_text(points)}"
        elif raw is None and abs(points - ind.cap) <= EPS:
            rule += f"; cap {number_text(ind.cap)}"
    return rule


def scorecard(plan: P.Plan, calibration: Calibration, row: dict[str, Any], as_of: date) -> Scorecard:
    """The scorecard of the customer of ``row`` (a result row with the explanation columns). The
    contributions of its lines (base, indicators, caps) add up to the score; a subtotal sums the
    lines of its dimension."""
    additive = plan.scoring == "additive"
    scale = (plan.score_range[1] / plan.points_range[1]) if plan.score_range and not additive else 1.0
    score = row.get("score")
    missing = set(filter(None, (row.get("missing") or "").split(",")))
    lines: list[Line] = []
    total: float | None = plan.base  # additive: the sum before the total cap
    if additive:
        lines.append(Line("base", None, "base", rule=f"scoring additive base {number_text(plan.base)}",
                          contribution=plan.base))
    for kind, name, weight in plan.top_level:
        dim = next((d for d in plan.dimensions if d.name == name), None) if kind == "dimension" else None
        inds = [plan.indicator(i) for i in (dim.indicators if dim is not None else [name])]
        dim_share = row.get(f"{name}.weight") if dim is not None else 1.0
        section: float | None = 0.0  # additive: the dimension's sum before its cap
        for ind in inds:
            points = row.get(f"{ind.name}.points")
            rule = _rule_applied(plan, calibration, ind, row, missing)
            if additive:
                # an excluded indicator adds nothing; a missing error-indicator leaves no score
                contrib = points if points is not None else 0.0 if ind.missing.policy == "exclude" else None
                section = None if section is None or contrib is None else section + contrib
                lines.append(Line("indicator", ind.dimension, ind.name, row.get(ind.name), rule, points,
                                  contribution=contrib))
                continue
            share = row.get(f"{ind.name}.weight") or 0.0
            inner = share / dim_share if dim_share else 0.0
            lines.append(Line("indicator", ind.dimension, ind.name, row.get(ind.name), rule, points,
                              ind.weight, inner, share, None if points is None else points * share * scale))
        if dim is None:
            total = None if total is None or section is None else total + section
            continue
        sub = row.get(name)
        if additive:
            if dim.cap is not None and sub is not None and section is not None and section - sub > EPS:
                lines.append(Line("cap", name, "cap", rule=f"cap {number_text(dim.cap)}: {number_text(section)} → "
                                  f"{number_text(sub)}", contribution=sub - section))
            lines.append(Line("subtotal", name, "subtotal", points=sub, contribution=sub))
            section = sub
        else:
            lines.append(Line("subtotal", name, "subtotal", points=sub, declared_weight=weight, weight=dim_share,
                              share=dim_share, contribution=None if sub is None else sub * (dim_share or 0.0) * scale))
        total = None if total is None or section is None else total + section
    if additive and plan.total_cap is not None and score is not None and total is not None and total - score > EPS:
        lines.append(Line("cap", None, "cap", rule=f"cap {number_text(plan.total_cap)}: {number_text(total)} → "
                          f"{number_text(score)}", contribution=score - total))
    tier = row.get("tier")
    errors = [i for i in plan.indicators if i.missing.policy == "error"]
    return Scorecard(
        key_column=plan.key_column, key=str(row[plan.key_column]), as_of=as_of, additive=additive, lines=lines, score=score, tier=tier,
        tier_label=next((t.label for t in plan.tiers if t.name == tier and t.label), None),
        segments=[(s.name, row.get(s.name)) for s in plan.segments],
        labels=[x for x in (row.get("labels") or "").split(",") if x],
        no_score_reason=row.get("no_score_reason"),
        unscored_by_error=score is None and any(row.get(f"{i.name}.points") is None for i in errors),
        next_tier=next_tier_gap(plan, score, tier), final_tier=row.get("final_tier", tier),
        triggers=trigger_lines(plan, row))


def trigger_lines(plan: P.Plan, row: dict[str, Any]) -> list[TriggerLine]:
    """Each trigger as the result row has it: fired (the ``triggers`` column) and, for each change(x) in
    its condition, the ``x.last`` and ``x.change`` columns beside the fresh value."""
    fired = set(filter(None, (row.get("triggers") or "").split(",")))
    out = []
    for t in plan.triggers:
        names = list(dict.fromkeys(n.indicator for n in P.walk(t.condition) if isinstance(n, P.Change)))
        out.append(TriggerLine(t.name, t.name in fired, ", ".join(effect_text(e) for e in t.effects),
                               [Comparison(n, row.get(f"{n}.last"), row.get(n), row.get(f"{n}.change"))
                                for n in names]))
    return out


def next_tier_gap(plan: P.Plan, score: float | None, tier: str | None) -> str | None:
    """What a customer lacks for the next tier up: points for a `score >= c` tier, else its rule."""
    if score is None:
        return None
    names = [t.name for t in plan.tiers]
    if tier not in names:
        return None
    idx = names.index(tier)
    if idx == 0:
        return "already in the top tier"
    nxt = plan.tiers[idx - 1]
    c = nxt.condition
    if nxt.rule == "top":
        top = nxt.top or 0.0
        return f"tier {nxt.name} is the top {top * 100:g}% by score" if nxt.top_percent else \
            f"tier {nxt.name} is the top {top:g} by score"
    if isinstance(c, P.Cmp) and c.left == P.Ref("score") and isinstance(c.right, P.Lit) and c.op in (">=", ">"):
        need = max(float(c.right.value) - score, 0.0)
        amount = f"{need:.4g} more points" + (" and a little more" if c.op == ">" else "")
        return f"{amount} to reach tier {nxt.name} (score {c.op} {c.right.value:g})"
    return f"tier {nxt.name} has its own rule (not a score cut): see the rule file"
