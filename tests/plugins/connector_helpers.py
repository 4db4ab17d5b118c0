"""Helpers for the connector tests (imported by name: tests/plugins is on sys.path)."""
from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from tierwise.cli.main import cli

DATA = Path(__file__).parent / "data"


def run_rules(path: Path, *args: str):
    """``tierwise run`` on a rule file; an exception (a traceback for a user) fails the test."""
    return CliRunner().invoke(cli, ["run", str(path), "--as-of", "2026-06-30", *args], catch_exceptions=False)


def rule_file(folder: Path, source: str, indicator: str, name: str = "r.tier") -> Path:
    """A one-indicator rule file over one source."""
    path = folder / name
    path.write_text(f'ruleset "t" version "1"\n{source}\nmissing -> points 1\n'
                    f"indicator 分 = {indicator} weight 100% {{\n  >= 1 -> 10\n  else -> 1\n}}\n"
                    "tier A when score >= 5\ntier B otherwise\n", encoding="utf-8")
    return path
