"""Types onto the Plan's nodes: the pass after resolution.

Resolution (engine.compile / engine.build) gives each column use the type its place asks for (a number in
arithmetic, a date in ``within``, text beside a text band). This pass reads those uses off the Plan, gives
every use of a column the one type the rules read it as (``Col.type`` / ``RowCol.type``: nothing else
holds it), and reports a column used as two types. ``expr_type`` is the one rule for the type of an
expression, shared by resolution and the checks.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable, Mapping

from ..dsl.ast import Span
from ..dsl.diagnostics import Diagnostics
from . import plan as P
from .plugin_api import Function

CONDITIONS = (P.Cmp, P.Logic, P.Not, P.InList, P.Between, P.Within)
COUNTING = ("count", "count_distinct", "sum", "avg")
WORDS = {"number": "a number", "date": "a date", "string": "text", "bool": "a condition (true/false)"}


def expr_type(e: P.Expr, col_type: Callable[[P.Col | P.RowCol], P.Type], value_type: Callable[[str], P.Type],
              functions: Mapping[str, type[Function]]) -> P.Type:
    """The type of ``e``: "number", "string", "date", "bool" or "any" (not known: a column read as
    nothing in particular, or a function that returns what it is given)."""
    if isinstance(e, P.Lit):
        return e.type
    if isinstance(e, (P.Col, P.RowCol)):
        return col_type(e)
    if isinstance(e, P.Ref):
        if e.kind in ("points", "dimension", "score"):
            return "number"
        if e.kind == "value":
            return value_type(e.name)
        if e.kind in ("tier", "segment"):
            return "string"
        if e.kind == "label":
            return "bool"
        if e.kind == "as_of":
            return "date"
        return "any"
    if isinstance(e, CONDITIONS):
        return "bool"
    if isinstance(e, P.Agg):
        if e.func in COUNTING:
            return "number"
        return expr_type(e.arg, col_type, value_type, functions) if e.arg is not None else "number"
    if isinstance(e, P.Func):
        fn = functions.get(e.name)
        return fn.returns if fn else "any"
    return "number"


def plan_type(plan: P.Plan, functions: Mapping[str, type[Function]]) -> Callable[[P.Expr], P.Type]:
    """``expr_type`` over a typed plan: columns carry their type, measures are typed by their expression."""
    values = {i.name: i.value_type for i in plan.indicators}
    return lambda e: expr_type(e, lambda c: c.type, lambda n: values.get(n, "number"), functions)


def infer_types(plan: P.Plan, diags: Diagnostics) -> P.Plan:
    """Give every use of a column the type the rules read it as; a column used as two types is an error."""
    types: dict[tuple[str, str], list[P.Type]] = {}
    first: dict[tuple[str, str], Span | None] = {}
    for n in plan.nodes():
        if isinstance(n, (P.Col, P.RowCol)):
            key = (n.source, n.column)
            first.setdefault(key, n.span)
            seen = types.setdefault(key, [])
            if n.type != "any" and n.type not in seen:
                seen.append(n.type)
    for (src, col), seen in types.items():
        if len(seen) > 1:
            diags.error(f"{src}.{col} is used both as " + " and as ".join(WORDS.get(t, t) for t in sorted(seen)),
                        first[(src, col)], expected="one type per column",
                        hint="a date column takes within, days_since, years_between; a number column takes "
                             "arithmetic and number bands; text takes == \"A\" and in (...)")
    final = {key: seen[0] for key, seen in types.items() if seen}

    def typed(n: P.Expr) -> P.Expr:
        if isinstance(n, (P.Col, P.RowCol)):
            t: P.Type = final.get((n.source, n.column), "any")
            return n if n.type == t else replace(n, type=t)
        return n

    plan.map_expressions(lambda e: P.transform(e, typed))
    return plan
