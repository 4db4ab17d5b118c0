"""The Plan: the typed IR a checked ruleset compiles into, and evaluation reads.

Names are resolved here: an expression no longer says "年交易额" but
``Ref("points", "年交易额")``; an aggregate over a multi-row source is an
``Agg`` with its source; a population aggregate is a ``PopAgg``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Union

from ..dsl.ast import Span

Type = Literal["number", "string", "bool", "date", "any"]


# ---- expressions ---------------------------------------------------------------


@dataclass(frozen=True)
class Lit:
    value: Any
    type: Type
    percent: bool = False


@dataclass(frozen=True)
class Col:
    """A column of a one-row-per-customer source."""

    source: str
    column: str
    type: Type = "any"


@dataclass(frozen=True)
class RowCol:
    """A column of a multi-row source, inside an aggregate."""

    source: str
    column: str
    type: Type = "any"


@dataclass(frozen=True)
class Ref:
    """A named value: ``measure``, ``points`` or ``value`` of an indicator, ``dimension``,
    ``score``, ``tier``, ``label``, ``segment``, ``as_of``."""

    kind: Literal["measure", "points", "value", "dimension", "score", "tier", "label", "segment", "as_of"]
    name: str = ""


@dataclass(frozen=True)
class Agg:
    """A per-customer aggregate over a multi-row source (sum, count, avg, min, max, count_distinct)."""

    id: str
    func: str
    source: str
    arg: "Expr | None"  # None: count rows
    where: "Expr | None"


@dataclass(frozen=True)
class PopAgg:
    """A population-wide aggregate over per-customer values (mean, median, percentile, ...)."""

    id: str
    func: str
    arg: "Expr"
    q: float | None = None


@dataclass(frozen=True)
class Func:
    name: str
    args: tuple["Expr", ...]


@dataclass(frozen=True)
class Arith:
    op: str
    left: "Expr"
    right: "Expr"


@dataclass(frozen=True)
class Neg:
    operand: "Expr"


@dataclass(frozen=True)
class Cmp:
    op: str
    left: "Expr"
    right: "Expr"


@dataclass(frozen=True)
class Logic:
    op: Literal["and", "or"]
    left: "Expr"
    right: "Expr"


@dataclass(frozen=True)
class Not:
    operand: "Expr"


@dataclass(frozen=True)
class InList:
    operand: "Expr"
    items: tuple["Expr", ...]
    negated: bool = False


@dataclass(frozen=True)
class Between:
    operand: "Expr"
    low: "Expr"
    high: "Expr"


@dataclass(frozen=True)
class Within:
    operand: "Expr"
    amount: float
    unit: str


@dataclass(frozen=True)
class Change:
    """Relative change of an indicator's value against the customer's last rating."""

    indicator: str


Expr = Union[Lit, Col, RowCol, Ref, Agg, PopAgg, Func, Arith, Neg, Cmp, Logic, Not, InList, Between, Within, Change]


# ---- scoring ------------------------------------------------------------------------


@dataclass(frozen=True)
class BandRule:
    """``op`` in >=, >, <=, <, ==, !=, in, range, else. ``values`` are Python values."""

    op: str
    values: tuple[Any, ...]
    points: float
    text: str = ""  # the band as written, for explanations


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


@dataclass
class DimensionPlan:
    name: str
    weight: float | None
    indicators: list[str]
    cap: float | None = None


@dataclass
class TierPlan:
    name: str
    label: str | None
    rule: Literal["when", "otherwise", "top"]
    condition: Expr | None = None
    top: float | None = None
    top_percent: bool = False
    expect: tuple[float, float] | None = None


@dataclass
class SegmentPlan:
    name: str
    cases: list[tuple[str, Expr | None]]


@dataclass
class TriggerPlan:
    name: str
    condition: Expr
    effects: list[dict[str, Any]]


@dataclass
class ActionPlan:
    action: str
    options: Any


@dataclass
class OnRulePlan:
    event: str
    target: str | None
    actions: list[ActionPlan]
    text: str = ""


@dataclass
class SourcePlan:
    name: str
    connector: str
    options: dict[str, Any]  # raw option values (env() resolved at run time)
    env: dict[str, str]  # option name -> environment variable
    key: str
    multi_row: bool = False


@dataclass
class ExamplePlan:
    name: str
    as_of: str | None
    points: dict[str, float]
    rows: dict[str, list[dict[str, Any]]]
    expectations: list[dict[str, Any]]
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
    labels: dict[str, Expr]
    segments: list[SegmentPlan]
    triggers: list[TriggerPlan]
    on_rules: list[OnRulePlan]
    examples: list[ExamplePlan]
    column_types: dict[tuple[str, str], Type] = field(default_factory=dict)
    text_hash: str = ""

    def indicator(self, name: str) -> IndicatorPlan:
        return next(i for i in self.indicators if i.name == name)

    @property
    def key_column(self) -> str:
        return next(s.key for s in self.sources if s.name == self.primary)
