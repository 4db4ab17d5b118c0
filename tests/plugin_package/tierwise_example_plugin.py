"""A third-party tierwise plugin, installed by tests/engine/test_entry_points.py."""
from pydantic import Field

from tierwise.engine.hookspecs import hookimpl
from tierwise.engine.plugin_api import Function, Normalizer, NormalizerOptions


class StepOptions(NormalizerOptions):
    at: float = Field(description="raw values at or above this get the top of the points range")


class Step(Normalizer):
    """Top points at or above `at`, bottom points below it."""

    name = "step"
    Options = StepOptions

    def apply(self, column, params, lo, hi, options):
        import ibis

        return ibis.cases((column.isnull(), ibis.null("float64")), (column >= options.at, float(hi)),
                          else_=float(lo))


class Double(Function):
    name = "double"
    description = "two times the value"

    def build(self, args, ctx):
        return args[0] * 2


@hookimpl
def tierwise_register_normalizers():
    return [Step]


@hookimpl
def tierwise_register_functions():
    return [Double]
