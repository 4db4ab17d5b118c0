"""The typed AST of a .tier file. Class names follow the grammar's rules.

Every node carries a ``span`` (1-based line and column of its first and last
character) so that checks can point at the exact text.
"""
from __future__ import annotations

from typing import Annotated, Iterator, Literal, TypeVar, Union

from pydantic import BaseModel, ConfigDict, Field

M = TypeVar("M", bound=BaseModel)


def new(cls: type[M]) -> type[M]:
    """``cls``, to build a node the parser read: statically the class itself (so its fields are
    type-checked), at run time its ``model_construct``. The transformer gives every field its type
    (the golden files pin the AST), and validating each node would first build pydantic's validators
    for the whole AST — 60 ms of every command that reads a rule file."""
    return cls.model_construct  # type: ignore[return-value]


class Span(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.line}:{self.column}"


NOWHERE = Span(line=0, column=0, end_line=0, end_column=0)


class Node(BaseModel):
    # defer_build: schemas are built on first use, which keeps `import tierwise` fast
    model_config = ConfigDict(frozen=True, defer_build=True)
    span: Span = NOWHERE

    def children(self) -> "list[Node]":
        """The nodes directly under this one, in field order."""
        out: list[Node] = []
        for name in type(self).model_fields:
            v = getattr(self, name)
            for item in (v if isinstance(v, list) else [v]):
                if isinstance(item, Node):
                    out.append(item)
        return out


def walk(node: "Node | None") -> "Iterator[Node]":
    """Every node under ``node`` (itself first), parents before children, without recursion: the one walk
    over the AST (engine.plan.walk is the one over the Plan)."""
    stack = [node] if node is not None else []
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children()))


# ---- expressions -------------------------------------------------------------


class Number(Node):
    kind: Literal["number"] = "number"
    value: float
    text: str
    percent: bool = False


class String(Node):
    kind: Literal["string"] = "string"
    value: str


class Bool(Node):
    kind: Literal["bool"] = "bool"
    value: bool


class Name(Node):
    """A bare name: a measure, indicator (its points), dimension, ``score``, ``as_of``, a source."""

    kind: Literal["name"] = "name"
    name: str


class Column(Node):
    """``source.column``."""

    kind: Literal["column"] = "column"
    source: str
    column: str


class NamedArg(Node):
    kind: Literal["named_arg"] = "named_arg"
    name: str
    value: "Expr"


class Call(Node):
    kind: Literal["call"] = "call"
    func: str
    args: list["Expr"] = []
    options: list[NamedArg] = []
    where: "Expr | None" = None


class Negate(Node):
    kind: Literal["negate"] = "negate"
    operand: "Expr"


class Binary(Node):
    kind: Literal["binary"] = "binary"
    op: Literal["+", "-", "*", "/"]
    left: "Expr"
    right: "Expr"


class Compare(Node):
    kind: Literal["compare"] = "compare"
    op: Literal[">=", ">", "<=", "<", "==", "!="]
    left: "Expr"
    right: "Expr"


class Logical(Node):
    kind: Literal["logical"] = "logical"
    op: Literal["and", "or"]
    left: "Expr"
    right: "Expr"


class Not(Node):
    kind: Literal["not"] = "not"
    operand: "Expr"


class In(Node):
    kind: Literal["in"] = "in"
    operand: "Expr"
    items: list["Expr"]
    negated: bool = False


class Between(Node):
    """``x between a and b``: both ends count."""

    kind: Literal["between"] = "between"
    operand: "Expr"
    low: "Expr"
    high: "Expr"


class Within(Node):
    """``date within N months``: as_of - N months <= date <= as_of."""

    kind: Literal["within"] = "within"
    operand: "Expr"
    amount: float
    unit: Literal["days", "weeks", "months", "years"]


Expr = Annotated[
    Union[Number, String, Bool, Name, Column, Call, Negate, Binary, Compare, Logical, Not, In, Between, Within],
    Field(discriminator="kind"),
]

# ---- statements ---------------------------------------------------------------


class MissingPolicy(Node):
    """What a missing value scores: ``points P``, ``exclude`` (weights re-spread) or ``error``."""

    policy: Literal["points", "exclude", "error"]
    points: float | None = None


BandOp = Literal[">=", ">", "<=", "<", "==", "!=", "in", "range", "else"]


class Band(Node):
    """One line of a band block. ``op`` is ``>=``, ``>``, ``<=``, ``<``, ``==``, ``!=``,
    ``in``, ``range`` (low <= x < high) or ``else``."""

    op: BandOp
    values: list[Number | String] = []
    points: float


class Scale(Node):
    normalizer: str
    options: list[NamedArg] = []
    args: list[Expr] = []


class Indicator(Node):
    name: str
    name_span: Span = NOWHERE
    expr: Expr
    weight: Number | None = None
    cap: Number | None = None
    missing: MissingPolicy | None = None
    bands: list[Band] | None = None
    scale: Scale | None = None
    dimension: str | None = None


class Dimension(Node):
    name: str
    name_span: Span = NOWHERE
    weight: Number | None = None
    cap: Number | None = None
    indicators: list[Indicator] = []


class Measure(Node):
    name: str
    name_span: Span = NOWHERE
    expr: Expr


class RulesetDecl(Node):
    name: str
    version: str | None = None


class SourceDecl(Node):
    name: str
    name_span: Span = NOWHERE
    connector: str
    connector_span: Span = NOWHERE
    args: list[Expr] = []
    options: list[NamedArg] = []
    key: str
    key_span: Span = NOWHERE


class RangeDecl(Node):
    """``points LO..HI`` or ``score LO..HI``."""

    which: Literal["points", "score"]
    low: float
    high: float


class ScoringDecl(Node):
    mode: str
    mode_span: Span = NOWHERE
    base: float | None = None


class CapDecl(Node):
    value: float


class Tier(Node):
    name: str
    name_span: Span = NOWHERE
    label: str | None = None
    rule: Literal["when", "otherwise", "top"]
    condition: Expr | None = None
    top: Number | None = None
    expect_low: float | None = None
    expect_high: float | None = None
    expect_span: Span | None = None


class Label(Node):
    name: str
    name_span: Span = NOWHERE
    condition: Expr


class SegmentCase(Node):
    value: str
    condition: Expr | None = None  # None: otherwise


class Segment(Node):
    name: str
    name_span: Span = NOWHERE
    cases: list[SegmentCase]


class TriggerEffect(Node):
    effect: Literal["rerate", "review", "cap", "downgrade"]
    tier: str | None = None
    steps: int | float | None = None  # a whole number of tiers; a fraction is kept to be reported


class Trigger(Node):
    name: str
    name_span: Span = NOWHERE
    condition: Expr
    effects: list[TriggerEffect]


class ActionCall(Node):
    action: str
    args: list[Expr] = []
    options: list[NamedArg] = []


class OnRule(Node):
    event: Literal["tier", "enter", "leave", "upgrade", "downgrade", "trigger", "label"]
    target: str | None = None
    target_span: Span | None = None
    actions: list[ActionCall]


class FieldValue(Node):
    column: str
    value: Number | String


class ExampleRow(Node):
    source: str
    fields: list[FieldValue]


class PointValue(Node):
    indicator: str
    points: float


class Expectation(Node):
    """``score S [± tol]``, ``tier X``, ``label L``, ``not label L`` or ``segment NAME VALUE``."""

    what: Literal["score", "tier", "label", "no_label", "segment"]
    score: float | None = None
    tolerance: float | None = None
    name: str | None = None  # the tier, label or segment
    value: str | None = None  # segment: the case expected


class Example(Node):
    name: str
    as_of: str | None = None
    as_of_span: Span | None = None
    points: list[PointValue] = []
    rows: list[ExampleRow] = []
    expectations: list[Expectation] = []


class Ruleset(Node):
    """A whole .tier file, statements grouped by kind in file order."""

    header: RulesetDecl | None = None
    sources: list[SourceDecl] = []
    points: RangeDecl | None = None
    score: RangeDecl | None = None
    scoring: ScoringDecl | None = None
    cap: CapDecl | None = None
    missing: MissingPolicy | None = None
    dimensions: list[Dimension] = []
    indicators: list[Indicator] = []  # standalone ones (not in a dimension)
    measures: list[Measure] = []
    tiers: list[Tier] = []
    labels: list[Label] = []
    segments: list[Segment] = []
    triggers: list[Trigger] = []
    on_rules: list[OnRule] = []
    examples: list[Example] = []
    duplicates: list[tuple[str, Span]] = []  # settings given twice: (what, where)

    def all_indicators(self) -> list[Indicator]:
        out = [i for d in self.dimensions for i in d.indicators]
        return out + list(self.indicators)


