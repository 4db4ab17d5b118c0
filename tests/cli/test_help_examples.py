"""Every `Example:` line of every command's help runs as written, in the directory the help names: the
one `tierwise demo` writes (run in an empty directory first), in the order a newcomer takes them —
rate, look at the history, re-rate on fresh data, compare a new version, then the decisions."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from tierwise.cli.docs import commands, example_args, examples
from tierwise.cli.main import cli

# the command whose examples come first: the rest run in the directory it writes
FIRST = "demo"
# then, in the order a newcomer would run them (the store fills as they go)
ORDER = ["", "check", "test", "run", "explain", "rate", "runs", "history", "changes", "report", "rerate", "review",
         "review list", "review resolve", "diff", "override", "override request", "override approve",
         "override reject", "override list", "actions", "actions list", "actions retry", "actions show",
         "managers", "override revoke", "audit", "plugins"]
# an example documented to end with another exit code than 0 (none today)
EXIT_CODES: dict[str, int] = {}


def every_example() -> dict[str, list[str]]:
    return {path: examples(cmd.get_help(ctx)) for path, cmd, ctx in commands()}


def test_every_command_has_an_example_and_each_is_in_the_walkthrough():
    found = every_example()
    assert all(found.values()), [p for p, lines in found.items() if not lines]
    assert sorted(found) == sorted([FIRST, *ORDER])


def test_every_example_runs_as_written(tmp_path, monkeypatch):
    for var in ("TIERWISE_DB", "TIERWISE_BACKEND"):
        monkeypatch.delenv(var, raising=False)
    found = every_example()
    runner = CliRunner()
    monkeypatch.chdir(tmp_path)
    [demo] = found[FIRST]
    assert demo == "tierwise demo"
    res = runner.invoke(cli, example_args(demo), catch_exceptions=False)
    assert res.exit_code == 0, res.stdout + res.stderr
    assert "every example of `tierwise COMMAND --help` runs there" in res.stdout
    monkeypatch.chdir(tmp_path / "tierwise-demo")
    outputs = {}
    for path in ORDER:
        for line in found[path]:
            res = runner.invoke(cli, example_args(line), catch_exceptions=False)
            assert res.exit_code == EXIT_CODES.get(line, 0), f"{line}\n{res.stdout}\n{res.stderr}"
            assert "Traceback" not in res.stderr
            outputs[line] = res.stdout
    # and they did what they say
    demo_dir = tmp_path / "tierwise-demo"
    assert (demo_dir / "ratings.xlsx").exists() and (demo_dir / "ratings.csv").exists()
    assert (demo_dir / "diff.xlsx").exists() and (demo_dir / "report.html").exists()
    rerate = next(out for line, out in outputs.items() if line.startswith("tierwise rerate"))
    assert "交易额下滑" in rerate and "KH00007" in rerate  # the customers whose sales fell were re-rated
    resolve = next(out for line, out in outputs.items() if line.startswith("tierwise review resolve"))
    assert "KH00007" in resolve and "resolved by 王总" in resolve
    diff = next(out for line, out in outputs.items() if line.startswith("tierwise diff"))
    assert "tier A: cut `score >= 90` became `score >= 88`" in diff
    shown = next(out for line, out in outputs.items() if line.startswith("tierwise actions show"))
    assert "KH00042" in shown and "delivered" in shown  # the approved override to A caused `on tier A`
    managers = next(out for line, out in outputs.items() if line.startswith("tierwise managers"))
    assert "张三" in managers and "40" in managers  # the demo's pool, from its tierwise.toml
    audit = next(out for line, out in outputs.items() if line.startswith("tierwise audit"))
    assert "override approved" in audit and "override revoked" in audit


@pytest.mark.parametrize("path", ORDER)
def test_examples_run_from_the_demo_directory_name_its_files(path):
    """Examples name files the demo writes, by their names (no paths into the source tree)."""
    for line in every_example()[path]:
        assert "rulesets/" not in line and "customer_rating.tier" not in line, line
