"""Built-in normalizers: minmax, zscore, percentile, quintile.

Each is fitted on the run's population (the non-missing raw values) and maps a
raw value onto the points range [lo, hi]. A population with no spread (one
value, or all equal) maps everyone to the middle of the range.

Ties (percentile, quintile): ``ties: low`` (default) ranks a value by how many
values are strictly below it, so equal values share the lowest rank they
reach; ``ties: high`` ranks by how many are at or below it, minus one. Values equal but for
floating-point noise (``0.1 + 0.2`` and ``0.3``) are equal here too.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from tierwise.engine.hookspecs import hookimpl
from tierwise.engine.plugin_api import Normalizer, NormalizerOptions


class RankOptions(NormalizerOptions):
    ties: Literal["low", "high"] = Field("low", description="rank of tied values: the lowest or the highest they reach")


# Values closer than this part of the population's largest magnitude rank as equal (see _rank).
RANK_QUANTUM = 1e-12


def _rank_fit(column: Any) -> dict[str, Any]:
    return {"n": column.count(), "scale": column.abs().max()}


def _rank(column: Any, params: dict[str, Any], ties: str) -> Any:  # an Ibis column in, its ranks out
    """Rank within the non-null population: low = #values below, high = #values at or below - 1.

    Values are ranked as numbers equal in exact arithmetic are: 0.1 + 0.2 (0.30000000000000004 in doubles)
    ties with 0.3. Each value is snapped to a multiple of RANK_QUANTUM × the population's largest |value|
    (the fitted ``scale``) before ranking, so float noise (a few units in the last place) never orders two
    equal values, while values apart by more than 1e-12 of the population's scale keep their order. A
    calibration stored before ``scale`` existed ranks the values as they are."""
    import ibis

    import ibis.expr.operations as ops

    group = column.isnull()
    scale = params.get("scale")
    key = column
    if scale is not None and isinstance(getattr(scale, "op", lambda: None)(), ops.Reduction):
        # fitted in the query (no calibration: an example's rows): the population's largest |value| as a
        # scalar subquery, since a window's ORDER BY takes no window function (what a reduction becomes)
        scale = scale.as_scalar()
    if scale is not None:
        # clamped so that a value far beyond a frozen calibration's scale cannot overflow the integer
        steps = ibis.greatest(ibis.least(column / (scale * RANK_QUANTUM), 1e15), -1e15)
        key = ibis.cases((scale > 0, (steps + 0.5).floor().cast("float64")), else_=column)
    if ties == "low":
        return ibis.rank().over(group_by=group, order_by=key)
    n = column.count()
    return n - 1 - ibis.rank().over(group_by=group, order_by=key.desc())


class MinMax(Normalizer):
    """Range (极差法): lo + (x - min) / (max - min) * (hi - lo), within [lo, hi] (a value beyond the
    fitted range — a frozen calibration's — gets the end of the points range)."""

    name = "minmax"
    description = "min-max (range) scaling onto the points range"

    def fit(self, column: Any, options: Any) -> dict[str, Any]:
        return {"min": column.min(), "max": column.max()}

    def apply(self, column: Any, params: dict[str, Any], lo: float, hi: float, options: Any) -> Any:
        import ibis

        spread = params["max"] - params["min"]
        mid = (lo + hi) / 2.0
        scaled = lo + (column - params["min"]) / spread * (hi - lo)
        scaled = ibis.greatest(ibis.least(scaled, hi), lo)
        return ibis.cases((column.isnull(), ibis.null("float64")), (spread == 0, mid), else_=scaled)


class ZScore(Normalizer):
    """Standard score clipped at ±3σ (population σ): lo + (z + 3) / 6 * (hi - lo)."""

    name = "zscore"
    description = "z-score (population σ), clipped at ±3σ, onto the points range"

    def fit(self, column: Any, options: Any) -> dict[str, Any]:
        return {"mean": column.mean(), "std": column.std(how="pop")}

    def apply(self, column: Any, params: dict[str, Any], lo: float, hi: float, options: Any) -> Any:
        import ibis

        std = params["std"]
        z = (column - params["mean"]) / std
        z = ibis.greatest(ibis.least(z, 3.0), -3.0)
        return ibis.cases((column.isnull(), ibis.null("float64")), (std == 0, (lo + hi) / 2.0),
                          else_=lo + (z + 3.0) / 6.0 * (hi - lo))


class Percentile(Normalizer):
    """Percent rank in the population: lo + rank / (n - 1) * (hi - lo)."""

    name = "percentile"
    Options = RankOptions
    description = "percent rank in the population onto the points range (ties: low|high)"

    def fit(self, column: Any, options: Any) -> dict[str, Any]:
        return _rank_fit(column)

    def apply(self, column: Any, params: dict[str, Any], lo: float, hi: float, options: Any) -> Any:
        import ibis

        n = params["n"]
        r = _rank(column, params, options.ties)
        return ibis.cases((column.isnull(), ibis.null("float64")), (n <= 1, (lo + hi) / 2.0),
                          else_=lo + r.cast("float64") / (n - 1) * (hi - lo))


class Quintile(Normalizer):
    """Quintile q = 1 + floor(5 * rank / n), 1..5, mapped evenly onto the points range."""

    name = "quintile"
    Options = RankOptions
    description = "quintile 1..5 by rank (ties: low|high) mapped onto the points range"

    def fit(self, column: Any, options: Any) -> dict[str, Any]:
        return _rank_fit(column)

    def apply(self, column: Any, params: dict[str, Any], lo: float, hi: float, options: Any) -> Any:
        import ibis

        n = params["n"]
        r = _rank(column, params, options.ties)
        q = (r.cast("float64") * 5 / n).floor() + 1
        return ibis.cases((column.isnull(), ibis.null("float64")),
                          else_=lo + (q.cast("float64") - 1) / 4.0 * (hi - lo))


@hookimpl
def tierwise_register_normalizers() -> list[type[Normalizer]]:
    return [MinMax, ZScore, Percentile, Quintile]
