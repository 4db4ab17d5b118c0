"""`explain` and `run` never disagree: every customer of every shipped ruleset's sample data, rated by
`run`, and explained the way `tierwise explain` does (the calibration fitted on the population, then
only the customers asked for evaluated), give the same score, tier, points and segments; the
scorecard's weights are the result's, and its contributions add up to the score."""
from __future__ import annotations

import importlib.util
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from tierwise.cli.main import cli
from tierwise.engine import columns as C
from tierwise.engine.build import compile_text
from tierwise.engine.evaluate import evaluate
from tierwise.engine.explain import scorecard
from tierwise.engine.fit import fit
from tierwise.engine.plugin_manager import default_registry
from tierwise.engine.run import open_step, run
from tierwise.rulesets.demo_data import write_demo_data

ROOT = Path(__file__).resolve().parents[2]
AS_OF = date(2026, 6, 30)


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"_sample_{name}", ROOT / "tests" / "rulesets" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sample(name: str, d: Path) -> tuple[Path, dict[str, str]]:
    """(the shipped rule file, --source overrides) with its sample data written into ``d``."""
    ruleset = ROOT / "rulesets" / f"{name}.tier"
    if name == "relationship_rating":
        paths = write_demo_data(d, customers=300, seed=11, as_of=AS_OF)
        return d / "relationship_rating.tier", {}
    paths = _module(f"test_{name}").write_data(d)
    reg = default_registry()
    plan, _, _ = compile_text(ruleset.read_text(encoding="utf-8"), str(ruleset), reg)
    return ruleset, {sp.name: str(p) for sp, p in zip(plan.sources, paths)}


RULESETS = ["relationship_rating", "rfm", "lifecycle", "service_evaluation"]


def close(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= 1e-9 * max(1.0, abs(b))


@pytest.mark.parametrize("name", RULESETS)
def test_explain_agrees_with_run_on_every_customer(tmp_path, name):
    ruleset, overrides = sample(name, tmp_path)
    reg = default_registry()
    plan, diags, _ = compile_text(ruleset.read_text(encoding="utf-8"), str(ruleset), reg)
    assert plan is not None, diags.format()
    outcome = run(plan, reg, ruleset.parent, AS_OF, overrides)
    ran = {r[plan.key_column]: r for r in outcome.table.to_pylist()}
    assert len(ran) >= 10

    opened = open_step(plan, reg, ruleset.parent, overrides)
    try:
        calibration = fit(plan, opened.tables, AS_OF, opened.backend, registry=reg)
        # the same parameters, up to the order floating-point sums were taken in
        assert calibration.indicators.keys() == outcome.calibration.indicators.keys()
        for name, fitted in calibration.indicators.items():
            assert fitted.params == pytest.approx(outcome.calibration.params(name), rel=1e-12), name
        ev = evaluate(plan, opened.tables, AS_OF, calibration, registry=reg, backend=opened.backend,
                      columns=C.all_columns(plan), only=sorted(ran))
        explained = {r[plan.key_column]: r for r in opened.backend.fetch_rows(ev.table)}
        one_key = sorted(ran)[len(ran) // 2]
        single = opened.backend.fetch_rows(evaluate(plan, opened.tables, AS_OF, calibration, registry=reg,
                                                    backend=opened.backend, columns=C.all_columns(plan),
                                                    only=[one_key]).table)
    finally:
        opened.backend.close()
    assert set(explained) == set(ran)
    assert [r[plan.key_column] for r in single] == [one_key]
    assert single[0] == explained[one_key]
    additive = plan.scoring == "additive"
    for key, row in ran.items():
        card = scorecard(plan, calibration, explained[key], AS_OF)
        assert close(card.score, row["score"]), key
        assert card.tier == row["tier"], key
        for seg in plan.segments:
            assert dict(card.segments)[seg.name] == row[seg.name], key
        assert card.labels == [x for x in (row.get("labels") or "").split(",") if x], key
        lines = {ln.name: ln for ln in card.lines if ln.kind == "indicator"}
        for ind in plan.indicators:
            assert close(lines[ind.name].points, row[f"{ind.name}.points"]), (key, ind.name)
            assert lines[ind.name].value == row[ind.name] or close(lines[ind.name].value, row[ind.name]), key
        for dim in plan.dimensions:
            sub = next(ln for ln in card.lines if ln.kind == "subtotal" and ln.dimension == dim.name)
            assert close(sub.points, row[dim.name]), (key, dim.name)
        if card.score is not None:
            total = sum(ln.contribution for ln in card.lines if ln.kind != "subtotal" and ln.contribution is not None)
            assert total == pytest.approx(card.score, abs=1e-6), key
            if not additive:
                shares = sum(ln.share for ln in card.lines if ln.kind == "indicator")
                assert shares == pytest.approx(1.0), key
        else:
            assert card.no_score_reason, key


def test_the_explain_command_shows_the_run_s_score(tmp_path):
    ruleset, overrides = sample("relationship_rating", tmp_path)
    out = tmp_path / "ratings.csv"
    res = CliRunner().invoke(cli, ["run", str(ruleset), "--as-of", "2026-06-30", "--out", str(out)])
    assert res.exit_code == 0, res.output
    import csv

    with open(out, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows[:3] + rows[-2:]:
        res = CliRunner().invoke(cli, ["explain", str(ruleset), row["客户编号"], "--as-of", "2026-06-30"])
        assert res.exit_code == 0, res.output
        score = float(row["score"])
        shown = f"{score:,.4f}".rstrip("0").rstrip(".")
        assert f"score {shown}  tier {row['tier']}" in res.stdout
