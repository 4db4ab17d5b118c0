"""Benchmark: how `tierwise check` scales with the size of a rule file.

Writes a ruleset with one indicator of N range bands (0..1 -> p, 1..2 -> p, ...) for N in 1k, 2k, 4k, 8k,
then times parse + compile + checks of each in this process (the best of REPEAT runs) and prints the time
per band. A linear check keeps the time per band about flat as N doubles; a quadratic step doubles it.

    python bench/check_scaling.py [--repeat 3] [--sizes 1000,2000,4000,8000]
"""
from __future__ import annotations

import argparse
import time


def ruleset(n: int) -> str:
    lines = ['source c = csv("c.csv") key id', "points 0..10", "indicator v = c.v weight 100% {"]
    lines += [f"  {i}..{i + 1} -> {i % 10}" for i in range(n)]
    lines += ["  else -> 0", "}", "tier A when score >= 5", "tier B otherwise", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sizes", default="1000,2000,4000,8000")
    args = ap.parse_args()

    from tierwise.engine.build import compile_text
    from tierwise.engine.plugin_manager import default_registry

    registry = default_registry()
    compile_text(ruleset(10), "warm.tier", registry)  # the parser's tables and plugins, once
    print(f"{'bands':>6}  {'check s':>8}  {'µs/band':>8}")
    for n in (int(s) for s in args.sizes.split(",")):
        text = ruleset(n)
        best = float("inf")
        for _ in range(args.repeat):
            start = time.perf_counter()
            plan, diags, _ = compile_text(text, f"bands{n}.tier", registry)
            best = min(best, time.perf_counter() - start)
            assert plan is not None, diags.format()
        print(f"{n:>6}  {best:>8.2f}  {best / n * 1e6:>8.0f}")


if __name__ == "__main__":
    main()
