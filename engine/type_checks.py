"""Checks on the typed Plan: what would otherwise pass `check` and fail at `run` (or mean nothing).

Values of two types compared (`score in ("A", "B")`, `min(score, "a")`, `b in (1, 2)` for a condition
`b`), a condition used as a number, text or a date where a function wants a number, a number or text
used as a condition, `within` windows beyond the calendar, population aggregates of a constant or of
another population aggregate. Reads only the Plan (types on its nodes, spans on its nodes).
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from ..dsl.diagnostics import Diagnostics
from . import plan as P
from .infer_types import WORDS, expr_type
from .plugin_api import Function

#: days in each unit of `within`; a window reaches back at most this many days (dates run from year 1)
UNIT_DAYS = {"days": 1.0, "weeks": 7.0, "months": 30.44, "years": 365.25}
MAX_WINDOW_YEARS = 1000  # counted back from the as-of date, which check does not know: a wider one is a slip
KNOWN = ("number", "string", "date", "bool")


def _what(t: str) -> str:
    return WORDS.get(t, t)


def typer(plan: P.Plan, functions: Mapping[str, type[Function]]) -> Callable[[P.Expr], P.Type]:
    """``expr_type`` over the plan, a measure typed by its expression (a circle of measures: "any")."""
    values = {i.name: i.value_type for i in plan.indicators}
    memo: dict[str, P.Type] = {}

    def of(e: P.Expr) -> P.Type:
        if isinstance(e, P.Ref) and e.kind == "measure":
            if e.name not in memo:
                memo[e.name] = "any"  # while it is being typed
                inner = plan.measures.get(e.name)
                memo[e.name] = of(inner) if inner is not None else "any"
            return memo[e.name]
        if isinstance(e, P.Agg) and e.func not in ("count", "count_distinct", "sum", "avg") and e.arg is not None:
            return of(e.arg)
        return expr_type(e, lambda c: c.type, lambda n: values.get(n, "number"), functions)
    return of


def check_types(plan: P.Plan, registry: Any, d: Diagnostics) -> None:
    functions = registry.functions
    type_of = typer(plan, functions)

    def number_here(e: P.Expr, where: str) -> None:
        t = type_of(e)
        if t in ("bool", "string", "date") and not isinstance(e, (P.Col, P.RowCol)):  # columns: infer_types
            hint = {"bool": "a label or comparison is true/false; score it with an indicator's bands",
                    "date": "days_since(d) or years_between(a, b) turn dates into numbers",
                    "string": "write numbers bare (500万), text in quotes"}[t]
            d.error(f"{where} needs a number; this is {_what(t)}", e.span, hint=hint)

    for owner, expr in plan.expressions():
        for n in P.walk(expr):
            if isinstance(n, P.InList):
                _check_in(n, type_of, d)
            elif isinstance(n, P.Cmp):
                lt, rt = type_of(n.left), type_of(n.right)
                if {lt, rt} == {"number", "bool"}:
                    d.error("a condition (true/false) is compared with a number", n.span,
                            hint="a label or comparison is true or false: use it as it is (L, not L), or compare "
                                 "the value it is built on")
                elif "any" not in (lt, rt) and lt != rt:
                    d.error(f"cannot compare {lt} with {rt}", n.span,
                            hint='quote text values ("A"), write numbers bare (500万)')
            elif isinstance(n, (P.Arith, P.Neg)):
                for part in ((n.left, n.right) if isinstance(n, P.Arith) else (n.operand,)):
                    _check_arithmetic(part, type_of, d)
            elif isinstance(n, (P.Logic, P.Not)):
                for part in ((n.left, n.right) if isinstance(n, P.Logic) else (n.operand,)):
                    t = type_of(part)
                    if t in ("number", "string", "date") and not isinstance(part, (P.Col, P.RowCol)):
                        d.error(f"`and`/`or`/`not` need conditions; this is a {'text' if t == 'string' else t}",
                                part.span, hint="compare it: x >= 5, x == \"A\"")
            elif isinstance(n, P.Func):
                _check_call(n, type_of, functions, d)
            elif isinstance(n, P.Between):
                for part in (n.operand, n.low, n.high):
                    number_here(part, "between")
            elif isinstance(n, P.Agg) and n.func in ("sum", "avg") and n.arg is not None:
                number_here(n.arg, f"{n.func}()")
            elif isinstance(n, P.PopAgg):
                _check_population(n, type_of, d)
                if n.func != "count":
                    number_here(n.arg, f"{n.func}()")
            elif isinstance(n, P.Within):
                _check_window(n, d)
        if owner[0] in ("tier", "label", "segment", "trigger"):
            t = type_of(expr)
            if t in ("number", "string", "date"):
                d.error(f"a condition must be true or false; this is {_what(t)}", expr.span,
                        hint="compare it: x >= 5, x == \"A\", d within 30 days")
    for ind in plan.indicators:
        t = type_of(ind.expr)
        if ind.value_type == "number" and t in ("bool", "date", "string") and not isinstance(ind.expr, (P.Col, P.RowCol)):
            hint = {"bool": f"make it a label (label {ind.name} when ...), or score the value it compares with "
                            f"bands: {{ > 3 -> 10  else -> 0 }}",
                    "date": f"score how long ago it was: indicator {ind.name} = days_since(...)",
                    "string": 'score text with text bands: == "A" -> 10'}[t]
            d.error(f"indicator '{ind.name}' is {_what(t)}, not a number", ind.expr.span or ind.span, hint=hint)


def _check_arithmetic(part: P.Expr, type_of: Callable[[P.Expr], str], d: Diagnostics) -> None:
    """An operand of + - * / or unary minus: text, dates and conditions are errors."""
    t = type_of(part)
    if t in ("string", "date", "bool"):
        what = {"string": "text", "date": "a date", "bool": "a condition (true/false)"}[t]
        hint = {"date": "days_since(d) or years_between(a, b) turn dates into numbers",
                "bool": "a label or comparison is true/false; score it with an indicator's bands"}.get(t)
        d.error(f"arithmetic needs numbers; this is {what}", part.span, hint=hint)


def _check_in(n: P.InList, type_of: Callable[[P.Expr], str], d: Diagnostics) -> None:
    t = type_of(n.operand)
    items = [(i, type_of(i)) for i in n.items]
    if t in KNOWN:
        for item, it in items:
            if it in KNOWN and it != t:
                d.error(f"`in` compares {_what(t)} with {_what(it)}", item.span or n.span,
                        hint='quote text values ("A"), write numbers bare (500万)' if "string" in (t, it) else
                        "every value in the list must be of the operand's type")
                return
        return
    known = [it for _, it in items if it in KNOWN]
    if len(set(known)) > 1:
        d.error("the values of `in (...)` mix " + " and ".join(sorted({_what(k) for k in known})), n.span,
                hint="one type per list")


def _check_call(n: P.Func, type_of: Callable[[P.Expr], str], functions: dict[str, Any], d: Diagnostics) -> None:
    fn = functions.get(n.name)
    if fn is None:
        return
    declared = tuple(fn.arg_types)
    common: list[tuple[P.Expr, str]] = []
    for i, arg in enumerate(n.args):
        want = declared[min(i, len(declared) - 1)] if declared else "any"
        got = "any" if isinstance(arg, (P.Col, P.RowCol)) else type_of(arg)  # a column is as it is used
        if want == "any":
            if got in KNOWN:
                common.append((arg, got))
            continue
        if got in KNOWN and got != want:
            d.error(f"{n.name}() takes {_what(want)} here; this is {_what(got)}", arg.span or n.span,
                    hint={"date": "days_since(d) or years_between(a, b) turn dates into numbers",
                          "bool": "a label or comparison is true/false, not a number",
                          "string": "write numbers bare (500万), text in quotes",
                          "number": "a date comes from a date column or as_of"}.get(got))
            return
    if len({t for _, t in common}) > 1:
        first = common[0][1]
        other = next(a for a, t in common if t != first)
        d.error(f"{n.name}() mixes {_what(first)} and {_what(type_of(other))}", other.span or n.span,
                hint=f"every argument of {n.name}() is of one type")


def _reads_data(e: P.Expr) -> bool:
    """Whether ``e`` reads anything per customer (a Lit of None stands where resolution reported an error)."""
    return any(isinstance(x, (P.Col, P.RowCol, P.Ref, P.Agg, P.Change)) and not (
        isinstance(x, P.Ref) and x.kind == "as_of") for x in P.walk(e))


def _check_population(n: P.PopAgg, type_of: Callable[[P.Expr], str], d: Diagnostics) -> None:
    inner = [x for x in P.walk(n.arg) if isinstance(x, P.PopAgg)]
    if inner:
        d.error(f"{n.func}() of {inner[0].func}(): the inner one is already one value for all customers",
                n.span, hint=f"name the per-customer value first (measure M = ...), then {n.func}(M)")
    elif not _reads_data(n.arg) and not any(isinstance(x, P.Lit) and x.value is None for x in P.walk(n.arg)):
        d.error(f"{n.func}() of a constant is that constant", n.span,
                hint=f"aggregate a per-customer value: {n.func}(INDICATOR) or {n.func}(source.COLUMN)")


def _check_window(n: P.Within, d: Diagnostics) -> None:
    days = n.amount * UNIT_DAYS.get(n.unit, 1.0)
    if days > MAX_WINDOW_YEARS * 365.25:
        most = int(MAX_WINDOW_YEARS * 365.25 / UNIT_DAYS.get(n.unit, 1.0))
        d.error(f"within {n.amount:,.0f} {n.unit} reaches back beyond the calendar (more than "
                f"{MAX_WINDOW_YEARS:,} years before the as-of date)", n.span,
                expected=f"a window of at most {most:,} {n.unit} ({MAX_WINDOW_YEARS:,} years)",
                hint="a window counts back from the as-of date: within 12 months, within 3 years")
    if isinstance(n.operand, P.PopAgg):
        d.error(f"within on {n.operand.func}(): one value for all customers, not a customer's date", n.span,
                hint="put the date filter inside a per-customer aggregate: max(orders.date where ...)")
