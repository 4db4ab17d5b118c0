"""Compile a parsed ruleset into a Plan, collecting diagnostics on the way.

``compile_ruleset`` resolves every name, classifies aggregates, infers column
types and validates plugin options; ``engine.checks`` adds the scorecard checks
(weights, bands, tiers). ``check`` is compile without keeping the Plan.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

from ..dsl import ast as A
from ..dsl.diagnostics import Diagnostics, article, source_line, suggest
from . import plan as P
from .infer_types import expr_type
from .plugin_manager import Registry

PER_CUSTOMER_AGGS = {"sum", "count", "avg", "min", "max", "count_distinct"}
POPULATION_ONLY = {"mean", "median", "percentile", "stddev"}
RESERVED = {"score", "as_of", "tier"}
TIME_UNITS = {"days", "weeks", "months", "years"}


@dataclass
class Context:
    """Where an expression stands: what it may refer to."""

    what: str  # "indicator", "measure", "tier", "label", "segment", "trigger"
    owner: str = ""
    agg_source: str | None = None  # inside a per-customer aggregate over this source
    deps: set[tuple[str, str]] = field(default_factory=set)


class Compiler:
    def __init__(self, ruleset: A.Ruleset, registry: Registry, diags: Diagnostics):
        self.rs = ruleset
        self.reg = registry
        self.d = diags
        self.sources = {s.name: s for s in ruleset.sources}
        self.indicators = {i.name: i for i in ruleset.all_indicators()}
        self.measures = {m.name: m for m in ruleset.measures}
        self.dimensions = {d.name: d for d in ruleset.dimensions}
        self.labels = {lb.name: lb for lb in ruleset.labels}
        self.segments = {s.name: s for s in ruleset.segments}
        self.column_types: dict[tuple[str, str], P.Type] = {}
        self.column_spans: dict[tuple[str, str], A.Span] = {}  # first use of each column
        self.single_row: set[str] = set()
        self.multi_row: set[str] = set()
        self.agg_use: dict[str, A.Call] = {}  # the first aggregate over each source
        self._condition: A.Node | None = None  # the comparison being compiled (for hints)
        self.agg_count = 0
        self.deps: dict[tuple[str, str], set[tuple[str, str]]] = {}

    # ---- names --------------------------------------------------------------------
    def all_names(self) -> list[str]:
        return [*self.indicators, *self.measures, *self.dimensions, *self.labels, *self.segments,
                *RESERVED]

    def check_duplicates(self) -> None:
        seen: dict[str, tuple[str, A.Span]] = {}
        groups: list[tuple[str, Sequence[A.Indicator | A.Measure | A.Dimension | A.Label | A.Segment]]] = [
            ("indicator", self.rs.all_indicators()), ("measure", self.rs.measures),
            ("dimension", self.rs.dimensions), ("label", self.rs.labels), ("segment", self.rs.segments)]
        # in file order: the second declaration is the one reported, pointing back at the first
        named = sorted(((kind, node) for kind, nodes in groups for node in nodes),
                       key=lambda kn: (kn[1].name_span.line, kn[1].name_span.column))
        for kind, node in named:
            if node.name in RESERVED:
                self.d.error(f"'{node.name}' is a reserved name", node.name_span,
                             hint=f"rename this {kind}")
            elif node.name in seen:
                other_kind, other = seen[node.name]
                self.d.error(f"duplicate name '{node.name}': already {article(other_kind)} at line {other.line}",
                             node.name_span, hint="names of indicators, measures, dimensions, labels and "
                                                  "segments must be unique")
            else:
                seen[node.name] = (kind, node.name_span)
        for kind, decls in (("source", self.rs.sources), ("tier", self.rs.tiers), ("trigger", self.rs.triggers)):
            names: dict[str, A.Span] = {}
            for decl in decls:
                if decl.name in names:
                    self.d.error(f"duplicate {kind} '{decl.name}' (first at line {names[decl.name].line})",
                                 decl.name_span)
                names.setdefault(decl.name, decl.name_span)
        for what, span in self.rs.duplicates:
            self.d.error(f"'{what}' is given twice", span, hint="keep one")
        example_names: set[str] = set()
        for ex in self.rs.examples:
            if ex.name in example_names:
                self.d.error(f"duplicate example \"{ex.name}\"", ex.span)
            example_names.add(ex.name)

    # ---- source usage (single- vs multi-row) ------------------------------------------------
    def scan_usage(self, expr: Any, agg: A.Call | None) -> None:
        """Which sources are read inside aggregates (several rows per customer) and which directly."""
        if isinstance(expr, A.Column):
            if agg is not None:
                self.multi_row.add(expr.source)
                self.agg_use.setdefault(expr.source, agg)
            else:
                self.single_row.add(expr.source)
        elif isinstance(expr, A.Call):
            inner = expr if agg is None and expr.func in PER_CUSTOMER_AGGS and len(expr.args) == 1 else agg
            for a in expr.args:
                if inner is not None and isinstance(a, A.Name) and a.name in self.sources:
                    self.multi_row.add(a.name)
                    self.agg_use.setdefault(a.name, inner)
                self.scan_usage(a, inner)
            if expr.where is not None:
                self.scan_usage(expr.where, inner)
        elif isinstance(expr, A.Node):
            for child in expr.children():
                self.scan_usage(child, agg)

    def source_text(self, span: A.Span) -> str | None:
        """The rule text of a one-line span."""
        if self.d.text is None or span.line != span.end_line or span.line < 1:
            return None
        line = source_line(self.d.text, span.line)
        return line[span.column - 1:span.end_column - 1] if line is not None else None

    def all_exprs(self) -> list[A.Node]:
        out: list[A.Node] = [i.expr for i in self.rs.all_indicators()]
        out += [m.expr for m in self.rs.measures]
        out += [t.condition for t in self.rs.tiers if t.condition is not None]
        out += [lb.condition for lb in self.rs.labels]
        out += [c.condition for s in self.rs.segments for c in s.cases if c.condition is not None]
        out += [t.condition for t in self.rs.triggers]
        return out

    # ---- expressions --------------------------------------------------------------------
    def hint_type(self, e: P.Expr, t: P.Type) -> P.Expr:
        """Record that a column is used as type ``t``."""
        if t in ("any", "bool") or not isinstance(e, (P.Col, P.RowCol)):
            return e
        key = (e.source, e.column)
        prev = self.column_types.get(key)
        if prev is None or prev == "any":
            self.column_types[key] = t  # what later uses are resolved against; engine.infer_types settles it
        return replace(e, type=t)

    def type_of(self, e: P.Expr) -> P.Type:
        def value_type(name: str) -> P.Type:
            ind = self.indicators.get(name)
            return "string" if ind is not None and ind.bands and _string_bands(ind.bands) else "number"
        return expr_type(e, lambda c: self.column_types.get((c.source, c.column), "any"), value_type,
                         self.reg.functions)

    def expr(self, node: A.Node, ctx: Context, expect: P.Type = "any") -> P.Expr:
        e = self._expr(node, ctx, expect)
        if e.span is None:  # every node of the plan keeps where it is written
            e = replace(e, span=node.span)
        return self.hint_type(e, expect)

    def _expr(self, node: A.Node, ctx: Context, expect: P.Type) -> P.Expr:
        if isinstance(node, A.Number):
            return P.Lit(node.value, "number", node.percent)
        if isinstance(node, A.String):
            return P.Lit(node.value, "string")
        if isinstance(node, A.Bool):
            return P.Lit(node.value, "bool")
        if isinstance(node, A.Name):
            return self.name(node, ctx)
        if isinstance(node, A.Column):
            return self.column(node, ctx)
        if isinstance(node, A.Call):
            return self.call(node, ctx, expect)
        if isinstance(node, A.Negate):
            return P.Neg(self.expr(node.operand, ctx, "number"))
        if isinstance(node, A.Binary):
            left = self.expr(node.left, ctx, "number")
            right = self.expr(node.right, ctx, "number")
            return P.Arith(node.op, left, right)
        if isinstance(node, A.Compare):
            outer, self._condition = self._condition, node
            try:
                left = self.expr(node.left, ctx)
                right = self.expr(node.right, ctx)
            finally:
                self._condition = outer
            lt, rt = self.type_of(left), self.type_of(right)
            if lt == "any" and rt != "any":
                left = self.hint_type(left, rt)
            elif rt == "any" and lt != "any":
                right = self.hint_type(right, lt)  # two known types that differ: engine.type_checks
            if lt == "any" and rt == "any":
                left, right = self.hint_type(left, "number"), self.hint_type(right, "number")
            return P.Cmp(node.op, left, right)
        if isinstance(node, A.Logical):
            return P.Logic(node.op, self.expr(node.left, ctx, "bool"), self.expr(node.right, ctx, "bool"))
        if isinstance(node, A.Not):
            return P.Not(self.expr(node.operand, ctx, "bool"))
        if isinstance(node, A.In):
            items = tuple(self.expr(i, ctx) for i in node.items)
            types = {self.type_of(i) for i in items} - {"any"}
            outer, self._condition = self._condition, node
            try:
                operand = self.expr(node.operand, ctx, types.pop() if len(types) == 1 else "any")
            finally:
                self._condition = outer
            return P.InList(operand, items, node.negated)
        if isinstance(node, A.Between):
            return P.Between(self.expr(node.operand, ctx, "number"), self.expr(node.low, ctx, "number"),
                             self.expr(node.high, ctx, "number"))
        if isinstance(node, A.Within):
            return P.Within(self.expr(node.operand, ctx, "date"), node.amount, node.unit)
        self.d.error("unsupported expression", getattr(node, "span", None))  # pragma: no cover
        return P.Lit(None, "any")

    def name(self, node: A.Name, ctx: Context) -> P.Expr:
        n = node.name
        if n == "as_of":
            return P.Ref("as_of")
        if n == "score":
            if ctx.what in ("indicator", "measure"):
                self.d.error(f"'score' cannot be used in {article(ctx.what)}: the score is computed from them",
                             node.span)
            return P.Ref("score")
        if n == "tier":
            if ctx.what not in ("label", "segment", "trigger"):
                self.d.error("'tier' can only be used in labels, segments and triggers", node.span)
            return P.Ref("tier")
        if n in self.indicators:
            ctx.deps.add(("points", n))
            return P.Ref("points", n)
        if n in self.measures:
            ctx.deps.add(("measure", n))
            return P.Ref("measure", n)
        if n in self.dimensions:
            ctx.deps.add(("dimension", n))
            if ctx.what in ("indicator", "measure"):
                self.d.error(f"dimension '{n}' cannot be used in {article(ctx.what)}", node.span)
            return P.Ref("dimension", n)
        if n in self.labels:
            ctx.deps.add(("label", n))
            return P.Ref("label", n)
        if n in self.segments:
            ctx.deps.add(("segment", n))
            return P.Ref("segment", n)
        if n in self.sources:
            self.d.error(f"source '{n}' needs a column: {n}.COLUMN", node.span,
                         hint=f"count rows with count({n})")
            return P.Lit(None, "any")
        close = suggest(n, [*self.all_names(), *self.sources])
        self.d.error(f"unknown name '{n}'", node.span,
                     expected="an indicator, measure, dimension, label, score or as_of",
                     hint=f"did you mean '{close}'?" if close else "declare it with `measure NAME = ...`")
        return P.Lit(None, "any")

    def column(self, node: A.Column, ctx: Context) -> P.Expr:
        self.column_spans.setdefault((node.source, node.column), node.span)
        if node.source not in self.sources:
            close = suggest(node.source, list(self.sources))
            self.d.error(f"unknown source '{node.source}'", node.span,
                         expected="a source declared with `source NAME = ...`",
                         hint=f"did you mean '{close}'?" if close else None)
            return P.Lit(None, "any")
        if ctx.agg_source is not None:
            if node.source != ctx.agg_source:
                self.d.error(f"this aggregate reads source '{ctx.agg_source}'; '{node.source}' cannot be used in it",
                             node.span, hint="an aggregate and its where filter read one source")
                return P.Lit(None, "any")
            return P.RowCol(node.source, node.column, self.column_types.get((node.source, node.column), "any"),
                            span=node.span)
        if node.source in self.multi_row:
            self.multi_row_error(node)
            return P.Lit(None, "any")
        return P.Col(node.source, node.column, self.column_types.get((node.source, node.column), "any"),
                     span=node.span)

    def multi_row_error(self, node: A.Column) -> None:
        """A source read through an aggregate elsewhere has several rows per customer: a direct use of
        one of its columns would silently turn that aggregate into a population-wide one."""
        src, col = node.source, node.column
        ref = f"{src}.{col}" if _plain_name(col) else f"{src}.`{col}`"
        used = self.agg_use.get(src)
        where = f" (used in {used.func}(...) at line {used.span.line})" if used is not None else ""
        examples = [f"max({ref})"]
        cond = self._condition
        if cond is not None and node in (getattr(cond, "left", None), getattr(cond, "right", None),
                                         getattr(cond, "operand", None)):
            text = self.source_text(cond.span)
            if text:
                examples.append(f"count({src} where {text}) > 0")
        self.d.error(f"{src} has several rows per customer{where}; use an aggregate here, e.g. "
                     + " or ".join(examples), node.span,
                     expected="an aggregate: sum(...), max(...), count(... where ...)",
                     hint=None if used is None else
                     f"if {src} has one row per customer and {used.func}(...) at line {used.span.line} is meant "
                     f"over all customers, name the value first: measure M = {ref}, then {used.func}(M)")

    def call(self, node: A.Call, ctx: Context, expect: P.Type) -> P.Expr:
        f = node.func
        if node.options:
            self.d.error(f"{f}() takes no named options", node.options[0].span)
        if node.where is not None and f not in PER_CUSTOMER_AGGS:
            self.d.error(f"'where' only filters the rows of an aggregate, not {f}()", node.where.span)
        if f in PER_CUSTOMER_AGGS and len(node.args) == 1:
            return self.aggregate(node, ctx, expect)
        if f in PER_CUSTOMER_AGGS | POPULATION_ONLY and not node.args:
            example = {"count": "count(orders) or count(orders where ...)", "percentile": "percentile(X, 80%)"}.get(
                f, f"{f}(orders.金额)" if f in PER_CUSTOMER_AGGS else f"{f}(INDICATOR)")
            self.d.error(f"{f}() needs an argument", node.span, expected=example)
            return P.Lit(None, "any")
        if f in PER_CUSTOMER_AGGS and f not in self.reg.functions:
            self.d.error(f"{f}() takes one argument, got {len(node.args)}", node.span,
                         expected=f"{f}(orders.金额 where ...)" if f != "count" else "count(orders where ...)",
                         hint="add values up with +: sum(a.x) + sum(a.y)" if f == "sum" else None)
            return P.Lit(None, "any")
        if f in POPULATION_ONLY:
            return self.population(node, ctx)
        if f == "value":
            if len(node.args) != 1 or not isinstance(node.args[0], A.Name) or node.args[0].name not in self.indicators:
                self.d.error("value() takes one indicator name", node.span, expected="value(INDICATOR)")
                return P.Lit(None, "any")
            ctx.deps.add(("value", node.args[0].name))
            return P.Ref("value", node.args[0].name)
        if f == "change":
            if ctx.what != "trigger":
                self.d.error("change() compares with the last rating; it can only be used in a trigger", node.span)
            if len(node.args) != 1 or not isinstance(node.args[0], A.Name) or node.args[0].name not in self.indicators:
                close = suggest(node.args[0].name, list(self.indicators)) if node.args and isinstance(
                    node.args[0], A.Name) else None
                self.d.error("change() takes one indicator name", node.span, expected="change(INDICATOR)",
                             hint=f"did you mean '{close}'?" if close else None)
                return P.Lit(None, "any")
            return P.Change(node.args[0].name)
        if f == "env":
            self.d.error('env("VAR") can only be used in source and action options', node.span)
            return P.Lit(None, "any")
        fn = self.reg.functions.get(f)
        if fn is None:
            known = sorted({*self.reg.functions, *PER_CUSTOMER_AGGS, *POPULATION_ONLY, "value", "change"})
            close = suggest(f, [k for k in known if k != f])
            self.d.error(f"unknown function '{f}'", node.span, expected="one of: " + ", ".join(known),
                         hint=f"did you mean '{close}'?" if close else None)
            return P.Lit(None, "any")
        n_types = len(fn.arg_types)
        if (not fn.variadic and len(node.args) != n_types) or (fn.variadic and len(node.args) < max(n_types, 1)):
            want = f"{n_types} or more" if fn.variadic else str(n_types)
            self.d.error(f"{f}() takes {want} argument(s), got {len(node.args)}", node.span)
        args = []
        for i, a in enumerate(node.args):
            t = fn.arg_types[min(i, n_types - 1)] if n_types else "any"
            args.append(self.expr(a, ctx, t))
        # arguments of type "any" (coalesce) share one type: what the caller expects, else the first
        # one known, so a text column in coalesce(c.h, 0) is read as a number
        untyped = [i for i in range(len(args)) if (fn.arg_types[min(i, n_types - 1)] if n_types else "any") == "any"]
        if untyped:
            common: P.Type = expect if expect not in ("any", "bool") else next(
                (t for t in (self.type_of(args[i]) for i in untyped) if t not in ("any", "bool")), "any")
            for i in untyped:
                args[i] = self.hint_type(args[i], common)
        return P.Func(f, tuple(args))

    def aggregate(self, node: A.Call, ctx: Context, expect: P.Type) -> P.Expr:
        f, arg = node.func, node.args[0]
        source = None
        if isinstance(arg, A.Name) and arg.name in self.sources:
            source = arg.name
            if f != "count":
                self.d.error(f"{f}() needs a column: {f}({source}.COLUMN)", arg.span)
        else:
            cols = _columns(arg) | (_columns(node.where) if node.where is not None else set())
            multi = {s for s in cols if s in self.multi_row}
            if len(multi) > 1:
                self.d.error("an aggregate reads one source; this one reads " + ", ".join(sorted(multi)), node.span,
                             hint="aggregate each source separately, e.g. sum(a.x) + sum(b.y)")
                return P.Lit(None, "any")
            source = next(iter(multi), None)
        if ctx.agg_source is not None:
            self.d.error("aggregates cannot be nested", node.span)
            return P.Lit(None, "any")
        if source is None:  # over per-customer values: population-wide
            return self.population(node, ctx)
        if source == self.rs.sources[0].name if self.rs.sources else False:
            pass
        inner = Context(ctx.what, ctx.owner, agg_source=source, deps=ctx.deps)
        arg_expect = "number" if f in ("sum", "avg") else ("any" if f.startswith("count") else expect)
        parg = None if isinstance(arg, A.Name) and arg.name in self.sources else self.expr(arg, inner, arg_expect)
        where = self.expr(node.where, inner, "bool") if node.where is not None else None
        self.agg_count += 1
        return P.Agg(f"agg{self.agg_count}", f, source, parg, where)

    def population(self, node: A.Call, ctx: Context) -> P.Expr:
        f = node.func
        if ctx.agg_source is not None:
            self.d.error("aggregates cannot be nested", node.span)
            return P.Lit(None, "any")
        if ctx.what in ("indicator", "measure") and f in POPULATION_ONLY | PER_CUSTOMER_AGGS:
            pass
        q = None
        if f == "percentile":
            if len(node.args) != 2 or not isinstance(node.args[1], A.Number) or not 0 <= node.args[1].value <= 1:
                self.d.error("percentile() takes a value and a percentage", node.span,
                             expected="percentile(X, 80%)")
                return P.Lit(None, "any")
            q = node.args[1].value
        elif len(node.args) != 1:
            self.d.error(f"{f}() takes one argument", node.span)
            return P.Lit(None, "any")
        if node.where is not None:
            self.d.error("'where' filters a source's rows; population aggregates take no where", node.where.span)
        arg = self.expr(node.args[0], ctx, "number" if f != "count" else "any")
        self.agg_count += 1
        return P.PopAgg(f"pop{self.agg_count}", "mean" if f == "avg" else f, arg, q)


def _columns(node: A.Node | None) -> set[str]:
    """The sources whose columns ``node`` reads."""
    return {n.source for n in A.walk(node) if isinstance(n, A.Column)}


def _plain_name(col: str) -> bool:
    return col.isidentifier()


def _string_bands(bands: list[A.Band]) -> bool:
    return any(isinstance(v, A.String) for b in bands for v in b.values)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
