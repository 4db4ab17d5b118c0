"""Benchmark: deliveries through the outbox to a loopback webhook receiver, by batch size.

    python bench/outbox.py [--items 100000] [--batches 100,1000] [--repeat 2]

For each batch size, in a throwaway SQLite rating store: a run and its N outbox rows are written in one
transaction (engine.outbox.queue, as `tierwise run` does), then ``deliver_pending`` hands them to the
``webhook`` handler, which POSTs them to a receiver in another process (bench/webhook.py's), and records
each batch's results. Baseline in the same run: the webhook handler delivering the same items without the
store (what the outbox adds: reading pending rows, recording each batch's results). Prints queueing rows/s,
deliveries/s both ways and the ratio outbox / handler; every item must arrive exactly once.
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from webhook import SECRET_ENV, received

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--batches", default="100,1000")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()

    from tierwise.engine.deliver import Delivery
    from tierwise.engine.outbox import counts, deliver_pending, queue
    from tierwise.engine.plugin_api import ActionBatch, ActionContext
    from tierwise.engine.plugin_manager import default_registry
    from tierwise.engine.store import RunRecord, Store
    from tierwise.plugins.webhook import WebhookAction, WebhookOptions

    os.environ[SECRET_ENV] = "bench-secret-" + "x" * 32
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    receiver = subprocess.Popen([sys.executable, str(HERE / "webhook.py"), "--serve", str(port)],
                                stdout=subprocess.PIPE, text=True)
    registry = default_registry()
    n = args.items
    try:
        assert receiver.stdout.readline().strip() == "ready"
        url = f"http://127.0.0.1:{port}/hook"
        print(f"{n:,} deliveries, {args.repeat} runs each, SQLite store")
        print("| batch | queue rows/s | outbox deliveries/s | handler alone deliveries/s | outbox / handler |")
        print("|---:|---:|---:|---:|---:|")
        for size in [int(b) for b in args.batches.split(",")]:
            opts = WebhookOptions(url=url, secret_env=SECRET_ENV, batch=size, timeout=30)
            options = opts.model_dump_json()
            queued, through, alone = [], [], []
            for r in range(args.repeat):
                work = Path(tempfile.mkdtemp(prefix="tierwise-bench-outbox-"))
                store = Store.open(f"sqlite:///{work / 'tierwise.db'}")
                run_id = f"bench-{size}-{r}"
                ds = [Delivery(f"{run_id}:1.1:客户{i:07d}", run_id, f"客户{i:07d}", "webhook", "enter A", options,
                               "A", "B", 85.0 + (i % 1000) / 100) for i in range(n)]
                rec = RunRecord(id=run_id, kind="periodic", ruleset="bench", version=None, text_hash="-",
                                rule_text="", rule_file=str(work / "r.tier"), as_of=date(2026, 6, 30),
                                started_by="bench")
                t0 = time.perf_counter()
                store.record(rec, [], then=lambda conn, ds=ds: queue(conn, ds))
                queued.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                done = deliver_pending(store, registry, run_id)
                through.append(time.perf_counter() - t0)
                assert done.counts.get("delivered") == n and counts(store) == {"delivered": n}, done.counts
                assert received(port) == n
                store.close()
                items = [d.item() for d in ds]
                context = ActionContext()
                t0 = time.perf_counter()
                for i in range(0, n, size):
                    res = WebhookAction().deliver(ActionBatch(run_id, "bench", "webhook", opts, items[i:i + size],
                                                              lambda line: None, context))
                    assert all(x.ok for x in res)
                alone.append(time.perf_counter() - t0)
                assert received(port) == n
            q, o, h = (statistics.median(v) for v in (queued, through, alone))
            print(f"| {size} | {n / q:,.0f} | {n / o:,.0f} | {n / h:,.0f} | {h / o:.2f} |", flush=True)
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)


if __name__ == "__main__":
    main()
