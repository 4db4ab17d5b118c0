"""IR expressions -> Ibis expressions, with the tolerance rule for numeric cuts.

A value within 1e-9 (relative, at least absolute 1e-9) of a constant it is
compared with counts as equal to it, so a score that floating-point error put
at 74.99999999999999 still lands on the cut of 75 (the upper tier).
"""
from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Any, Callable, Mapping

from . import plan as P
from .plugin_api import Function, FunctionContext

REL_EPS = 1e-9


def tolerance(c: float) -> float:
    return REL_EPS * max(1.0, abs(c))


def compare(op: str, left: Any, right: Any, const: float | None = None) -> Any:
    """``left op right``, numbers within the tolerance of each other counting as equal: of the constant
    ``const`` when ``right`` is one (1e-9·max(1, |const|)), else of ``right`` when both are numbers.

    A missing value equals nothing: ``==`` is false and ``!=`` true for it (so ``not (x == "a")``
    and ``x != "a"`` agree), while ``<``, ``>=``, ... stay unknown (false in a condition)."""
    if const is None and isinstance(right, (int, float)) and not isinstance(right, bool):
        const = float(right)  # a Python number on the right is a constant
    if const is not None:
        target, e = const, tolerance(const)
    elif _numeric(left) and _numeric(right):
        import ibis

        target, e = right, REL_EPS * ibis.greatest(ibis.literal(1.0), right.abs())
    else:  # text, dates, booleans: exactly
        if op in ("==", "!="):
            eq = ibis_coalesce(left == right, False)  # two missing values are not equal either
            return eq if op == "==" else ~eq
        return {">=": left >= right, ">": left > right, "<=": left <= right, "<": left < right}[op]
    if op in ("==", "!="):
        eq = ibis_coalesce((left - target).abs() <= e, False)
        return eq if op == "==" else ~eq
    if op == ">=":
        return left >= target - e
    if op == ">":
        return left > target + e
    if op == "<=":
        return left <= target + e
    return left < target - e


def _numeric(x: Any) -> bool:  # an Ibis value (a Python number on the right is a constant by then)
    return bool(x.type().is_numeric())


def ibis_coalesce(x: Any, default: Any) -> Any:
    import ibis

    return ibis.coalesce(x, default)


FLIP = {">=": "<=", ">": "<", "<=": ">=", "<": ">", "==": "==", "!=": "!="}


def shift_date(d: date, amount: float, unit: str) -> date:
    """``d`` minus ``amount`` units (calendar months and years; days and weeks exact)."""
    if unit in ("days", "weeks"):
        return d - timedelta(days=amount * (7 if unit == "weeks" else 1))
    months = int(round(amount * (12 if unit == "years" else 1)))
    y, m = divmod(d.year * 12 + (d.month - 1) - months, 12)
    m += 1
    return date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


class ExprBuilder:
    """Builds Ibis expressions from IR against one table.

    ``column`` maps a (source, column) to an Ibis column; ``ref`` maps a Ref to
    one; ``agg`` maps an Agg id to one; ``functions`` is the registry's.
    """

    def __init__(self, column: Callable[[P.Col | P.RowCol], Any], ref: Callable[[P.Ref], Any],
                 agg: Callable[[P.Agg], Any], functions: Mapping[str, type[Function]], as_of: date,
                 change: Callable[[P.Change], Any] | None = None):
        import ibis

        self.ibis = ibis
        self.column = column
        self.ref = ref
        self.agg = agg
        self.functions = functions
        self.as_of = as_of
        self.as_of_lit = ibis.literal(as_of, type="date")
        self.change = change

    def __call__(self, e: P.Expr) -> Any:
        ibis = self.ibis
        if isinstance(e, P.Lit):
            if e.value is None:
                return ibis.null()
            if e.type == "number":
                return ibis.literal(float(e.value), type="float64")
            return ibis.literal(e.value)
        if isinstance(e, (P.Col, P.RowCol)):
            return self.column(e)
        if isinstance(e, P.Ref):
            if e.kind == "as_of":
                return self.as_of_lit
            return self.ref(e)
        if isinstance(e, P.Agg):
            return self.agg(e)
        if isinstance(e, P.PopAgg):
            return self.population(e)
        if isinstance(e, P.Func):
            fn = self.functions[e.name]()
            return fn.build([self(a) for a in e.args], FunctionContext(as_of=self.as_of_lit))
        if isinstance(e, P.Arith):
            left, right = self(e.left), self(e.right)
            if e.op == "+":
                return left + right
            if e.op == "-":
                return left - right
            if e.op == "*":
                return left * right
            return ibis.cases((right == 0, ibis.null("float64")), else_=left.cast("float64") / right)
        if isinstance(e, P.Neg):
            return -self(e.operand)
        if isinstance(e, P.Cmp):
            return self.cmp(e.op, e.left, e.right)
        if isinstance(e, P.Logic):
            left, right = self(e.left), self(e.right)
            return (left & right) if e.op == "and" else (left | right)
        if isinstance(e, P.Not):
            return ~self(e.operand)
        if isinstance(e, P.InList):
            operand = self(e.operand)
            numbers = [i for i in e.items if isinstance(i, P.Lit) and i.type == "number"]
            cond: Any  # an Ibis boolean value
            if len(numbers) == len(e.items):
                cond = None
                for i in numbers:
                    c = compare("==", operand, None, float(i.value))
                    cond = c if cond is None else (cond | c)
            else:
                cond = ibis.coalesce(operand.isin([self(i) for i in e.items]), False)
            return ~cond if e.negated else cond  # a missing value is in no list: `not in` is true for it
        if isinstance(e, P.Between):
            return self.cmp(">=", e.operand, e.low) & self.cmp("<=", e.operand, e.high)
        if isinstance(e, P.Within):
            operand = self(e.operand).cast("date")
            start = shift_date(self.as_of, e.amount, e.unit)
            return (operand >= ibis.literal(start, type="date")) & (operand <= self.as_of_lit)
        if isinstance(e, P.Change):
            if self.change is None:
                return ibis.null("float64")
            return self.change(e)
        raise TypeError(f"cannot build {e!r}")  # pragma: no cover

    def cmp(self, op: str, left: P.Expr, right: P.Expr) -> Any:
        blank = P.Lit("", "string")
        if op in ("==", "!=") and blank in (left, right):  # empty cells are missing: x == "" asks "is x blank?"
            other = self(right if left == blank else left)
            eq = other.isnull() | ibis_coalesce(other.cast("string") == "", False)
            return eq if op == "==" else ~eq
        if isinstance(right, P.Lit) and right.type == "number" and right.value is not None:
            return compare(op, self(left), None, float(right.value))
        if isinstance(left, P.Lit) and left.type == "number" and left.value is not None:
            return compare(FLIP[op], self(right), None, float(left.value))
        return compare(op, self(left), self(right))

    def population(self, e: P.PopAgg) -> Any:
        """A population aggregate: an Ibis reduction, which in a mutate becomes a whole-table window."""
        arg = self(e.arg)
        f = e.func
        if f == "median":
            return arg.cast("float64").quantile(0.5)
        if f == "percentile":
            return arg.cast("float64").quantile(e.q)
        if f == "stddev":
            return arg.std(how="pop")
        if f == "count_distinct":
            return arg.nunique()
        return getattr(arg, f)()  # mean, count, sum, min, max: Ibis's reduction of that name
