"""What the benches share: timing whole processes, comparing outputs, printing the table."""
from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


# Every timed command is started by this small process, started when the harness is imported (before a
# bench reads or generates anything): a child's peak RSS as the kernel reports it is at least that of the
# process it was forked from, so commands forked from a bench that holds a demo's data in memory would all
# show the bench's own peak.
SPAWNER = r"""
import json, os, subprocess, sys, time
for line in sys.stdin:
    cmd = json.loads(line)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read().decode("utf-8", "replace")
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    print(json.dumps([wall, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), err[-4000:]]), flush=True)
"""
_spawner = subprocess.Popen([sys.executable, "-S", "-c", SPAWNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one child process, started by the spawner (see SPAWNER)."""
    import json

    assert _spawner.stdin is not None and _spawner.stdout is not None
    _spawner.stdin.write(json.dumps([str(c) for c in cmd]) + "\n")
    _spawner.stdin.flush()
    wall, rss, code, err = json.loads(_spawner.stdout.readline())
    if code != 0:
        sys.exit(f"command failed ({code}): {' '.join(map(str, cmd))}\n{err}")
    return wall, rss


def compare(engine_out: Path, hand_out: Path) -> int:
    """Rows where any column differs (numbers beyond 1e-9 relative, text, missing-ness); prints a few."""
    import duckdb

    con = duckdb.connect()
    e = f"read_parquet('{engine_out}')"
    h = f"read_parquet('{hand_out}')"
    cols = con.execute(f"DESCRIBE SELECT * FROM {h}").fetchall()
    engine_cols = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {e}").fetchall()}
    if engine_cols != {c[0] for c in cols}:
        sys.exit(f"different columns: {sorted(engine_cols ^ {c[0] for c in cols})}")
    key = cols[0][0]
    conds = []
    for name, typ, *_ in cols[1:]:
        q = '"' + name.replace('"', '""') + '"'
        if typ in ("DOUBLE", "FLOAT", "BIGINT", "INTEGER") or typ.startswith("DECIMAL"):
            conds.append(f"(e.{q} IS NULL) <> (h.{q} IS NULL) OR "
                         f"abs(e.{q} - h.{q}) > 1e-9 * greatest(1, abs(h.{q}))")
        else:
            conds.append(f"e.{q} IS DISTINCT FROM h.{q}")
    differs = " OR ".join(f"({c})" for c in conds)
    n_e, n_h = (con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in (e, h))
    joined = f"FROM {e} e FULL JOIN {h} h ON e.{key} = h.{key}"
    bad = con.execute(f"SELECT count(*) {joined} WHERE e.{key} IS NULL OR h.{key} IS NULL OR {differs}").fetchone()[0]
    for row in con.execute(f"SELECT e.{key}, h.{key} {joined} WHERE e.{key} IS NULL OR h.{key} IS NULL "
                           f"OR {differs} LIMIT 5").fetchall():
        print(f"  differs: engine {row[0]} / hand {row[1]}")
    return bad + abs(n_e - n_h)


def add_backend_options(ap) -> None:
    """--backend and --spark-conf of a bench that times `tierwise run` (the hand SQL stays DuckDB)."""
    ap.add_argument("--backend", default="duckdb",
                    help="where tierwise evaluates: duckdb (default), spark (local mode), postgresql://USER@HOST:PORT/DB "
                         "(password from TIERWISE_PG_PASSWORD/PGPASSWORD), or postgresql alone: a throwaway "
                         "server started as the tests start one (tests/pg_server.py), stopped at the end")
    ap.add_argument("--spark-conf", action="append", default=[], metavar="KEY=VALUE",
                    help="passed to tierwise run as --spark-conf (repeatable)")
    ap.add_argument("--no-warm-up", dest="warm_up", action="store_false",
                    help="skip the untimed first run of each command (a slow backend's run takes minutes)")


def backend_args(args, stack: contextlib.ExitStack) -> tuple[list[str], str]:
    """(the `tierwise run` options choosing the backend, its name for the table). ``--backend postgresql``
    starts a throwaway server on a free port, stopped when ``stack`` closes."""
    spec = args.backend.strip()
    if spec.lower() in ("postgresql", "postgres"):
        sys.path.insert(0, str(HERE.parent / "tests"))
        from pg_server import postgres_server

        url = stack.enter_context(postgres_server())
        spec = url.replace("postgresql+psycopg://", "postgresql://", 1)
        print(f"throwaway PostgreSQL server: {spec}")
    name = "postgresql" if spec.lower().startswith("postgres") else spec.lower()
    options = [] if name == "duckdb" and not args.spark_conf else ["--backend", spec]
    for item in args.spark_conf:
        options += ["--spark-conf", item]
    return options, name


def tierwise_cli() -> str:
    import shutil

    return shutil.which("tierwise") or str(Path(sys.executable).with_name("tierwise"))


def race(commands: dict[str, list[str]], repeat: int, warm_up: bool = True) -> dict[str, list[tuple[float, float]]]:
    """Each command once to warm the page cache (unless not ``warm_up``), then ``repeat`` interleaved timed
    runs of each."""
    for cmd in commands.values() if warm_up else ():
        timed(cmd)
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, cmd in commands.items():
            results[name].append(timed(cmd))
    return results


def report(title: str, rows: int, results: dict[str, list[tuple[float, float]]], target: str) -> None:
    """The table of times and memory, and the ratios of the first command (tierwise) to the last (hand SQL)."""
    print(f"{title}: {rows:,} customers, {len(next(iter(results.values())))} runs each, {os.cpu_count()} cores")
    print(f"{'':24} {'min s':>8} {'median s':>9} {'rows/s (median)':>16} {'peak RSS MB':>12}")
    med, rss = {}, {}
    for name, runs in results.items():
        walls = [w for w, _ in runs]
        med[name], rss[name] = statistics.median(walls), max(r for _, r in runs)
        print(f"{name:24} {min(walls):8.2f} {med[name]:9.2f} {rows / med[name]:16,.0f} {rss[name]:12.0f}")
    ours, hand = list(results)[0], list(results)[-1]
    print(f"throughput ratio {ours} / {hand}: {med[hand] / med[ours]:.2f}; "
          f"peak RSS ratio: {rss[ours] / rss[hand]:.2f} ({target})")
