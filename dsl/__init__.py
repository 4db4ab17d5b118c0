"""The tierwise rule language: text -> parse tree -> typed AST."""
from __future__ import annotations

from pathlib import Path

from .ast import Ruleset
from .diagnostics import Diagnostic, Diagnostics, RuleFileError
from .parser import parse_tree
from .transformer import to_ast

__all__ = ["parse", "parse_file", "read_rule_file", "Ruleset", "Diagnostic", "Diagnostics", "RuleFileError"]


def parse(text: str, filename: str = "<string>") -> Ruleset:
    """Parse rule text into the AST, or raise RuleFileError with a positioned diagnostic."""
    return to_ast(parse_tree(text, filename))


def read_rule_file(path: str | Path) -> str:
    """Read a rule file as UTF-8 (a BOM is dropped); GB18030 files are accepted too."""
    data = Path(path).read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def parse_file(path: str | Path) -> Ruleset:
    return parse(read_rule_file(path), str(path))
