"""Plan golden files: each plan_golden/NAME.tier beside NAME.plan.json, the Plan it compiles to
(engine.plan_dump: expressions with each column's type, spans, the dependency graph).

A missing or different golden fails. To accept new dumps after reviewing them:

    TIERWISE_UPDATE_GOLDENS=1 pytest tests/engine/test_plan_golden.py
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tierwise.engine.build import compile_text
from tierwise.engine.plan_dump import dump
from tierwise.engine.plugin_manager import default_registry

HERE = Path(__file__).parent / "plan_golden"
CASES = sorted(HERE.glob("*.tier"))
UPDATE = os.environ.get("TIERWISE_UPDATE_GOLDENS") == "1"


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_ruleset_compiles_to_its_golden_plan(path):
    plan, diags, _ = compile_text(path.read_text(encoding="utf-8"), path.name, default_registry())
    assert plan is not None, diags.format()
    actual = dump(plan)
    golden = path.with_suffix(".plan.json")
    if UPDATE:
        golden.write_text(actual, encoding="utf-8")
    assert golden.exists(), f"no golden {golden.name}: review `dump(plan)`, then write it with " \
                            f"TIERWISE_UPDATE_GOLDENS=1 pytest tests/engine/test_plan_golden.py"
    assert actual == golden.read_text(encoding="utf-8")


def test_there_are_golden_plans():
    assert len(CASES) >= 4
