"""Benchmark: how `tierwise check` scales with the size of a rule file.

Writes a ruleset with one indicator of N range bands (0..1 -> p, 1..2 -> p, ...) for N in 1k, 2k, 4k, 8k,
then times parse + compile + checks of each in this process (the best of REPEAT runs: wall time, and the
process's CPU time, which other work on a shared machine disturbs less) and prints the time per band. A
linear check keeps the time per band about flat as N doubles; a quadratic step doubles it.

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
    print(f"{'bands':>6}  {'wall s':>7}  {'cpu s':>6}  {'cpu µs/band':>11}")
    for n in (int(s) for s in args.sizes.split(",")):
        text = ruleset(n)
        wall = cpu = float("inf")
        for _ in range(args.repeat):
            start, start_cpu = time.perf_counter(), time.process_time()
            plan, diags, _ = compile_text(text, f"bands{n}.tier", registry)
            wall = min(wall, time.perf_counter() - start)
            cpu = min(cpu, time.process_time() - start_cpu)
            assert plan is not None, diags.format()
        print(f"{n:>6}  {wall:>7.2f}  {cpu:>6.2f}  {cpu / n * 1e6:>11.0f}")


if __name__ == "__main__":
    main()
