"""Normalizers scoring with a frozen calibration (a stored run's parameters, as `tierwise rate` and
`tierwise.load(...).rate(..., calibration=...)` use them): a value beyond the fitted range gets the end of
the points range, never points outside it; a value inside is scaled by the stored parameters, not the
population at hand."""
from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest

from tierwise.engine.backends import open_backend
from tierwise.engine.build import compile_text
from tierwise.engine.calibration import Calibration, FittedNormalizer
from tierwise.engine.evaluate import evaluate
from tierwise.engine.plugin_manager import default_registry

AS_OF = date(2026, 6, 30)
REGISTRY = default_registry()
HEADER = 'source c = csv("c.csv") key id\npoints 2..8\nmissing -> exclude\n'


@pytest.fixture(scope="module")
def backend():
    be = open_backend("duckdb")
    yield be
    be.close()


_made = iter(range(10**6))


def rate(be, body: str, calibration: Calibration, x: list) -> list:
    plan, diags, _ = compile_text(HEADER + body, "frozen.tier", REGISTRY)
    assert plan is not None, diags.format()
    data = pa.table({"id": [f"k{i}" for i in range(len(x))], "x": x})
    ev = evaluate(plan, {"c": be.from_arrow(data, f"c{next(_made)}")}, AS_OF, calibration, registry=REGISTRY,
                  backend=be)
    rows = {r["id"]: r for r in be.fetch_rows(ev.table)}
    return [rows[f"k{i}"]["n.points"] for i in range(len(x))]


def test_minmax_with_a_frozen_range_clips_values_beyond_it_to_the_ends_of_the_points_range(backend):
    cal = Calibration({"n": FittedNormalizer("minmax", {"min": 10.0, "max": 20.0})})
    points = rate(backend, "indicator n = c.x weight 100% scale minmax\n", cal, [5.0, 10.0, 15.0, 20.0, 25.0, None])
    # 2 + (x - 10) / 10 · 6 inside [10, 20]; below the fitted min: 2 (not -1); above the max: 8 (not 11)
    assert points == pytest.approx([2, 2, 5, 8, 8, None])


def test_minmax_reversed_with_a_frozen_range_clips_to_the_ends_too(backend):
    cal = Calibration({"n": FittedNormalizer("minmax", {"min": 10.0, "max": 20.0})})
    points = rate(backend, "indicator n = c.x weight 100% scale minmax(reverse: true)\n", cal, [0.0, 12.5, 30.0])
    assert points == pytest.approx([8, 6.5, 2])


def test_zscore_with_frozen_parameters_scores_by_them_and_clips_at_three_sigma(backend):
    cal = Calibration({"n": FittedNormalizer("zscore", {"mean": 100.0, "std": 10.0})})
    points = rate(backend, "indicator n = c.x weight 100% scale zscore\n", cal, [40.0, 70.0, 85.0, 100.0, 130.0, 200.0])
    # 2 + (z + 3) / 6 · 6 = 5 + z, z clipped to [-3, 3]
    assert points == pytest.approx([2, 2, 3.5, 5, 8, 8])


def test_frozen_parameters_without_spread_give_the_middle(backend):
    for name, params in (("minmax", {"min": 3.0, "max": 3.0}), ("zscore", {"mean": 3.0, "std": 0.0})):
        cal = Calibration({"n": FittedNormalizer(name, params)})
        assert rate(backend, f"indicator n = c.x weight 100% scale {name}\n", cal, [1.0, 3.0, None]) == [5, 5, None]


def test_an_incomplete_calibration_gives_no_points_and_says_why_under_missing_error(backend):
    # the stored run had no value to fit on (every value missing): min and max are None; a customer rated
    # later with a value gets no points, and under `missing -> error` no score, because it "has no points"
    plan, diags, _ = compile_text('source c = csv("c.csv") key id\npoints 2..8\n'
                                  "indicator n = c.x weight 100% scale minmax missing -> error\n", "f.tier", REGISTRY)
    assert plan is not None, diags.format()
    cal = Calibration({"n": FittedNormalizer("minmax", {"min": None, "max": None})})
    data = pa.table({"id": ["k0", "k1"], "x": [5.0, None]})
    ev = evaluate(plan, {"c": backend.from_arrow(data, f"c{next(_made)}")}, AS_OF, cal, registry=REGISTRY,
                  backend=backend, columns=["id", "score", "n.points", "no_score_reason"])
    rows = {r["id"]: r for r in backend.fetch_rows(ev.table)}
    assert (rows["k0"]["n.points"], rows["k0"]["score"]) == (None, None)
    assert rows["k0"]["no_score_reason"] == "n has no points (missing -> error)"
    assert rows["k1"]["no_score_reason"] == "n is missing (missing -> error)"


PERCENTILE = "indicator n = c.x weight 100% scale percentile\n"


def test_percentile_with_a_calibration_stored_before_scale_existed_ranks_the_values_as_they_are(backend):
    cal = Calibration({"n": FittedNormalizer("percentile", {"n": 4.0})})
    assert rate(backend, PERCENTILE, cal, [3.0, 1.0, 2.0, 4.0]) == pytest.approx([6, 2, 4, 8])  # 2 + rank/3 · 6


def test_percentile_with_a_frozen_scale_of_zero_ranks_the_values_as_they_are(backend):
    cal = Calibration({"n": FittedNormalizer("percentile", {"n": 4.0, "scale": 0.0})})
    assert rate(backend, PERCENTILE, cal, [3.0, 1.0, 2.0, 4.0]) == pytest.approx([6, 2, 4, 8])


def test_percentile_with_a_frozen_scale_below_one_ties_float_noise(backend):
    cal = Calibration({"n": FittedNormalizer("percentile", {"n": 4.0, "scale": 0.3})})
    assert rate(backend, PERCENTILE, cal, [0.1 + 0.2, 0.3, 0.05, 0.2]) == pytest.approx([6, 6, 2, 4])


def test_percentile_values_far_beyond_a_frozen_scale_tie_at_either_end(backend):
    # |x| beyond 1000 × the frozen scale is clamped (to ±1e15 quanta) before ranking: those values tie
    cal = Calibration({"n": FittedNormalizer("percentile", {"n": 5.0, "scale": 1.0})})
    points = rate(backend, PERCENTILE, cal, [-9000.0, -5000.0, 0.5, 5000.0, 9000.0])
    assert points == pytest.approx([2, 2, 5, 6.5, 6.5])  # ranks 0, 0, 2, 3, 3 of n - 1 = 4
