"""Mutation testing of the engine with mutmut: how many small changes to the code do the tests notice?

    python bench/mutation.py                                   # the core scoring modules (CORE)
    python bench/mutation.py engine/evaluate.py plugins/normalizers.py
    python bench/mutation.py --test tests/engine/test_edges.py engine/expressions.py
    python bench/mutation.py --all                             # every module of engine/ and plugins/ (hours)
    python bench/mutation.py engine/scoring.py --only 'tierwise.engine.scoring.x_band_condition*'
                                                               # only the mutants whose names match (globs)
    python bench/mutation.py engine/scoring.py --budget 1800   # stop after 30 minutes, report what was tested

A benchmark, not a test: it prints, per module and in total, the mutants killed, survived, timed out
(and the other outcomes mutmut reports) and the kill rate, killed + timeouts over all mutants tested.
Survivors are listed (`mutmut show NAME` in the work directory shows one).

The repository root is the `tierwise` package (setup.py: package_dir={"tierwise": "."}), a layout mutmut
cannot mutate in place. So the script copies the package into a work directory as src/tierwise/, the
tests beside it as tests/, writes a pyproject.toml with mutmut's settings there and runs `mutmut run` in
it; mutmut puts its mutants/src first on sys.path, before the editable install, so the tests import
the mutants. The work
directory is kept (--work, default a fresh temporary one) for `mutmut results` / `mutmut show`.

Needs the `mutation` extra: pip install -c constraints.txt -e '.[mutation]'. Run it nice'd on a
shared machine: `nice -n 10 python bench/mutation.py`.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIRS = ["engine", "plugins", "dsl", "cli", "rulesets"]
CORE = ["engine/evaluate.py", "engine/scoring.py", "engine/expressions.py", "plugins/normalizers.py",
        "plugins/functions.py"]
# the fast tests that exercise the scoring semantics (the whole suite takes minutes per clean run), and the
# one quick property test: the calendar functions against dateutil (derandomized: HYPOTHESIS_PROFILE=ci)
FAST_TESTS = ["tests/engine/test_edges.py", "tests/engine/test_language_features.py",
              "tests/engine/test_edge_cases.py", "tests/engine/test_data_quality.py", "tests/engine/test_evaluate.py",
              "tests/engine/test_frozen_calibration.py", "tests/engine/test_explanation_columns.py",
              "tests/properties/test_calendar_functions.py"]


def toml_list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def prepare(work: Path, modules: list[str], tests: list[str]) -> None:
    src = work / "src" / "tierwise"
    src.mkdir(parents=True)
    shutil.copy2(ROOT / "__init__.py", src / "__init__.py")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for d in PACKAGE_DIRS:
        shutil.copytree(ROOT / d, src / d, ignore=ignore)
    shutil.copytree(ROOT / "tests", work / "tests", ignore=ignore)
    every = {str(p.relative_to(work)) for p in src.rglob("*.py")}
    wanted = [f"src/tierwise/{m}" for m in modules]
    unknown = [w for w in wanted if w not in every]
    if unknown:
        sys.exit(f"no such module: {', '.join(unknown)}")
    (work / "pyproject.toml").write_text(
        "[tool.mutmut]\n"
        'source_paths = ["src/"]\n'
        f"only_mutate = {toml_list(wanted)}\n"
        f"pytest_add_cli_args_test_selection = {toml_list(tests)}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning"]\n'
        "use_git_change_detection = false\n"
        "\n[tool.pytest.ini_options]\n"
        'testpaths = ["tests"]\n', encoding="utf-8")


def outcomes(work: Path, modules: list[str]) -> dict[str, dict[str, list[str]]]:
    """module -> status -> mutant names, from mutmut's .meta files."""
    from mutmut.stats import status_by_exit_code

    out: dict[str, dict[str, list[str]]] = {}
    for m in modules:
        meta = work / "mutants" / "src" / "tierwise" / f"{m}.meta"
        by_status: dict[str, list[str]] = {}
        if meta.exists():
            for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
                by_status.setdefault(status_by_exit_code[code], []).append(name)
        out[m] = by_status
    return out


#: Ibis type names a string literal may spell in any case (Ibis parses type names case-insensitively)
IBIS_TYPES = ("float64", "int64", "int32", "string", "date", "day", "boolean", "timestamp")
_TYPE_LITERAL = re.compile(r'"(' + "|".join(IBIS_TYPES) + r')"', re.I)


def spelling_only(diff: str) -> bool:
    """Whether a mutant (its unified diff) only spells an Ibis type differently: a type name's case, a
    null typed ``None`` or left to its branches (``ibis.null(None)``, ``else_=None``, no ``else_=``), or
    the ``type=`` of a literal of ``float(...)`` dropped — Ibis unifies a null branch with the others and
    infers a float literal's type. Such a mutant cannot be told from the code by any test."""
    removed = [ln[1:] for ln in diff.splitlines() if ln.startswith("-") and not ln.startswith("---")]
    added = [ln[1:] for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    if len(removed) != 1 or len(added) != 1:
        return False

    def norm(line: str) -> str:
        line = _TYPE_LITERAL.sub(lambda m: m.group(0).lower(), line)
        line = re.sub(r'ibis\.null\((?:"\w+"|None)?\)', "NULL", line)
        line = re.sub(r",\s*else_=(?:NULL|None)\s*\)", ")", line)
        line = re.sub(r",\s*\)", ")", line)
        line = re.sub(r'(ibis\.literal\(float\([^()]*\)),\s*type=(?:"\w+"|None)\)', r"\1)", line)
        return line

    return removed[0] != added[0] and norm(removed[0]) == norm(added[0])


def diffs(work: Path, names: list[str]) -> dict[str, str]:
    """name -> the mutant's diff, as `mutmut show` prints it (read in the work directory)."""
    script = ("import json, sys\n"
              "from mutmut.__main__ import find_mutant, get_diff_for_mutant\n"
              "names = json.load(sys.stdin)\n"
              "print(json.dumps({n: get_diff_for_mutant(n, path=find_mutant(n).path) for n in names}))\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=work, input=json.dumps(names), capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def rate(by_status: dict[str, list[str]]) -> tuple[int, int, int]:
    """(caught, reached, all): caught = killed + timeout; reached adds the survivors; all adds the mutants
    no selected test runs ("no tests") and mutmut's other outcomes."""
    caught = len(by_status.get("killed", [])) + len(by_status.get("timeout", []))
    reached = caught + len(by_status.get("survived", []))
    uncounted = ("not checked", "skipped", "check was interrupted by user")
    return caught, reached, sum(len(v) for k, v in by_status.items() if k not in uncounted)


def pct(a: int, b: int) -> str:
    return f"{a / b:.1%}" if b else "-"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("modules", nargs="*", help="modules to mutate, relative to the repository (default: the core)")
    ap.add_argument("--all", action="store_true", help="every module of engine/ and plugins/")
    ap.add_argument("--test", action="append", dest="tests", metavar="PATH",
                    help="a test file or directory to run, repeatable (default: the fast engine tests)")
    ap.add_argument("--work", type=Path, help="work directory (kept; default: a new temporary directory)")
    ap.add_argument("--only", action="append", default=[], metavar="GLOB",
                    help="test only the mutants whose names match, repeatable (e.g. 'tierwise.engine.scoring.x_tier*')")
    ap.add_argument("--budget", type=float, metavar="SECONDS",
                    help="stop mutmut after this long and report the mutants tested so far (the rest: not checked)")
    ap.add_argument("--max-children", type=int, default=2, help="mutants tested in parallel (default 2)")
    args = ap.parse_args()
    if args.all:
        modules = sorted(str(p.relative_to(ROOT)) for d in ("engine", "plugins") for p in (ROOT / d).rglob("*.py")
                         if p.name != "__init__.py" and "__pycache__" not in p.parts)
    else:
        modules = args.modules or CORE
    modules = [str(Path(m)) for m in modules]
    args.tests = args.tests or FAST_TESTS
    work = args.work or Path(tempfile.mkdtemp(prefix="tierwise-mutation-"))
    if work.exists() and any(work.iterdir()):
        sys.exit(f"{work} is not empty: give a new --work directory")
    work.mkdir(parents=True, exist_ok=True)
    prepare(work, modules, args.tests)
    print(f"mutating {', '.join(modules)}\ntests: {' '.join(args.tests)}\nwork directory: {work}", flush=True)
    start = time.monotonic()
    # the console script, not `python -m mutmut`: the mutants import mutmut.__main__, which must not run twice
    mutmut = Path(sys.executable).parent / "mutmut"
    if not mutmut.exists():
        sys.exit("mutmut is not installed: pip install -c constraints.txt -e '.[mutation]'")
    env = dict(os.environ, HYPOTHESIS_PROFILE="ci")  # the same examples for every mutant
    log = open(work / "mutmut.log", "w", encoding="utf-8")
    proc = subprocess.Popen([str(mutmut), "run", "--max-children", str(args.max_children), *args.only],
                            cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    stopped = False
    try:
        code = proc.wait(timeout=args.budget)
    except subprocess.TimeoutExpired:  # out of time: stop mutmut and its workers, keep what they found
        stopped = True
        os.killpg(proc.pid, signal.SIGINT)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            code = proc.wait()
    elapsed = time.monotonic() - start
    log.close()
    if code != 0 and not stopped:
        print((work / "mutmut.log").read_text(encoding="utf-8")[-3000:])
        print(f"mutmut failed (exit {code}); the full log is {work / 'mutmut.log'}")
        return 1
    results = outcomes(work, modules)
    statuses = sorted({st for r in results.values() for st in r} - {"killed", "survived", "timeout"})
    head = f"{'module':30} {'killed':>7} {'survived':>9} {'timeout':>8}" + "".join(f" {st:>12}" for st in statuses)
    print(f"\n{head} {'kill rate':>10} {'of reached':>11}")
    total: dict[str, list[str]] = {}
    for name, r in [*results.items(), ("total", total)]:
        if name == "total":
            for r2 in results.values():
                for st, names in r2.items():
                    total.setdefault(st, []).extend(names)
        caught, reached, every = rate(r)
        print(f"{name:30} {len(r.get('killed', [])):7} {len(r.get('survived', [])):9} {len(r.get('timeout', [])):8}"
              + "".join(f" {len(r.get(st, [])):12}" for st in statuses)
              + f" {pct(caught, every):>10} {pct(caught, reached):>11}")
    caught, reached, every = rate(total)
    if stopped:
        unchecked = sum(len(r.get("not checked", [])) for r in results.values())
        print(f"\nstopped after the budget of {args.budget:.0f} s: {unchecked} mutants not checked (not counted)")
    print(f"\nkill rate {caught}/{every} = {pct(caught, every)} of all mutants (killed + timeout; a mutant no selected "
          f"test runs counts as not killed); {caught}/{reached} = {pct(caught, reached)} of those the tests reach; "
          f"{elapsed:.0f} s")
    survivors = total.get("survived", [])
    if survivors:
        spelled = sorted(n for n, d in diffs(work, survivors).items() if spelling_only(d))
        print(f"\nof the {len(survivors)} survivors, {len(spelled)} only spell an Ibis type differently "
              f"(equivalent: `spelling_only`); without them: {caught}/{every - len(spelled)} = "
              f"{pct(caught, every - len(spelled))} of all mutants, {caught}/{reached - len(spelled)} = "
              f"{pct(caught, reached - len(spelled))} of those the tests reach")
        print(f"\nsurvived ({len(survivors)}; `cd {work} && mutmut show NAME`; = marks a type spelling):")
        for name in sorted(survivors):
            print(f"  {'=' if name in spelled else ' '} {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
