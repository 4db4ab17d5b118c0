"""The Plan: the typed IR a checked ruleset compiles into, and evaluation reads.

Names are resolved here: an expression no longer says "年交易额" but
``Ref("points", "年交易额")``; an aggregate over a multi-row source is an
``Agg`` with its source; a population aggregate is a ``PopAgg``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, Iterator, Literal, Union

from ..dsl.ast import Span

Type = Literal["number", "string", "bool", "date", "any"]


# ---- expressions ---------------------------------------------------------------


@dataclass(frozen=True)
class Lit:
    value: Any
    type: Type
    percent: bool = False
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Col:
    """A column of a one-row-per-customer source. ``type`` is what the rules read it as (written by
    engine.infer_types: the same on every use of the column); ``span`` is where this use is written."""

    source: str
    column: str
    type: Type = "any"
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class RowCol:
    """A column of a multi-row source, inside an aggregate."""

    source: str
    column: str
    type: Type = "any"
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Ref:
    """A named value: ``measure``, ``points`` or ``value`` of an indicator, ``dimension``,
    ``score``, ``tier``, ``label``, ``segment``, ``as_of``."""

    kind: Literal["measure", "points", "value", "dimension", "score", "tier", "label", "segment", "as_of"]
    name: str = ""
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Agg:
    """A per-customer aggregate over a multi-row source (sum, count, avg, min, max, count_distinct)."""

    id: str
    func: str
    source: str
    arg: "Expr | None"  # None: count rows
    where: "Expr | None"
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class PopAgg:
    """A population-wide aggregate over per-customer values (mean, median, percentile, ...)."""

    id: str
    func: str
    arg: "Expr"
    q: float | None = None
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Func:
    name: str
    args: tuple["Expr", ...]
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Arith:
    op: str
    left: "Expr"
    right: "Expr"
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Neg:
    operand: "Expr"
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Cmp:
    op: str
    left: "Expr"
    right: "Expr"
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Logic:
    op: Literal["and", "or"]
    left: "Expr"
    right: "Expr"
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Not:
    operand: "Expr"
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class InList:
    operand: "Expr"
    items: tuple["Expr", ...]
    negated: bool = False
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Between:
    operand: "Expr"
    low: "Expr"
    high: "Expr"
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Within:
    operand: "Expr"
    amount: float
    unit: str
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Change:
    """Relative change of an indicator's value against the customer's last rating."""

    indicator: str
    span: Span | None = field(default=None, compare=False, repr=False)


Expr = Union[Lit, Col, RowCol, Ref, Agg, PopAgg, Func, Arith, Neg, Cmp, Logic, Not, InList, Between, Within, Change]
EXPR_TYPES = (Lit, Col, RowCol, Ref, Agg, PopAgg, Func, Arith, Neg, Cmp, Logic, Not, InList, Between, Within, Change)
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def children(e: Expr) -> Iterator[Expr]:
    """The sub-expressions of ``e``, in field order."""
    for name in children_fields(e):
        v = getattr(e, name)
        if isinstance(v, EXPR_TYPES):
            yield v
        elif isinstance(v, tuple):
            yield from (x for x in v if isinstance(x, EXPR_TYPES))


def walk(e: Expr | None) -> Iterator[Expr]:
    """Every node of an expression, ``e`` first, parents before children (iterative: no recursion
    limit). The one walk over Plan expressions: checks, evaluation and the plan dump use it."""
    if e is None:
        return
    stack = [e]
    while stack:
        n = stack.pop()
        yield n
        kids = list(children(n))
        stack.extend(reversed(kids))


def transform(e: Expr, fn: "Callable[[Expr], Expr]") -> Expr:
    """``e`` rebuilt bottom-up with ``fn`` applied to every node (children first); nodes ``fn`` leaves
    alone are kept, not copied."""
    changes: dict[str, Any] = {}
    for name in children_fields(e):
        v = getattr(e, name)
        if isinstance(v, EXPR_TYPES):
            new = transform(v, fn)
            if new is not v:
                changes[name] = new
        elif isinstance(v, tuple) and any(isinstance(x, EXPR_TYPES) for x in v):
            items = tuple(transform(x, fn) if isinstance(x, EXPR_TYPES) else x for x in v)
            if any(a is not b for a, b in zip(items, v)):
                changes[name] = items
    return fn(replace(e, **changes) if changes else e)


def children_fields(e: Expr) -> tuple[str, ...]:
    names = _CHILD_FIELDS.get(type(e))
    if names is None:
        names = _CHILD_FIELDS[type(e)] = tuple(f.name for f in fields(e) if f.name not in ("span", "type"))
    return names


# ---- scoring ------------------------------------------------------------------------


@dataclass(frozen=True)
class Written:
    """A number as the rule file writes it (a weight: ``30%``), for messages about it."""

    text: str
    percent: bool
    span: Span | None = None


@dataclass(frozen=True)
class BandRule:
    """``op`` in >=, >, <=, <, ==, !=, in, range, else. ``values`` are Python values."""

    op: str
    values: tuple[Any, ...]
    points: float
    text: str = ""  # the band as written, for explanations
    value_texts: tuple[str, ...] = field(default=(), compare=False)  # each value as written
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class MissingRule:
    policy: Literal["points", "exclude", "error"]
    points: float | None = None


@dataclass
class IndicatorPlan:
    name: str
    expr: Expr
    value_type: Type
    weight: float | None
    dimension: str | None
    missing: MissingRule
    bands: list[BandRule] | None = None
    normalizer: str | None = None
    normalizer_options: Any = None
    cap: float | None = None
    percent_compared: bool = False  # a band compares with % literals
    span: Span | None = None
    name_span: Span | None = None
    weight_written: Written | None = None


@dataclass
class DimensionPlan:
    name: str
    weight: float | None
    indicators: list[str]
    cap: float | None = None
    name_span: Span | None = None
    weight_written: Written | None = None


@dataclass
class TierPlan:
    name: str
    label: str | None
    rule: Literal["when", "otherwise", "top"]
    condition: Expr | None = None
    top: float | None = None
    top_percent: bool = False
    expect: tuple[float, float] | None = None
    span: Span | None = None
    name_span: Span | None = None
    top_text: str = ""  # `top 10%` as written
    top_span: Span | None = None
    expect_span: Span | None = None


@dataclass
class LabelPlan:
    name: str
    condition: Expr
    span: Span | None = None
    name_span: Span | None = None


@dataclass
class SegmentPlan:
    name: str
    cases: list[tuple[str, Expr | None]]  # (case, condition); None: otherwise
    span: Span | None = None
    name_span: Span | None = None
    case_spans: list[Span | None] = field(default_factory=list)  # beside ``cases``


@dataclass(frozen=True)
class TriggerEffect:
    """``rerate``, ``review``, ``cap tier at TIER`` or ``downgrade STEPS``."""

    effect: Literal["rerate", "review", "cap", "downgrade"]
    tier: str | None = None
    steps: float | None = None
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass
class TriggerPlan:
    name: str
    condition: Expr
    effects: list[TriggerEffect]
    span: Span | None = None
    name_span: Span | None = None


@dataclass
class ActionPlan:
    action: str
    options: Any
    span: Span | None = None


@dataclass
class OnRulePlan:
    event: str
    target: str | None
    actions: list[ActionPlan]
    text: str = ""
    span: Span | None = None


@dataclass
class SourcePlan:
    name: str
    connector: str
    options: dict[str, Any]  # raw option values (env() resolved at run time)
    env: dict[str, str]  # option name -> environment variable
    key: str
    multi_row: bool = False


@dataclass(frozen=True)
class Expectation:
    """What an example expects: ``score`` (± ``tolerance``), ``tier`` NAME, ``label`` NAME, ``no_label``
    NAME, or ``segment`` NAME VALUE."""

    what: Literal["score", "tier", "label", "no_label", "segment"]
    score: float | None = None
    tolerance: float | None = None
    name: str | None = None
    value: str | None = None
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass
class ExamplePlan:
    name: str
    as_of: str | None
    points: dict[str, float]
    rows: dict[str, list[dict[str, Any]]]
    expectations: list[Expectation]
    span: Span | None = None


@dataclass
class Plan:
    name: str
    version: str | None
    sources: list[SourcePlan]
    primary: str  # the source whose keys are the population
    scoring: Literal["weighted", "additive"]
    points_range: tuple[float, float]
    score_range: tuple[float, float] | None
    base: float
    total_cap: float | None
    measures: dict[str, Expr]
    indicators: list[IndicatorPlan]
    dimensions: list[DimensionPlan]
    top_level: list[tuple[str, str, float | None]]  # ("dimension"|"indicator", name, weight)
    tiers: list[TierPlan]
    label_rules: list[LabelPlan]
    segments: list[SegmentPlan]
    triggers: list[TriggerPlan]
    on_rules: list[OnRulePlan]
    examples: list[ExamplePlan]
    #: the range band and missing points must lie in; None for additive scoring without a `points` line
    points_check: tuple[float, float] | None = None
    #: what each named value reads: (kind, name) -> the (kind, name)s its expression refers to, kinds as in
    #: ``Ref`` ("measure", "points", "value", "dimension", "score", "tier", "label", "segment"); recorded
    #: once by engine.resolve, read by the checks (cycles) and anyone who needs an order
    deps: dict[tuple[str, str], frozenset[tuple[str, str]]] = field(default_factory=dict)
    #: where each named value is declared (its name), keyed like ``deps``
    spans: dict[tuple[str, str], Span] = field(default_factory=dict)
    text_hash: str = ""

    def indicator(self, name: str) -> IndicatorPlan:
        return next(i for i in self.indicators if i.name == name)

    @property
    def labels(self) -> dict[str, Expr]:
        """Label name -> condition, in file order."""
        return {lb.name: lb.condition for lb in self.label_rules}

    def expressions(self) -> Iterator[tuple[tuple[str, str], Expr]]:
        """Every expression of the plan with its owner, (kind, name), in file order within each kind."""
        for name, e in self.measures.items():
            yield ("measure", name), e
        for ind in self.indicators:
            yield ("value", ind.name), ind.expr
        for t in self.tiers:
            if t.condition is not None:
                yield ("tier", t.name), t.condition
        for lb in self.label_rules:
            yield ("label", lb.name), lb.condition
        for seg in self.segments:
            for _, cond in seg.cases:
                if cond is not None:
                    yield ("segment", seg.name), cond
        for trg in self.triggers:
            yield ("trigger", trg.name), trg.condition

    def map_expressions(self, fn: Callable[[Expr], Expr]) -> None:
        """Replace every expression of the plan by ``fn(expression)`` (a pass writing onto the plan)."""
        self.measures = {name: fn(e) for name, e in self.measures.items()}
        for ind in self.indicators:
            ind.expr = fn(ind.expr)
        for t in self.tiers:
            if t.condition is not None:
                t.condition = fn(t.condition)
        for lb in self.label_rules:
            lb.condition = fn(lb.condition)
        for seg in self.segments:
            seg.cases = [(value, None if cond is None else fn(cond)) for value, cond in seg.cases]
        for trg in self.triggers:
            trg.condition = fn(trg.condition)

    def nodes(self) -> Iterator[Expr]:
        """Every node of every expression of the plan (``walk`` over ``expressions``)."""
        for _, e in self.expressions():
            yield from walk(e)

    @property
    def column_types(self) -> dict[tuple[str, str], Type]:
        """(source, column) -> the type the rules read it as, from the columns' own nodes (derived, never
        stored: the nodes are the one place a type lives)."""
        out: dict[tuple[str, str], Type] = {}
        for n in self.nodes():
            if isinstance(n, (Col, RowCol)):
                key = (n.source, n.column)
                if out.get(key, "any") == "any":
                    out[key] = n.type
        return out

    @property
    def key_column(self) -> str:
        return next(s.key for s in self.sources if s.name == self.primary)
