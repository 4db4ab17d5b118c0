"""What changed between two versions of a ruleset, read from their compiled Plans (never from the text).

``ruleset_diff(old, new)`` lists every difference that can change a rating, in the order a reader
scans a rule file: the scales, sources, measures, dimensions, indicators (expression, dimension,
weight, each band, normalizer, missing policy, cap), tiers (cut, label, expected share, order),
labels, segments, triggers and ``on`` lines. Items are matched by name; a band by its place in its
indicator's band list (first match wins, so the order is part of the rule). Expressions are compared
as rule text (``rule_text``), so internal ids and spans never show up as changes; a comment or a
re-indented line is no change. Examples (the file's tests) are not rules and are not compared.

Each change says it in one line (``RuleChange.text``), e.g. ``年交易额: band `>= 500万 -> 10` became
`>= 600万 -> 10```, ``交易价值: weight 30% → 40%``, ``tier A: cut `score >= 90` became `score >= 88```.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any, Callable, Literal, TypeVar

from . import plan as P
from .plan_dump import fmt_number

Kind = Literal["added", "removed", "changed"]
T = TypeVar("T")


@dataclass(frozen=True)
class RuleChange:
    """One difference. ``part``: ruleset, source, measure, dimension, indicator, tier, label, segment,
    trigger, on; ``name``: the item (empty for the ruleset's own lines); ``aspect``: what of it changed
    (band, weight, expression, normalizer, missing, cap, dimension, cut, label, expect, order, …; empty
    when the whole item was added or removed); ``before``/``after``: the rule text on each side."""

    kind: Kind
    part: str
    name: str
    aspect: str = ""
    before: str | None = None
    after: str | None = None

    @property
    def subject(self) -> str:
        if self.part == "ruleset":
            return "ruleset"
        return self.name if self.part == "indicator" else f"{self.part} {self.name}"

    @property
    def text(self) -> str:
        if not self.aspect:  # a whole item
            what = self.after if self.kind == "added" else self.before
            if self.part == "on":
                return f"{self.kind} `{what}`"
            return f"{self.kind} {self.part} {self.name}" + (f": {what}" if what else "")
        if self.aspect == "weight":
            return f"{self.subject}: weight {self.before or 'none'} → {self.after or 'none'}"
        if self.kind == "added":
            return f"{self.subject}: {self.aspect} `{self.after}` added"
        if self.kind == "removed":
            return f"{self.subject}: {self.aspect} `{self.before}` removed"
        return f"{self.subject}: {self.aspect} `{self.before}` became `{self.after}`"


# ---- rule text of Plan expressions ----------------------------------------------------------------

_PREC = {"or": 1, "and": 2, "not": 3, "cmp": 4, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6, "neg": 7}


def _prec(e: P.Expr) -> int:
    if isinstance(e, P.Logic):
        return _PREC[e.op]
    if isinstance(e, P.Not):
        return _PREC["not"]
    if isinstance(e, (P.Cmp, P.InList, P.Between, P.Within)):
        return _PREC["cmp"]
    if isinstance(e, P.Arith):
        return _PREC.get(e.op, 6)
    if isinstance(e, P.Neg):
        return _PREC["neg"]
    return 9


def _lit(e: P.Lit) -> str:
    if e.value is None:
        return "null"
    if isinstance(e.value, bool):
        return "true" if e.value else "false"
    if e.type == "string" or isinstance(e.value, str):
        return json.dumps(e.value, ensure_ascii=False)
    if e.percent:
        return f"{fmt_number(round(e.value * 100, 12))}%"
    return fmt_number(e.value)


def rule_text(e: P.Expr | None) -> str:
    """An expression as rule text: ``score >= 90``, ``sum(orders.金额 where orders.下单日期 within 12 months)``."""
    if e is None:
        return ""

    def sub(child: P.Expr, parent: int, right: bool = False) -> str:
        text = rule_text(child)
        p = _prec(child)
        return f"({text})" if p < parent or (right and p == parent and parent >= _PREC["+"]) else text

    if isinstance(e, P.Lit):
        return _lit(e)
    if isinstance(e, (P.Col, P.RowCol)):
        return f"{e.source}.{e.column}"
    if isinstance(e, P.Ref):
        return e.name or e.kind
    if isinstance(e, P.Agg):
        arg = rule_text(e.arg) if e.arg is not None else e.source
        return f"{e.func}({arg}" + (f" where {rule_text(e.where)}" if e.where is not None else "") + ")"
    if isinstance(e, P.PopAgg):
        q = f", {fmt_number(round(e.q * 100, 12))}%" if e.q is not None else ""
        return f"{e.func}({rule_text(e.arg)}{q})"
    if isinstance(e, P.Func):
        return f"{e.name}({', '.join(rule_text(a) for a in e.args)})"
    if isinstance(e, (P.Arith, P.Cmp, P.Logic)):
        p = _prec(e)
        return f"{sub(e.left, p)} {e.op} {sub(e.right, p, right=True)}"
    if isinstance(e, P.Neg):
        return f"-{sub(e.operand, _PREC['neg'])}"
    if isinstance(e, P.Not):
        return f"not {sub(e.operand, _PREC['not'])}"
    if isinstance(e, P.InList):
        items = ", ".join(rule_text(i) for i in e.items)
        return f"{sub(e.operand, _PREC['cmp'] + 1)} {'not in' if e.negated else 'in'} ({items})"
    if isinstance(e, P.Between):
        return f"{sub(e.operand, _PREC['cmp'] + 1)} between {rule_text(e.low)} and {rule_text(e.high)}"
    if isinstance(e, P.Within):
        return f"{sub(e.operand, _PREC['cmp'] + 1)} within {fmt_number(e.amount)} {e.unit}"
    if isinstance(e, P.Change):
        return f"change({e.indicator})"
    raise TypeError(f"no rule text for {type(e).__name__}")  # pragma: no cover


# ---- the parts of a rule, as text ---------------------------------------------------------------

def _num(x: float | None) -> str | None:
    return None if x is None else fmt_number(x)


def weight_text(weight: float | None, written: P.Written | None) -> str | None:
    if weight is None:
        return None
    if written is not None:
        return written.text
    return f"{fmt_number(round(weight * 100, 12))}%"


def _range(r: tuple[float, float] | None) -> str | None:
    return None if r is None else f"{fmt_number(r[0])}..{fmt_number(r[1])}"


def _options(options: Any) -> str:
    if options is None:
        return ""
    data = options.model_dump(mode="json", exclude_defaults=True) if hasattr(options, "model_dump") else dict(options)
    return ", ".join(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in data.items())


def normalizer_text(ind: P.IndicatorPlan) -> str | None:
    if not ind.normalizer:
        return None
    opts = _options(ind.normalizer_options)
    return f"scale {ind.normalizer}" + (f"({opts})" if opts else "")


def missing_text(m: P.MissingRule) -> str:
    return f"missing -> {m.policy}" + (f" {fmt_number(m.points)}" if m.points is not None else "")


def source_text(s: P.SourcePlan) -> str:
    opts = dict(s.options)
    return f"{s.connector}({_options(opts)}) key {s.key}"


def tier_rule_text(t: P.TierPlan) -> str:
    if t.rule == "otherwise":
        return "otherwise"
    if t.rule == "top":
        return f"top {t.top_text or fmt_number(t.top)}"
    return rule_text(t.condition)


def expect_text(t: P.TierPlan) -> str | None:
    if t.expect is None:
        return None
    lo, hi = t.expect
    return f"expect {fmt_number(round(lo * 100, 12))}%..{fmt_number(round(hi * 100, 12))}%"


def on_text(r: P.OnRulePlan) -> str:
    """``on tier A -> log(message: "…")``."""
    return f"on {r.text} -> " + ", ".join(f"{a.action}({_options(a.options)})" for a in r.actions)


def band_texts(ind: P.IndicatorPlan) -> list[str]:
    return [b.text or f"{b.op} {', '.join(map(str, b.values))} -> {fmt_number(b.points)}" for b in ind.bands or []]


def indicator_text(ind: P.IndicatorPlan) -> str:
    """An indicator in one line: ``= EXPR weight W in DIMENSION``, then its scoring."""
    parts = [f"= {rule_text(ind.expr)}"]
    w = weight_text(ind.weight, ind.weight_written)
    if w:
        parts.append(f"weight {w}")
    if ind.dimension:
        parts.append(f"in {ind.dimension}")
    if ind.bands:
        parts.append("{ " + "; ".join(band_texts(ind)) + " }")
    elif ind.normalizer:
        parts.append(normalizer_text(ind) or "")
    return " ".join(parts)


# ---- the diff ---------------------------------------------------------------------------------------

def _by_name(items: list[Any]) -> dict[str, Any]:
    return {i.name: i for i in items}


class _Diff:
    def __init__(self) -> None:
        self.out: list[RuleChange] = []

    def aspect(self, part: str, name: str, aspect: str, before: str | None, after: str | None) -> None:
        if before == after:
            return
        kind: Kind = "added" if before is None else "removed" if after is None else "changed"
        if aspect == "weight":
            kind = "changed"
        self.out.append(RuleChange(kind, part, name, aspect, before, after))

    def items(self, part: str, old: dict[str, T], new: dict[str, T], describe: Callable[[T], str],
              compare: Callable[[str, T, T], None]) -> None:
        """Items matched by name: removed ones (in the old order), then per item in the new order
        either added or its changed aspects."""
        for name, item in old.items():
            if name not in new:
                self.out.append(RuleChange("removed", part, name, before=describe(item)))
        for name, item in new.items():
            if name not in old:
                self.out.append(RuleChange("added", part, name, after=describe(item)))
            else:
                compare(name, old[name], item)

    def bands(self, name: str, old: list[str], new: list[str]) -> None:
        matcher = SequenceMatcher(a=old, b=new, autojunk=False)
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op == "equal":
                continue
            pairs = min(i2 - i1, j2 - j1) if op == "replace" else 0
            for k in range(pairs):
                self.aspect("indicator", name, "band", old[i1 + k], new[j1 + k])
            for k in range(i1 + pairs, i2):
                self.aspect("indicator", name, "band", old[k], None)
            for k in range(j1 + pairs, j2):
                self.aspect("indicator", name, "band", None, new[k])


def ruleset_diff(old: P.Plan, new: P.Plan) -> list[RuleChange]:
    """Every rule difference between ``old`` and ``new`` (empty: they rate alike)."""
    d = _Diff()
    for aspect, a, b in (("name", json.dumps(old.name, ensure_ascii=False), json.dumps(new.name, ensure_ascii=False)),
                         ("version", old.version, new.version),
                         ("scoring", old.scoring, new.scoring),
                         ("points", _range(old.points_range), _range(new.points_range)),
                         ("score", _range(old.score_range), _range(new.score_range)),
                         ("base", _num(old.base), _num(new.base)),
                         ("cap", _num(old.total_cap), _num(new.total_cap))):
        d.aspect("ruleset", "", aspect, a, b)

    def source(name: str, a: P.SourcePlan, b: P.SourcePlan) -> None:
        d.aspect("source", name, "definition", source_text(a), source_text(b))
    d.items("source", _by_name(old.sources), _by_name(new.sources), source_text, source)

    d.items("measure", dict(old.measures), dict(new.measures), rule_text,
            lambda name, a, b: d.aspect("measure", name, "expression", rule_text(a), rule_text(b)))

    def dimension(name: str, a: P.DimensionPlan, b: P.DimensionPlan) -> None:
        d.aspect("dimension", name, "weight", weight_text(a.weight, a.weight_written),
                 weight_text(b.weight, b.weight_written))
        d.aspect("dimension", name, "cap", _num(a.cap), _num(b.cap))

    def dimension_text(x: P.DimensionPlan) -> str:
        w = weight_text(x.weight, x.weight_written)
        return (f"weight {w}, " if w else "") + "indicators " + ", ".join(x.indicators)
    d.items("dimension", _by_name(old.dimensions), _by_name(new.dimensions), dimension_text, dimension)

    def indicator(name: str, a: P.IndicatorPlan, b: P.IndicatorPlan) -> None:
        d.aspect("indicator", name, "expression", rule_text(a.expr), rule_text(b.expr))
        d.aspect("indicator", name, "dimension", a.dimension, b.dimension)
        d.aspect("indicator", name, "weight", weight_text(a.weight, a.weight_written),
                 weight_text(b.weight, b.weight_written))
        if a.bands or b.bands:
            if a.bands and b.bands:
                d.bands(name, band_texts(a), band_texts(b))
            else:
                d.aspect("indicator", name, "scoring", "bands { " + "; ".join(band_texts(a)) + " }" if a.bands
                         else normalizer_text(a) or "value is the points",
                         "bands { " + "; ".join(band_texts(b)) + " }" if b.bands
                         else normalizer_text(b) or "value is the points")
        if not a.bands and not b.bands:
            d.aspect("indicator", name, "normalizer", normalizer_text(a), normalizer_text(b))
        d.aspect("indicator", name, "missing", missing_text(a.missing), missing_text(b.missing))
        d.aspect("indicator", name, "cap", _num(a.cap), _num(b.cap))
    d.items("indicator", _by_name(old.indicators), _by_name(new.indicators), indicator_text, indicator)

    def tier(name: str, a: P.TierPlan, b: P.TierPlan) -> None:
        d.aspect("tier", name, "cut", tier_rule_text(a), tier_rule_text(b))
        d.aspect("tier", name, "label", json.dumps(a.label, ensure_ascii=False) if a.label else None,
                 json.dumps(b.label, ensure_ascii=False) if b.label else None)
        d.aspect("tier", name, "expect", expect_text(a), expect_text(b))

    def tier_text(t: P.TierPlan) -> str:
        label = f' "{t.label}"' if t.label else ""
        rule = tier_rule_text(t)
        return f"{label.strip()} {'when ' if t.rule == 'when' else ''}{rule}".strip() + \
            (f" {expect_text(t)}" if t.expect else "")
    d.items("tier", _by_name(old.tiers), _by_name(new.tiers), tier_text, tier)
    kept_old = [t.name for t in old.tiers if t.name in {x.name for x in new.tiers}]
    kept_new = [t.name for t in new.tiers if t.name in {x.name for x in old.tiers}]
    if kept_old != kept_new:  # first match wins: the order of the tiers is part of the rule
        d.aspect("ruleset", "", "tier order", ", ".join(kept_old), ", ".join(kept_new))

    d.items("label", {x.name: x for x in old.label_rules}, {x.name: x for x in new.label_rules},
            lambda x: f"when {rule_text(x.condition)}",
            lambda name, a, b: d.aspect("label", name, "condition", rule_text(a.condition), rule_text(b.condition)))

    def cases_text(s: P.SegmentPlan) -> str:
        return "; ".join(f"{v} " + (f"when {rule_text(c)}" if c is not None else "otherwise") for v, c in s.cases)
    d.items("segment", _by_name(old.segments), _by_name(new.segments), cases_text,
            lambda name, a, b: d.aspect("segment", name, "cases", cases_text(a), cases_text(b)))

    def effects_text(t: P.TriggerPlan) -> str:
        from .explain import effect_text

        return ", ".join(effect_text(e) for e in t.effects)

    def trigger(name: str, a: P.TriggerPlan, b: P.TriggerPlan) -> None:
        d.aspect("trigger", name, "condition", rule_text(a.condition), rule_text(b.condition))
        d.aspect("trigger", name, "effects", effects_text(a), effects_text(b))
    d.items("trigger", _by_name(old.triggers), _by_name(new.triggers),
            lambda t: f"when {rule_text(t.condition)} -> {effects_text(t)}", trigger)

    old_on = [on_text(r) for r in old.on_rules]
    new_on = [on_text(r) for r in new.on_rules]
    for text in old_on:
        if text not in new_on:
            d.out.append(RuleChange("removed", "on", "", before=text))
    for text in new_on:
        if text not in old_on:
            d.out.append(RuleChange("added", "on", "", after=text))
    return d.out


def indicator_causes(plan: P.Plan, changes: list[RuleChange]) -> dict[str, list[RuleChange]]:
    """Per indicator of ``plan``, the changes that can move its points: its own (except its weight,
    which moves the score, not the points) and those of the measures it reads (transitively)."""
    by_measure: dict[str, list[RuleChange]] = {}
    own: dict[str, list[RuleChange]] = {}
    for c in changes:
        if c.part == "measure":
            by_measure.setdefault(c.name, []).append(c)
        elif c.part == "indicator" and c.aspect not in ("weight", "dimension"):
            own.setdefault(c.name, []).append(c)
    out: dict[str, list[RuleChange]] = {}
    for ind in plan.indicators:
        found = list(own.get(ind.name, []))
        seen: set[tuple[str, str]] = set()
        stack = list(plan.deps.get(("value", ind.name), ()))
        while stack:
            ref = stack.pop()
            if ref in seen:
                continue
            seen.add(ref)
            if ref[0] == "measure":
                found.extend(by_measure.get(ref[1], []))
                stack.extend(plan.deps.get(ref, ()))
            elif ref[0] in ("value", "points") and ref[1] != ind.name:  # an indicator read by this one
                found.extend(c for c in own.get(ref[1], []) if c not in found)
                stack.extend(plan.deps.get(("value", ref[1]), ()))
        if found:
            out[ind.name] = found
    return out
