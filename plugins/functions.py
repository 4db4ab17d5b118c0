"""Built-in functions of the rule language, vectorised over Ibis columns."""
from __future__ import annotations

from typing import Any

from tierwise.engine.hookspecs import hookimpl
from tierwise.engine.plugin_api import Function, FunctionContext


def _days(a: Any, b: Any) -> Any:  # Ibis date values in, an integer value out
    """Whole days from date a to date b (b - a)."""
    return b.cast("date").delta(a.cast("date"), unit="day")


class DaysSince(Function):
    name = "days_since"
    finite = True
    strict = True
    arg_types = ("date",)
    description = "days from a date to the as-of date"

    def build(self, args: list[Any], ctx: FunctionContext) -> Any:
        return _days(args[0], ctx.as_of)


class YearsBetween(Function):
    name = "years_between"
    finite = True
    strict = True
    arg_types = ("date", "date")
    description = "calendar years from the first date to the second: whole years plus the elapsed part of the next"

    def build(self, args: list[Any], ctx: FunctionContext) -> Any:
        return _calendar_between(args[0], args[1], "Y")


class MonthsBetween(Function):
    name = "months_between"
    finite = True
    strict = True
    arg_types = ("date", "date")
    description = "calendar months from the first date to the second: whole months plus the elapsed part of the next"

    def build(self, args: list[Any], ctx: FunctionContext) -> Any:
        return _calendar_between(args[0], args[1], "M")


def _calendar_between(a: Any, b: Any, unit: str) -> Any:
    """Whole calendar units k from a to b (a + k units <= b < a + (k+1) units, month ends clamped, so
    an anniversary is exactly k), plus the fraction of the next unit elapsed, in days.

    k is the unit difference less one when b's (month and) day comes before a's. Then start = a + k
    units never passes b (clamping a month end only moves it earlier), and where k is one short of the
    largest k with a + k units <= b — b is a clamped month end, a + (k+1) units — the fraction is
    exactly 1, so the value is the same whole number. The expression repeats k four times: keep it
    small (the engine writes it into every query that reads the value)."""
    a, b = a.cast("date"), b.cast("date")
    if unit == "Y":
        whole = b.year() - a.year()
        earlier = (b.month() * 100 + b.day()) < (a.month() * 100 + a.day())
    else:
        whole = (b.year() * 12 + b.month()) - (a.year() * 12 + a.month())
        earlier = b.day() < a.day()
    k = whole - earlier.cast("int32")
    start = a + k.as_interval(unit)
    end = a + (k + 1).as_interval(unit)
    return k.cast("float64") + _days(start, b).cast("float64") / _days(start, end).cast("float64")


class Abs(Function):
    name = "abs"
    finite = True
    strict = True
    description = "absolute value"

    def build(self, args: list[Any], ctx: FunctionContext) -> Any:
        return args[0].abs()


class Log(Function):
    name = "log"
    finite = True
    description = "natural logarithm; log(x, base) with a base; missing for x <= 0 or a base <= 0 or 1"
    arg_types = ("number",)
    variadic = True

    def build(self, args: list[Any], ctx: FunctionContext) -> Any:
        import ibis

        x = args[0].cast("float64")
        if len(args) == 1:
            return ibis.cases((x > 0, x.ln()), else_=ibis.null("float64"))
        base = args[1].cast("float64")
        return ibis.cases(((x > 0) & (base > 0) & (base != 1), x.ln() / base.ln()), else_=ibis.null("float64"))


class Least(Function):
    name = "min"
    finite = True
    strict = True
    arg_types = ("number",)
    variadic = True
    description = "the smallest of two or more values, missing if one is (one argument: an aggregate)"

    def build(self, args: list[Any], ctx: FunctionContext) -> Any:
        import ibis

        return _unless_missing(args, ibis.least(*args))


class Greatest(Function):
    name = "max"
    finite = True
    strict = True
    arg_types = ("number",)
    variadic = True
    description = "the largest of two or more values, missing if one is (one argument: an aggregate)"

    def build(self, args: list[Any], ctx: FunctionContext) -> Any:
        import ibis

        return _unless_missing(args, ibis.greatest(*args))


def _unless_missing(args: list[Any], value: Any) -> Any:
    """``value``, or missing when any argument is (SQL's least/greatest would skip it silently)."""
    import ibis

    any_missing = args[0].isnull()
    for a in args[1:]:
        any_missing = any_missing | a.isnull()
    return ibis.cases((any_missing, ibis.null(value.type())), else_=value)


class Coalesce(Function):
    name = "coalesce"
    finite = True
    arg_types = ("any",)
    variadic = True
    returns = "any"
    description = "the first value that is not missing"

    def build(self, args: list[Any], ctx: FunctionContext) -> Any:
        import ibis

        return ibis.coalesce(*args)


@hookimpl
def tierwise_register_functions() -> list[type[Function]]:
    return [DaysSince, YearsBetween, MonthsBetween, Abs, Log, Least, Greatest, Coalesce]
