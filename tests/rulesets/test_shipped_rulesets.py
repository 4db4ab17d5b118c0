"""Every shipped ruleset checks clean (no errors, no warnings) and passes every one of its examples."""
from pathlib import Path

import pytest
from click.testing import CliRunner

from tierwise.cli.main import cli
from tierwise.dsl import parse_file

RULESETS = sorted((Path(__file__).resolve().parents[2] / "rulesets").glob("*.tier"))


def test_the_templates_are_shipped():
    assert {p.stem for p in RULESETS} >= {"relationship_rating", "rfm", "lifecycle", "service_evaluation"}


@pytest.mark.parametrize("ruleset", RULESETS, ids=lambda p: p.stem)
def test_checks_clean(ruleset):
    res = CliRunner().invoke(cli, ["check", str(ruleset)])
    assert res.exit_code == 0, res.output
    assert "warning" not in res.output


@pytest.mark.parametrize("ruleset", RULESETS, ids=lambda p: p.stem)
def test_every_example_passes(ruleset):
    examples = len(parse_file(ruleset).examples)
    assert examples >= 2  # a template shows its business cases
    res = CliRunner().invoke(cli, ["test", str(ruleset)])
    assert res.exit_code == 0, res.output
    assert f"{examples} passed, 0 failed" in res.output
    assert "warning" not in res.output
