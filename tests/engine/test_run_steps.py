"""A run is its steps in order (open -> check data -> fit -> evaluate -> compute -> summarise -> deliver),
each usable alone; every run has its own id; a given calibration is used instead of fitting."""
from __future__ import annotations

import uuid
from datetime import date

import pytest

from tierwise.engine.build import compile_text
from tierwise.engine.calibration import Calibration, FittedNormalizer
from tierwise.engine.evaluate import evaluate
from tierwise.engine.fit import fit
from tierwise.engine.plugin_manager import default_registry
from tierwise.engine.quality import check_data
from tierwise.engine.run import compute, open_step, run
from tierwise.engine.summary import summarise

AS_OF = date(2026, 6, 30)
RULES = '''source c = csv("c.csv") key id
points 1..10
indicator 量 = c.量 weight 50% scale minmax
indicator 级 = c.级 weight 50% {
  >= 5 -> 10
  else -> 1
}
tier A when score >= 6
tier B otherwise
on tier A -> log(message: "A")
'''


@pytest.fixture
def ruleset(tmp_path):
    (tmp_path / "c.csv").write_text("id,量,级\nK1,10,6\nK2,20,1\nK3,30,9\n K3,5,5\n", encoding="utf-8")
    reg = default_registry()
    plan, diags, _ = compile_text(RULES, str(tmp_path / "r.tier"), reg)
    assert plan is not None, diags.format()
    return plan, reg, tmp_path


def test_every_run_has_its_own_id(ruleset):
    plan, reg, d = ruleset
    a, b = run(plan, reg, d, AS_OF), run(plan, reg, d, AS_OF)
    assert a.run_id != b.run_id
    assert uuid.UUID(a.run_id).version == 4
    assert any(a.run_id in line for line in a.log)  # the actions carry it


def test_the_steps_one_by_one_give_what_run_gives(ruleset, tmp_path):
    plan, reg, d = ruleset
    outcome = run(plan, reg, d, AS_OF)
    opened = open_step(plan, reg, d)
    try:
        quality = check_data(plan, opened.tables, opened.backend)
        assert [i.what for i in quality.issues] == ["duplicate key (first row used)"]
        calibration = fit(plan, opened.tables, AS_OF, opened.backend, registry=reg, keys=quality.keys)
        assert calibration == outcome.calibration == Calibration({"量": FittedNormalizer("minmax",
                                                                                        {"min": 10.0, "max": 30.0})})
        ev = evaluate(plan, opened.tables, AS_OF, calibration, registry=reg, backend=opened.backend, keys=quality.keys)
        computed = compute(ev, opened.backend, tmp_path / "out.parquet")
        summary = summarise(plan, computed.table, opened.backend)
        rows = opened.backend.fetch_rows(computed.table)
    finally:
        opened.backend.close()
    assert rows == outcome.table.to_pylist()
    assert summary.distribution == outcome.distribution


def test_a_given_calibration_is_used_instead_of_fitting(ruleset):
    plan, reg, d = ruleset
    stored = Calibration({"量": FittedNormalizer("minmax", {"min": 0.0, "max": 20.0})})
    outcome = run(plan, reg, d, AS_OF, calibration=stored)
    assert outcome.calibration == stored
    assert outcome.find("K2")["量.points"] == 10.0  # 20 is the top of the stored range
