"""Golden files for the language: each input .tier beside its expected output.

valid/NAME.tier    -> valid/NAME.ast.json      the AST (parse only)
invalid/NAME.tier  -> invalid/NAME.expected.txt the diagnostics of `tierwise check`

Inputs are read as `tierwise` reads them (bytes: UTF-16 with a BOM, GBK, files that are not text).

To accept new outputs after reviewing them: TIERWISE_UPDATE_GOLDENS=1 pytest tests/dsl
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tierwise.dsl import RuleFileError, Ruleset, decode_rule_bytes, parse
from tierwise.dsl.ast import walk
from tierwise.engine.build import compile_text
from tierwise.engine.plugin_manager import default_registry

HERE = Path(__file__).parent / "golden"
UPDATE = os.environ.get("TIERWISE_UPDATE_GOLDENS") == "1"
VALID = sorted((HERE / "valid").glob("*.tier"))
INVALID = sorted((HERE / "invalid").glob("*.tier"))


def check_golden(actual: str, expected_path: Path) -> None:
    if UPDATE:
        expected_path.write_text(actual, encoding="utf-8")
    assert expected_path.exists(), f"no golden {expected_path.name}: review the output, then write it with " \
                                   f"TIERWISE_UPDATE_GOLDENS=1 pytest tests/dsl"
    assert actual == expected_path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", VALID, ids=[p.stem for p in VALID])
def test_valid_file_parses_to_its_ast(path):
    ast = parse(decode_rule_bytes(path.read_bytes(), path.name), path.name)
    actual = json.dumps(ast.model_dump(mode="json"), ensure_ascii=False, indent=1) + "\n"
    check_golden(actual, path.with_suffix(".ast.json"))
    # the parser builds nodes without validating them (A.new): validated, each is what it built, field types too
    validated = Ruleset.model_validate(ast.model_dump())
    assert validated == ast
    assert [type(getattr(n, f)) for n in walk(validated) for f in type(n).model_fields] == \
        [type(getattr(n, f)) for n in walk(ast) for f in type(n).model_fields]


def test_parsing_builds_no_validator_of_the_ast():
    """Building pydantic's validators for the AST costs every command that reads a rule file ~60 ms: the
    parser constructs its nodes without them."""
    code = ("import sys; from tierwise.dsl import parse, ast as A; parse(open(sys.argv[1], encoding='utf-8').read())\n"
            "def every(c): return [c] + [s for k in c.__subclasses__() for s in every(k)]\n"
            "print(sorted(c.__name__ for c in every(A.Node) if c.__pydantic_complete__))")
    out = subprocess.run([sys.executable, "-c", code, str(HERE / "valid" / "everything.tier")], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_file_gives_its_diagnostics(path):
    try:
        text = decode_rule_bytes(path.read_bytes(), path.name)
    except RuleFileError as exc:  # not text: the diagnostics of reading it
        diags = exc.diagnostics
    else:
        _, diags, _ = compile_text(text, path.name, default_registry())
    assert diags.items, "an invalid case must produce at least one diagnostic"
    actual = diags.format() + "\n"
    assert "Traceback" not in actual
    check_golden(actual, path.with_suffix(".expected.txt"))


def test_there_are_enough_cases():
    assert len(VALID) >= 6 and len(INVALID) >= 30
