"""engine.ruleset_diff: the structural diff of two compiled rulesets, from the input/expected pairs in
ruleset_diff/cases.txt (see its head for the format), and on the shipped rulesets."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tierwise.engine.build import compile_text
from tierwise.engine.plugin_manager import default_registry
from tierwise.engine.ruleset_diff import indicator_causes, ruleset_diff

HERE = Path(__file__).parent / "ruleset_diff"
ROOT = Path(__file__).resolve().parents[2]
HEADER = 'ruleset "R"\nsource customers = csv("c.csv") key id\npoints 1..10\n'


def read_cases(path: Path) -> list[tuple[str, str, str, list[str]]]:
    """(title, old text, new text, expected lines) per case of the fixture file."""
    cases = []
    for chunk in re.split(r"^# title: ", path.read_text(encoding="utf-8"), flags=re.M)[1:]:
        title, _, body = chunk.partition("\n")
        blocks = dict(re.findall(r"^>>> (old|new|expect)\n(.*?)(?=^>>> |\Z)", body, flags=re.M | re.S))
        assert set(blocks) == {"old", "new", "expect"}, f"case {title!r}: needs >>> old, >>> new, >>> expect"
        expect = [line for line in blocks["expect"].splitlines() if line.strip()]
        cases.append((title.strip(), blocks["old"], blocks["new"], expect))
    return cases


CASES = read_cases(HERE / "cases.txt")


def compile_rules(text: str, name: str):
    if not re.search(r"^ruleset ", text, flags=re.M):
        text = HEADER + text
    plan, diags, _ = compile_text(text, name, default_registry())
    assert plan is not None, diags.format()
    return plan


@pytest.mark.parametrize("title,old,new,expect", CASES, ids=[c[0] for c in CASES])
def test_ruleset_diff_case(title, old, new, expect):
    got = [c.text for c in ruleset_diff(compile_rules(old, "old.tier"), compile_rules(new, "new.tier"))]
    assert got == expect


def test_the_fixture_has_cases():
    assert len(CASES) >= 15


def test_every_shipped_ruleset_against_itself_has_no_change():
    for path in sorted((ROOT / "rulesets").glob("*.tier")):
        plan = compile_rules(path.read_text(encoding="utf-8"), path.name)
        again = compile_rules(path.read_text(encoding="utf-8"), path.name)
        assert ruleset_diff(plan, again) == [], path.name


def test_a_measure_change_is_a_cause_of_the_indicators_reading_it():
    text = (ROOT / "rulesets" / "relationship_rating.tier").read_text(encoding="utf-8")
    old = compile_rules(text, "old.tier")
    new = compile_rules(text.replace("measure 近12月订单 = count(orders where orders.下单日期 within 12 months)",
                                     "measure 近12月订单 = count(orders where orders.下单日期 within 6 months)")
                        .replace(">= 500万 -> 10", ">= 600万 -> 10"), "new.tier")
    changes = ruleset_diff(old, new)
    causes = {name: [c.text for c in found] for name, found in indicator_causes(new, changes).items()}
    assert set(causes) == {"年交易额", "客单价"}  # 客单价 = 近12月金额 / 近12月订单
    assert causes["客单价"] == [changes[0].text] and changes[0].part == "measure"
    assert causes["年交易额"] == ["年交易额: band `>= 500万 -> 10` became `>= 600万 -> 10`"]
