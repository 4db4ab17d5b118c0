"""Mutation testing of the engine with mutmut: how many small changes to the code do the tests notice?

    python bench/mutation.py                                   # the core scoring modules (see CORE)
    python bench/mutation.py engine/evaluate.py plugins/normalizers.py
    python bench/mutation.py --tests tests/engine/test_edges.py engine/expressions.py
    python bench/mutation.py --all                             # every module of engine/ and plugins/ (hours)

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
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIRS = ["engine", "plugins", "dsl", "cli", "rulesets"]
CORE = ["engine/evaluate.py", "engine/expressions.py", "plugins/normalizers.py", "plugins/functions.py"]
# the fast tests that exercise the scoring semantics (the whole suite takes minutes per clean run)
FAST_TESTS = ["tests/engine/test_edges.py", "tests/engine/test_language_features.py",
              "tests/engine/test_edge_cases.py", "tests/engine/test_data_quality.py"]


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
    wanted = {f"src/tierwise/{m}" for m in modules}
    every = sorted(str(p.relative_to(work)) for p in src.rglob("*.py"))
    unknown = wanted - set(every)
    if unknown:
        sys.exit(f"no such module: {', '.join(sorted(unknown))}")
    (work / "pyproject.toml").write_text(
        "[tool.mutmut]\n"
        'paths_to_mutate = ["src/"]\n'
        f"do_not_mutate = {toml_list([p for p in every if p not in wanted])}\n"
        f"tests_dir = {toml_list(tests)}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning"]\n'
        "\n[tool.pytest.ini_options]\n"
        'testpaths = ["tests"]\n', encoding="utf-8")


def outcomes(work: Path, modules: list[str]) -> dict[str, dict[str, list[str]]]:
    """module -> status -> mutant names, from mutmut's .meta files."""
    from mutmut.__main__ import status_by_exit_code

    out: dict[str, dict[str, list[str]]] = {}
    for m in modules:
        meta = work / "mutants" / "src" / "tierwise" / f"{m}.meta"
        by_status: dict[str, list[str]] = {}
        if meta.exists():
            for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
                by_status.setdefault(status_by_exit_code[code], []).append(name)
        out[m] = by_status
    return out


def rate(by_status: dict[str, list[str]]) -> tuple[int, int, float | None]:
    caught = len(by_status.get("killed", [])) + len(by_status.get("timeout", []))
    tested = caught + len(by_status.get("survived", []))
    return caught, tested, (caught / tested if tested else None)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("modules", nargs="*", help="modules to mutate, relative to the repository (default: the core)")
    ap.add_argument("--all", action="store_true", help="every module of engine/ and plugins/")
    ap.add_argument("--tests", nargs="+", default=FAST_TESTS, help="the test selection (default: the fast engine tests)")
    ap.add_argument("--work", type=Path, help="work directory (kept; default: a new temporary directory)")
    ap.add_argument("--max-children", type=int, default=2, help="mutants tested in parallel (default 2)")
    args = ap.parse_args()
    if args.all:
        modules = sorted(str(p.relative_to(ROOT)) for d in ("engine", "plugins") for p in (ROOT / d).rglob("*.py")
                         if p.name != "__init__.py" and "__pycache__" not in p.parts)
    else:
        modules = args.modules or CORE
    modules = [str(Path(m)) for m in modules]
    work = args.work or Path(tempfile.mkdtemp(prefix="tierwise-mutation-"))
    if work.exists() and any(work.iterdir()):
        sys.exit(f"{work} is not empty: give a new --work directory")
    work.mkdir(parents=True, exist_ok=True)
    prepare(work, modules, args.tests)
    print(f"mutating {', '.join(modules)}\ntests: {' '.join(args.tests)}\nwork directory: {work}", flush=True)
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(args.max_children)],
                          cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    elapsed = time.monotonic() - start
    (work / "mutmut.log").write_text(proc.stdout, encoding="utf-8")
    if proc.returncode != 0:
        print(proc.stdout[-3000:])
        print(f"mutmut failed (exit {proc.returncode}); the full log is {work / 'mutmut.log'}")
        return 1
    results = outcomes(work, modules)
    statuses = sorted({s for r in results.values() for s in r} - {"killed", "survived", "timeout"})
    head = f"{'module':32} {'killed':>7} {'survived':>9} {'timeout':>8}" + "".join(f" {s:>12}" for s in statuses)
    print(f"\n{head} {'kill rate':>10}")
    total: dict[str, list[str]] = {}
    for m, r in results.items():
        for s, names in r.items():
            total.setdefault(s, []).extend(names)
        line = (f"{m:32} {len(r.get('killed', [])):7} {len(r.get('survived', [])):9} {len(r.get('timeout', [])):8}"
                + "".join(f" {len(r.get(s, [])):12}" for s in statuses))
        _, _, k = rate(r)
        print(f"{line} {'-' if k is None else f'{k:.1%}':>10}")
    caught, tested, k = rate(total)
    print(f"{'total':32} {len(total.get('killed', [])):7} {len(total.get('survived', [])):9} "
          f"{len(total.get('timeout', [])):8}" + "".join(f" {len(total.get(s, [])):12}" for s in statuses)
          + f" {'-' if k is None else f'{k:.1%}':>10}")
    print(f"\nkill rate {caught}/{tested} = {'-' if k is None else f'{k:.1%}'} (killed + timeout over tested) "
          f"in {elapsed:.0f} s")
    survivors = total.get("survived", [])
    if survivors:
        print(f"\nsurvived ({len(survivors)}; `cd {work} && mutmut show NAME`):")
        for name in sorted(survivors):
            print(f"  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
