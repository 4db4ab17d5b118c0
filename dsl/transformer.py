"""Transform the Lark parse tree into the typed AST (dsl.ast), keeping spans."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from lark import Token, Transformer, Tree, v_args
from lark.tree import Meta

from . import ast as A

# an `on ...` line's event, its target's name and the target's span (None, None without a target)
_Event = tuple[str, "str | None", "A.Span | None"]

UNITS = {"%": Decimal("0.01"), "万": Decimal("10000"), "亿": Decimal("100000000")}


def number_value(text: str) -> tuple[float, bool]:
    """``30%`` -> 0.3, ``500万`` -> 5e6, ``1_000`` -> 1000."""
    digits = text.replace("_", "")
    mult = Decimal(1)
    if digits and digits[-1] in UNITS:
        mult = UNITS[digits[-1]]
        digits = digits[:-1]
    return float(Decimal(digits) * mult), text.endswith("%")


def span_of(item: Any) -> A.Span:
    if isinstance(item, Token):
        # a token from the parser always has its position (lark types it Optional for hand-made tokens)
        assert item.line is not None and item.column is not None
        return A.new(A.Span)(line=item.line, column=item.column, end_line=item.end_line or item.line,
                      end_column=item.end_column or item.column + len(item))
    if isinstance(item, Meta):
        if getattr(item, "empty", True):
            return A.NOWHERE
        return A.new(A.Span)(line=item.line, column=item.column, end_line=item.end_line or item.line,
                      end_column=item.end_column or item.column)
    if isinstance(item, A.Node):
        return item.span
    return A.NOWHERE


def unquote(tok: Token) -> str:
    raw = str(tok)[1:-1]
    out, i = [], 0
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    while i < len(raw):
        c = raw[i]
        if c == "\\" and i + 1 < len(raw):
            out.append(escapes.get(raw[i + 1], raw[i + 1]))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


@v_args(meta=True)
class ToAst(Transformer[Token, A.Ruleset]):
    """One method per grammar rule (or alias); each returns an AST node or a plain value."""

    # ---- literals --------------------------------------------------------------
    def number(self, meta: Meta, children: list[Any]) -> A.Number:
        tok = children[0]
        value, pct = number_value(str(tok))
        return A.new(A.Number)(span=span_of(tok), value=value, text=str(tok), percent=pct)

    def negative_number(self, meta: Meta, children: list[Any]) -> A.Number:
        n = self.number(meta, children)
        return A.new(A.Number)(span=span_of(meta), value=-n.value, text="-" + n.text, percent=n.percent)

    def string(self, meta: Meta, children: list[Any]) -> A.String:
        return A.new(A.String)(span=span_of(meta), value=unquote(children[0]))

    def true(self, meta: Meta, children: list[Any]) -> A.Bool:
        return A.new(A.Bool)(span=span_of(meta), value=True)

    def false(self, meta: Meta, children: list[Any]) -> A.Bool:
        return A.new(A.Bool)(span=span_of(meta), value=False)

    def literal(self, meta: Meta, children: list[Any]) -> Any:
        child = children[0]
        if isinstance(child, Token):
            return A.new(A.String)(span=span_of(child), value=unquote(child))
        return child

    def colname(self, meta: Meta, children: list[Any]) -> tuple[str, A.Span]:
        tok = children[0]
        text = str(tok)
        return (text[1:-1] if tok.type == "QUOTED_NAME" else text), span_of(tok)

    # ---- expressions -------------------------------------------------------------
    def name(self, meta: Meta, children: list[Any]) -> A.Name:
        return A.new(A.Name)(span=span_of(meta), name=str(children[0]))

    def column(self, meta: Meta, children: list[Any]) -> A.Column:
        col, _ = children[1]
        return A.new(A.Column)(span=span_of(meta), source=str(children[0]), column=col)

    def named_arg(self, meta: Meta, children: list[Any]) -> A.NamedArg:
        return A.new(A.NamedArg)(span=span_of(meta), name=str(children[0]), value=children[1])

    def args(self, meta: Meta, children: list[Any]) -> list[Any]:
        return list(children)

    def where(self, meta: Meta, children: list[Any]) -> Any:
        return children[0]

    def call(self, meta: Meta, children: list[Any]) -> A.Call:
        func, args, where = children
        args = args or []
        return A.new(A.Call)(
            span=span_of(meta), func=str(func),
            args=[a for a in args if not isinstance(a, A.NamedArg)],
            options=[a for a in args if isinstance(a, A.NamedArg)],
            where=where,
        )

    def negate(self, meta: Meta, children: list[Any]) -> A.Number | A.Negate:
        operand = children[0]
        if isinstance(operand, A.Number):
            return A.new(A.Number)(span=span_of(meta), value=-operand.value, text="-" + operand.text,
                            percent=operand.percent)
        return A.new(A.Negate)(span=span_of(meta), operand=operand)

    def compare_op(self, meta: Meta, children: list[Any]) -> str:
        return str(children[0])

    add_op = mul_op = compare_op

    def time_unit(self, meta: Meta, children: list[Any]) -> str:
        unit = str(children[0])
        return unit if unit.endswith("s") else unit + "s"

    def binary(self, meta: Meta, children: list[Any]) -> A.Binary:
        left, op, right = children
        return A.new(A.Binary)(span=span_of(meta), op=op, left=left, right=right)

    def compare(self, meta: Meta, children: list[Any]) -> A.Compare:
        left, op, right = children
        return A.new(A.Compare)(span=span_of(meta), op=op, left=left, right=right)

    def and_op(self, meta: Meta, children: list[Any]) -> A.Logical:
        return A.new(A.Logical)(span=span_of(meta), op="and", left=children[0], right=children[1])

    def or_op(self, meta: Meta, children: list[Any]) -> A.Logical:
        return A.new(A.Logical)(span=span_of(meta), op="or", left=children[0], right=children[1])

    def not_op(self, meta: Meta, children: list[Any]) -> A.Not:
        return A.new(A.Not)(span=span_of(meta), operand=children[0])

    def in_op(self, meta: Meta, children: list[Any]) -> A.In:
        return A.new(A.In)(span=span_of(meta), operand=children[0], items=list(children[1:]))

    def not_in_op(self, meta: Meta, children: list[Any]) -> A.In:
        return A.new(A.In)(span=span_of(meta), operand=children[0], items=list(children[1:]), negated=True)

    def between(self, meta: Meta, children: list[Any]) -> A.Between:
        return A.new(A.Between)(span=span_of(meta), operand=children[0], low=children[1], high=children[2])

    def within(self, meta: Meta, children: list[Any]) -> A.Within:
        operand, amount, unit = children
        return A.new(A.Within)(span=span_of(meta), operand=operand, amount=amount.value, unit=unit)

    # ---- settings ------------------------------------------------------------------
    def ruleset_decl(self, meta: Meta, children: list[Any]) -> A.RulesetDecl:
        name, version = children
        return A.new(A.RulesetDecl)(span=span_of(meta), name=unquote(name), version=unquote(version) if version else None)

    def source_decl(self, meta: Meta, children: list[Any]) -> A.SourceDecl:
        name, connector, args, key = children
        args = args or []
        key_name, key_span = key
        return A.new(A.SourceDecl)(
            span=span_of(meta), name=str(name), name_span=span_of(name), connector=str(connector),
            connector_span=span_of(connector),
            args=[a for a in args if not isinstance(a, A.NamedArg)],
            options=[a for a in args if isinstance(a, A.NamedArg)],
            key=key_name, key_span=key_span,
        )

    def points_decl(self, meta: Meta, children: list[Any]) -> A.RangeDecl:
        return A.new(A.RangeDecl)(span=span_of(meta), which="points", low=children[0].value, high=children[1].value)

    def score_decl(self, meta: Meta, children: list[Any]) -> A.RangeDecl:
        return A.new(A.RangeDecl)(span=span_of(meta), which="score", low=children[0].value, high=children[1].value)

    def scoring_decl(self, meta: Meta, children: list[Any]) -> A.ScoringDecl:
        mode, base = children
        return A.new(A.ScoringDecl)(span=span_of(meta), mode=str(mode), mode_span=span_of(mode),
                             base=base.value if base is not None else None)

    def cap_decl(self, meta: Meta, children: list[Any]) -> A.CapDecl:
        return A.new(A.CapDecl)(span=span_of(meta), value=children[0].value)

    def missing_points(self, meta: Meta, children: list[Any]) -> A.MissingPolicy:
        return A.new(A.MissingPolicy)(span=span_of(meta), policy="points", points=children[0].value)

    def missing_exclude(self, meta: Meta, children: list[Any]) -> A.MissingPolicy:
        return A.new(A.MissingPolicy)(span=span_of(meta), policy="exclude")

    def missing_error(self, meta: Meta, children: list[Any]) -> A.MissingPolicy:
        return A.new(A.MissingPolicy)(span=span_of(meta), policy="error")

    def missing_decl(self, meta: Meta, children: list[Any]) -> A.MissingPolicy:
        policy: A.MissingPolicy = children[0]
        return policy.model_copy(update={"span": span_of(meta)})

    # ---- scorecard --------------------------------------------------------------------
    def weight(self, meta: Meta, children: list[Any]) -> tuple[str, Any]:
        return ("weight", children[0])

    def cap(self, meta: Meta, children: list[Any]) -> tuple[str, Any]:
        return ("cap", children[0])

    def indicator_missing(self, meta: Meta, children: list[Any]) -> tuple[str, Any]:
        return ("missing", children[0])

    def scale(self, meta: Meta, children: list[Any]) -> tuple[str, A.Scale]:
        name, args = children
        args = args or []
        return ("scale", A.new(A.Scale)(
            span=span_of(meta), normalizer=str(name),
            options=[a for a in args if isinstance(a, A.NamedArg)],
            args=[a for a in args if not isinstance(a, A.NamedArg)],
        ))

    def bands(self, meta: Meta, children: list[Any]) -> tuple[str, list[Any]]:
        return ("bands", list(children))

    def _band(self, meta: Meta, op: A.BandOp, values: list[Any], points: A.Number) -> A.Band:
        return A.new(A.Band)(span=span_of(meta), op=op, values=values, points=points.value)

    def band_ge(self, meta: Meta, c: list[Any]) -> A.Band:
        return self._band(meta, ">=", [c[0]], c[1])

    def band_gt(self, meta: Meta, c: list[Any]) -> A.Band:
        return self._band(meta, ">", [c[0]], c[1])

    def band_le(self, meta: Meta, c: list[Any]) -> A.Band:
        return self._band(meta, "<=", [c[0]], c[1])

    def band_lt(self, meta: Meta, c: list[Any]) -> A.Band:
        return self._band(meta, "<", [c[0]], c[1])

    def band_eq(self, meta: Meta, c: list[Any]) -> A.Band:
        return self._band(meta, "==", [c[0]], c[1])

    def band_ne(self, meta: Meta, c: list[Any]) -> A.Band:
        return self._band(meta, "!=", [c[0]], c[1])

    def band_in(self, meta: Meta, c: list[Any]) -> A.Band:
        return self._band(meta, "in", list(c[:-1]), c[-1])

    def band_range(self, meta: Meta, c: list[Any]) -> A.Band:
        return self._band(meta, "range", [c[0], c[1]], c[2])

    def band_else(self, meta: Meta, c: list[Any]) -> A.Band:
        return self._band(meta, "else", [], c[0])

    def band_missing(self, meta: Meta, c: list[Any]) -> tuple[str, Any]:
        return ("band_missing", c[0])

    def indicator(self, meta: Meta, children: list[Any]) -> tuple[A.Indicator, list[tuple[str, A.Span]]]:
        name, expr, *options = children
        fields: dict[str, Any] = {}
        repeated: list[tuple[str, A.Span]] = []
        for key, value in options:
            if key == "bands":
                bands = [b for b in value if isinstance(b, A.Band)]
                for b in value:
                    if isinstance(b, tuple):  # a `missing ->` line inside the block
                        if "missing" in fields:
                            repeated.append(("missing", b[1].span))
                        fields["missing"] = b[1]
                value = bands
            if key in fields:
                repeated.append((key, span_of(value) if isinstance(value, A.Node) else span_of(meta)))
            fields[key] = value
        node = A.new(A.Indicator)(span=span_of(meta), name=str(name), name_span=span_of(name), expr=expr, **fields)
        return node, repeated

    def dimension(self, meta: Meta, children: list[Any]) -> tuple[A.Dimension, list[tuple[str, A.Span]]]:
        name, *rest = children
        fields: dict[str, Any] = {}
        indicators, repeated = [], []
        for item in rest:
            if isinstance(item, tuple) and item and isinstance(item[0], str):
                if item[0] in fields:
                    repeated.append((item[0], item[1].span))
                fields[item[0]] = item[1]
            else:
                ind, rep = item
                indicators.append(ind.model_copy(update={"dimension": str(name)}))
                repeated.extend(rep)
        node = A.new(A.Dimension)(span=span_of(meta), name=str(name), name_span=span_of(name),
                           indicators=indicators, **fields)
        return node, repeated

    def measure(self, meta: Meta, children: list[Any]) -> A.Measure:
        return A.new(A.Measure)(span=span_of(meta), name=str(children[0]), name_span=span_of(children[0]), expr=children[1])

    # ---- classification ------------------------------------------------------------------
    def tier_when(self, meta: Meta, c: list[Any]) -> tuple[str, Any]:
        return ("when", c[0])

    def tier_otherwise(self, meta: Meta, c: list[Any]) -> tuple[str, None]:
        return ("otherwise", None)

    def tier_top(self, meta: Meta, c: list[Any]) -> tuple[str, Any]:
        return ("top", c[0])

    def tier_expect(self, meta: Meta, c: list[Any]) -> tuple[float, float, A.Span]:
        return (c[0].value, c[1].value, span_of(meta))

    def tier(self, meta: Meta, children: list[Any]) -> A.Tier:
        name, label, (rule, arg), expect = children
        low, high, espan = expect if expect else (None, None, None)
        return A.new(A.Tier)(
            span=span_of(meta), name=str(name), name_span=span_of(name),
            label=unquote(label) if label else None, rule=rule,
            condition=arg if rule == "when" else None, top=arg if rule == "top" else None,
            expect_low=low, expect_high=high, expect_span=espan,
        )

    def label(self, meta: Meta, children: list[Any]) -> A.Label:
        return A.new(A.Label)(span=span_of(meta), name=str(children[0]), name_span=span_of(children[0]),
                       condition=children[1])

    def _case_value(self, tok: Token) -> str:
        return unquote(tok) if tok.type == "STRING" else str(tok)

    def segment_when(self, meta: Meta, c: list[Any]) -> A.SegmentCase:
        return A.new(A.SegmentCase)(span=span_of(meta), value=self._case_value(c[0]), condition=c[1])

    def segment_otherwise(self, meta: Meta, c: list[Any]) -> A.SegmentCase:
        return A.new(A.SegmentCase)(span=span_of(meta), value=self._case_value(c[0]))

    def segment(self, meta: Meta, children: list[Any]) -> A.Segment:
        return A.new(A.Segment)(span=span_of(meta), name=str(children[0]), name_span=span_of(children[0]),
                         cases=list(children[1:]))

    # ---- triggers and actions ---------------------------------------------------------------
    def effect_rerate(self, meta: Meta, c: list[Any]) -> A.TriggerEffect:
        return A.new(A.TriggerEffect)(span=span_of(meta), effect="rerate")

    def effect_review(self, meta: Meta, c: list[Any]) -> A.TriggerEffect:
        return A.new(A.TriggerEffect)(span=span_of(meta), effect="review")

    def effect_cap(self, meta: Meta, c: list[Any]) -> A.TriggerEffect:
        return A.new(A.TriggerEffect)(span=span_of(meta), effect="cap", tier=str(c[0]))

    def effect_downgrade(self, meta: Meta, c: list[Any]) -> A.TriggerEffect:
        steps = c[0].value
        return A.new(A.TriggerEffect)(span=span_of(meta), effect="downgrade",
                               steps=int(steps) if float(steps).is_integer() else steps)

    def trigger(self, meta: Meta, children: list[Any]) -> A.Trigger:
        name, cond, *effects = children
        return A.new(A.Trigger)(span=span_of(meta), name=str(name), name_span=span_of(name), condition=cond,
                         effects=effects)

    def _event(self, event: str, meta: Meta, c: list[Any]) -> _Event:
        target = c[0] if c else None
        return (event, str(target) if target is not None else None, span_of(target) if target is not None else None)

    def on_tier(self, meta: Meta, c: list[Any]) -> _Event:
        return self._event("tier", meta, c)

    def on_enter(self, meta: Meta, c: list[Any]) -> _Event:
        return self._event("enter", meta, c)

    def on_leave(self, meta: Meta, c: list[Any]) -> _Event:
        return self._event("leave", meta, c)

    def on_upgrade(self, meta: Meta, c: list[Any]) -> _Event:
        return self._event("upgrade", meta, c)

    def on_downgrade(self, meta: Meta, c: list[Any]) -> _Event:
        return self._event("downgrade", meta, c)

    def on_trigger(self, meta: Meta, c: list[Any]) -> _Event:
        return self._event("trigger", meta, c)

    def on_label(self, meta: Meta, c: list[Any]) -> _Event:
        return self._event("label", meta, c)

    def action_call(self, meta: Meta, children: list[Any]) -> A.ActionCall:
        name, args = children
        args = args or []
        return A.new(A.ActionCall)(span=span_of(meta), action=str(name),
                            args=[a for a in args if not isinstance(a, A.NamedArg)],
                            options=[a for a in args if isinstance(a, A.NamedArg)])

    def on_rule(self, meta: Meta, children: list[Any]) -> A.OnRule:
        (event, target, tspan), *actions = children
        return A.new(A.OnRule)(span=span_of(meta), event=event, target=target, target_span=tspan, actions=actions)

    # ---- examples --------------------------------------------------------------------------
    def point_value(self, meta: Meta, c: list[Any]) -> A.PointValue:
        return A.new(A.PointValue)(span=span_of(meta), indicator=str(c[0]), points=c[1].value)

    def field_value(self, meta: Meta, c: list[Any]) -> A.FieldValue:
        col, _ = c[0]
        return A.new(A.FieldValue)(span=span_of(meta), column=col, value=c[1])

    def tolerance(self, meta: Meta, c: list[Any]) -> float:
        number: A.Number = c[0]
        return number.value

    def expect_score(self, meta: Meta, c: list[Any]) -> A.Expectation:
        return A.new(A.Expectation)(span=span_of(meta), what="score", score=c[0].value, tolerance=c[1])

    def expect_tier(self, meta: Meta, c: list[Any]) -> A.Expectation:
        return A.new(A.Expectation)(span=span_of(meta), what="tier", name=str(c[0]))

    def expect_label(self, meta: Meta, c: list[Any]) -> A.Expectation:
        return A.new(A.Expectation)(span=span_of(meta), what="label", name=str(c[0]))

    def expect_no_label(self, meta: Meta, c: list[Any]) -> A.Expectation:
        return A.new(A.Expectation)(span=span_of(meta), what="no_label", name=str(c[0]))

    def expect_segment(self, meta: Meta, c: list[Any]) -> A.Expectation:
        return A.new(A.Expectation)(span=span_of(meta), what="segment", name=str(c[0]), value=self._case_value(c[1]))

    def example_points(self, meta: Meta, c: list[Any]) -> tuple[str, list[Any]]:
        return ("points", list(c))

    def example_as_of(self, meta: Meta, c: list[Any]) -> tuple[str, tuple[str, A.Span]]:
        return ("as_of", (unquote(c[0]), span_of(c[0])))

    def example_row(self, meta: Meta, c: list[Any]) -> tuple[str, A.ExampleRow]:
        return ("row", A.new(A.ExampleRow)(span=span_of(meta), source=str(c[0]), fields=list(c[1:])))

    def dotted_value(self, meta: Meta, c: list[Any]) -> tuple[str, A.FieldValue]:
        col, _ = c[1]
        return str(c[0]), A.new(A.FieldValue)(span=span_of(meta), column=col, value=c[2])

    def example_dotted(self, meta: Meta, c: list[Any]) -> tuple[str, list[A.ExampleRow]]:
        """`customers.a 1, customers.b 2`: one row per source named on the line."""
        by_source: dict[str, list[A.FieldValue]] = {}
        for source, fv in c:
            by_source.setdefault(source, []).append(fv)
        return ("rows", [A.new(A.ExampleRow)(span=span_of(meta), source=s, fields=f) for s, f in by_source.items()])

    def example_expect(self, meta: Meta, c: list[Any]) -> tuple[str, list[Any]]:
        return ("expect", list(c))

    def example(self, meta: Meta, children: list[Any]) -> A.Example:
        name, *lines = children
        points, rows, expectations, as_of, as_of_span = [], [], [], None, None
        for kind, value in lines:
            if kind == "points":
                points.extend(value)
            elif kind == "row":
                rows.append(value)
            elif kind == "rows":
                rows.extend(value)
            elif kind == "expect":
                expectations.extend(value)
            else:
                as_of, as_of_span = value
        return A.new(A.Example)(span=span_of(meta), name=unquote(name), as_of=as_of, as_of_span=as_of_span, points=points,
                         rows=rows, expectations=expectations)

    # ---- the file -----------------------------------------------------------------------------
    def start(self, meta: Meta, children: list[Any]) -> A.Ruleset:
        fields: dict[str, Any] = {k: [] for k in (
            "sources", "dimensions", "indicators", "measures", "tiers", "labels", "segments",
            "triggers", "on_rules", "examples", "duplicates")}
        singletons: dict[type[A.Node], str] = {A.RulesetDecl: "header", A.ScoringDecl: "scoring", A.CapDecl: "cap",
                      A.MissingPolicy: "missing"}
        lists: dict[type[A.Node], str] = {A.SourceDecl: "sources", A.Measure: "measures", A.Tier: "tiers", A.Label: "labels",
                 A.Segment: "segments", A.Trigger: "triggers", A.OnRule: "on_rules", A.Example: "examples"}
        for item in children:
            if isinstance(item, tuple):  # (Dimension|Indicator, repeated options)
                node, repeated = item
                fields["duplicates"].extend(repeated)
                fields["dimensions" if isinstance(node, A.Dimension) else "indicators"].append(node)
                continue
            key = item.which if isinstance(item, A.RangeDecl) else singletons.get(type(item))
            if key is not None:
                if fields.get(key) is not None:
                    fields["duplicates"].append((key, item.span))
                fields[key] = item
            else:
                fields[lists[type(item)]].append(item)
        return A.new(A.Ruleset)(span=span_of(meta), **fields)


def to_ast(tree: Tree[Token]) -> A.Ruleset:
    return ToAst().transform(tree)
