"""Benchmark: persisting a run's ratings into the rating store, SQLite and PostgreSQL.

    python bench/store.py [--rows 1000000] [--repeat 3] [--stores sqlite,postgresql]

1. `generate.py` writes N customers for bench/scorecard.tier (bench/data/, git-ignored), and one run
   rates them (engine.run.run, the result Parquet a recorded `tierwise run` writes; not timed here:
   bench/run.py times runs).
2. Times, interleaved, each into a fresh store made by Store.open (same schema, indexes, pragmas):
   - tierwise: engine.record.record_step — what `tierwise run` does in its "recording" step: the
     ratings read from the run's result Parquet (engine/record.py), the run row and every rating
     written in one transaction by Store.record (engine/store/bulk.py);
   - the database's own fastest path for the same rows, already built in memory as tuples:
     sqlite3 `executemany` in one transaction; psycopg `COPY ... FROM STDIN` (write_row).
3. Checks both stores hold the same ratings (count, sums of score and of every text column's length),
   then prints min/median seconds, rows/s and the ratio baseline time / tierwise time.

PostgreSQL is a throwaway server started exactly as the tests start one (tests/pg_server.py: initdb
and pg_ctl on a free port, fsync off). Target (issue 8): < 5 s each for 1M ratings.
"""
from __future__ import annotations

import argparse
import os
import contextlib
import gc
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

from harness import HERE

ROOT = HERE.parent
AS_OF = date(2026, 6, 30)
RULES = HERE / "scorecard.tier"
CHECK = ("SELECT count(*), sum(score), count(DISTINCT final_tier), sum(length(customer)), sum(length(labels)), "
         "sum(length(segments)), sum(length(indicator_values)), sum(length(points)), sum(length(reason)) "
         "FROM rating WHERE run_id = '{run}'")


def data_file(rows: int) -> Path:
    data = HERE / "data" / f"customers_{rows}.parquet"
    if not data.exists():
        subprocess.run([sys.executable, str(HERE / "generate.py"), "--rows", str(rows), "--out", str(data)],
                       check=True)
    return data


def rated(rows: int):
    """(plan, the run's outcome) of one run over N customers."""
    from tierwise.dsl import read_rule_file
    from tierwise.engine.build import compile_text
    from tierwise.engine.plugin_manager import default_registry
    from tierwise.engine.run import run

    registry = default_registry()
    plan, _, _ = compile_text(read_rule_file(RULES), str(RULES), registry)
    start = time.perf_counter()
    outcome = run(plan, registry, RULES.parent, AS_OF, {"customers": str(data_file(rows))})
    print(f"rated {outcome.rows:,} customers in {time.perf_counter() - start:.2f} s (not part of the timings)")
    return plan, outcome


class Stores:
    """Fresh, migrated stores: SQLite files in a scratch folder; databases on one throwaway PostgreSQL."""

    def __init__(self, stack: contextlib.ExitStack, kinds: list[str]):
        self.scratch = Path(tempfile.mkdtemp(prefix="tierwise-bench-store-"))
        stack.callback(shutil.rmtree, self.scratch, True)
        self.server = None
        if "postgresql" in kinds:
            sys.path.insert(0, str(ROOT / "tests"))
            from pg_server import postgres_server

            self.server = stack.enter_context(postgres_server())

    def fresh(self, kind: str) -> str:
        """The SQLAlchemy URL of a new, empty store, brought up to date by Store.open."""
        import sqlalchemy as sa

        from tierwise.engine.store import Store

        name = f"store_{uuid.uuid4().hex[:12]}"
        if kind == "sqlite":
            url = f"sqlite:///{self.scratch / (name + '.db')}"
        else:
            admin = sa.create_engine(self.server, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            url = self.server.rsplit("/", 1)[0] + f"/{name}"
        Store.open(url).close()
        return url


def tierwise_path(url: str, plan, outcome) -> tuple[float, str]:
    """(seconds, run id) of the recording step of `tierwise run`, into the store at ``url``."""
    from tierwise.engine.record import Recording, record_step
    from tierwise.engine.store import Store

    store = Store.open(url)
    rec = Recording(store, RULES.read_text(encoding="utf-8"), str(RULES), "bench")
    run_id = str(uuid.uuid4())
    start = time.perf_counter()
    n = record_step(rec, plan, run_id, AS_OF, outcome.calibration, outcome.distribution, outcome.result_path)
    took = time.perf_counter() - start
    store.close()
    assert n == outcome.rows, (n, outcome.rows)
    return took, run_id


def run_row(run_id: str) -> tuple:
    return (run_id, "periodic", "bench", None, "h", "", str(RULES), AS_OF.isoformat(), "{}", "[]",
            "2026-06-30 00:00:00+00:00", None, "running", "bench", 0, "{}", None)


RUN_COLUMNS = ("id, kind, ruleset, version, text_hash, rule_text, rule_file, as_of, calibration, sources, "
               "started_at, finished_at, status, started_by, rows, tier_counts, error")
RATING_COLUMNS = ("run_id", "customer", "score", "computed_tier", "final_tier", "labels", "segments",
                  "indicator_values", "points", "reason")


def baseline(kind: str, url: str, rows: list[tuple]) -> tuple[float, str]:
    """(seconds, run id) of the database's own bulk path for the same rows, prepared as tuples: the
    run row, the ratings, the run marked complete, in one transaction."""
    run_id = rows[0][0]
    cols = ", ".join(RATING_COLUMNS)
    if kind == "sqlite":
        from tierwise.engine.store.store import _sqlite_pragmas

        con = sqlite3.connect(url.removeprefix("sqlite:///"))
        _sqlite_pragmas(con, None)  # the store's own (WAL, ...)
        start = time.perf_counter()
        with con:
            con.execute(f"INSERT INTO run ({RUN_COLUMNS}) VALUES ({', '.join('?' * 17)})", run_row(run_id))
            con.executemany(f"INSERT INTO rating ({cols}) VALUES ({', '.join('?' * len(RATING_COLUMNS))})", rows)
            con.execute("UPDATE run SET status = 'complete', rows = ? WHERE id = ?", (len(rows), run_id))
        took = time.perf_counter() - start
        con.close()
        return took, run_id
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as con:
        start = time.perf_counter()
        with con.transaction(), con.cursor() as cur:
            cur.execute(f"INSERT INTO run ({RUN_COLUMNS}) VALUES ({', '.join(['%s'] * 17)})", run_row(run_id))
            with cur.copy(f"COPY rating ({cols}) FROM STDIN") as cp:
                for row in rows:
                    cp.write_row(row)
            cur.execute("UPDATE run SET status = 'complete', rows = %s WHERE id = %s", (len(rows), run_id))
        return time.perf_counter() - start, run_id


def fingerprint(url: str, run_id: str) -> tuple:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        got = tuple(conn.execute(sa.text(CHECK.format(run=run_id))).one())
    engine.dispose()
    return got[:1] + (round(got[1], 6),) + got[2:]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--stores", default="sqlite,postgresql")
    args = ap.parse_args()
    kinds = [k.strip() for k in args.stores.split(",") if k.strip()]
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start")
    plan, outcome = rated(args.rows)
    from tierwise.engine.record import rating_rows

    start = time.perf_counter()
    prepared = [("baseline", *(r[c] for c in RATING_COLUMNS[1:])) for r in rating_rows(plan, outcome.result_path)]
    print(f"baseline rows prepared as tuples in {time.perf_counter() - start:.2f} s (not timed below)")
    # the baseline's ten million objects are kept out of the garbage collector's scans, which the
    # tierwise path would otherwise pay for each time it allocates (a `tierwise run` has no such heap)
    gc.collect()
    gc.freeze()
    with contextlib.ExitStack() as stack:
        stores = Stores(stack, kinds)
        figures = {}
        for kind in kinds:
            times: dict[str, list[float]] = {"tierwise record step": [], "baseline": []}
            prints = set()
            for _ in range(args.repeat):
                url = stores.fresh(kind)
                took, run_id = tierwise_path(url, plan, outcome)
                times["tierwise record step"].append(took)
                prints.add(fingerprint(url, run_id))
                url = stores.fresh(kind)
                took, rid = baseline(kind, url, prepared)  # a fresh store each time: the same run id will do
                times["baseline"].append(took)
                prints.add(fingerprint(url, rid))
            if len(prints) != 1:
                sys.exit(f"{kind}: the stores differ: {sorted(prints)}")
            figures[kind] = times
            base = "sqlite3 executemany" if kind == "sqlite" else "psycopg COPY (write_row)"
            print(f"\n{kind}: {outcome.rows:,} ratings, {args.repeat} runs each (same rows stored: {prints.pop()[:2]})")
            print(f"  {'':34} {'min s':>7} {'median s':>9} {'rows/s (median)':>16}")
            med = {}
            for name, walls in times.items():
                med[name] = statistics.median(walls)
                label = name if name != "baseline" else f"baseline: {base}"
                print(f"  {label:34} {min(walls):7.2f} {med[name]:9.2f} {outcome.rows / med[name]:16,.0f}")
            print(f"  ratio baseline / tierwise: {med['baseline'] / med['tierwise record step']:.2f} "
                  f"(target: tierwise < 5 s); load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
