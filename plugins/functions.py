"""Built-in functions of the rule language, vectorised over Ibis columns."""
from __future__ import annotations

from tierwise.engine.hookspecs import hookimpl
from tierwise.engine.plugin_api import Function


def _days(a, b):
    """Whole days from date a to date b (b - a)."""
    return b.cast("date").delta(a.cast("date"), unit="day")


class DaysSince(Function):
    name = "days_since"
    arg_types = ("date",)
    description = "days from a date to the as-of date"

    def build(self, args, ctx):
        return _days(args[0], ctx.as_of)


class YearsBetween(Function):
    name = "years_between"
    arg_types = ("date", "date")
    description = "years (days / 365.25, fractional) from the first date to the second"

    def build(self, args, ctx):
        return _days(args[0], args[1]).cast("float64") / 365.25


class MonthsBetween(Function):
    name = "months_between"
    arg_types = ("date", "date")
    description = "months (days / 30.4375, fractional) from the first date to the second"

    def build(self, args, ctx):
        return _days(args[0], args[1]).cast("float64") / 30.4375


class Abs(Function):
    name = "abs"
    description = "absolute value"

    def build(self, args, ctx):
        return args[0].abs()


class Log(Function):
    name = "log"
    description = "natural logarithm; log(x, base) with a base; missing for x <= 0"
    arg_types = ("number",)
    variadic = True

    def build(self, args, ctx):
        import ibis

        x = args[0].cast("float64")
        value = x.ln() if len(args) == 1 else x.ln() / args[1].cast("float64").ln()
        return ibis.cases((x > 0, value), else_=ibis.null("float64"))


class Least(Function):
    name = "min"
    arg_types = ("number",)
    variadic = True
    description = "the smallest of two or more values (one argument: an aggregate)"

    def build(self, args, ctx):
        import ibis

        return ibis.least(*args)


class Greatest(Function):
    name = "max"
    arg_types = ("number",)
    variadic = True
    description = "the largest of two or more values (one argument: an aggregate)"

    def build(self, args, ctx):
        import ibis

        return ibis.greatest(*args)


class Coalesce(Function):
    name = "coalesce"
    arg_types = ("any",)
    variadic = True
    returns = "any"
    description = "the first value that is not missing"

    def build(self, args, ctx):
        import ibis

        return ibis.coalesce(*args)


@hookimpl
def tierwise_register_functions():
    return [DaysSince, YearsBetween, MonthsBetween, Abs, Log, Least, Greatest, Coalesce]
