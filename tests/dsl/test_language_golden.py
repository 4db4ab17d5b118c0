"""Golden files for the language: each input .tier beside its expected output.

valid/NAME.tier    -> valid/NAME.ast.json      the AST (parse only)
invalid/NAME.tier  -> invalid/NAME.expected.txt the diagnostics of `tierwise check`

Inputs are read as `tierwise` reads them (bytes: UTF-16 with a BOM, GBK, files that are not text).

To accept new outputs after reviewing them: TIERWISE_UPDATE_GOLDENS=1 pytest tests/dsl
"""
import json
import os
from pathlib import Path

import pytest

from tierwise.dsl import RuleFileError, decode_rule_bytes, parse
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
