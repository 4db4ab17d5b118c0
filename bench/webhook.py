"""Benchmark: deliveries/s of the webhook action handler to a loopback receiver, by batch size.

    python bench/webhook.py [--items 100000] [--items-batch1 10000] [--batches 1,100,1000] [--repeat 3]

The receiver is another process (http.server's ThreadingHTTPServer, HTTP/1.1 keep-alive) that reads each
POST, parses its JSON, counts the deliveries and answers 200. Side by side, interleaved, in this run:

- handler: ``WebhookAction().deliver`` of the items, handed over as the outbox does (engine/deliver.py
  ``handle``: ``batch`` items per call, one ActionContext for the pass): JSON body per POST, batch key,
  HMAC signature, retry bookkeeping, the connection kept alive across the calls;
- urllib: the same bodies (encoded beforehand) POSTed with bare ``urllib.request.urlopen``, no signing,
  no retry (a new connection per POST, as urllib does);
- http.client: the same bodies over one kept-alive ``http.client`` connection, no signing, no retry
  (the handler's transport alone: what the handler adds on top of it).

Every run must deliver every item exactly once (the receiver's count is checked). Each of the three goes
first in turn. Prints deliveries/s (median) and the ratios handler / baseline.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET_ENV = "TIERWISE_BENCH_WEBHOOK_SECRET"


def serve(port: int) -> None:
    """The receiver (run with --serve PORT): GET /count answers the deliveries received since the last
    GET /count."""
    count = [0]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _answer(self, data: bytes = b"") -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            n = len(json.loads(body)["deliveries"])
            with lock:
                count[0] += n
            self._answer()

        def do_GET(self):
            with lock:
                n, count[0] = count[0], 0
            self._answer(str(n).encode())

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print("ready", flush=True)
    server.serve_forever()


def received(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/count", timeout=10) as resp:
        return int(resp.read())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--items-batch1", type=int, default=10_000, help="items for batch 1 (one POST each)")
    ap.add_argument("--batches", default="1,100,1000")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve)
        return

    from tierwise.engine.plugin_api import ActionBatch, ActionContext, ActionItem
    from tierwise.plugins.webhook import WebhookAction, WebhookOptions, body_of

    os.environ[SECRET_ENV] = "bench-secret-" + "x" * 32
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    receiver = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert receiver.stdout.readline().strip() == "ready"
        url = f"http://127.0.0.1:{port}/hook"
        rows = []
        for size in [int(b) for b in args.batches.split(",")]:
            n = args.items_batch1 if size == 1 else args.items
            items = [ActionItem(f"客户{i:07d}", "A", 85.0 + (i % 1000) / 100, "enter A",
                                f"run-bench:客户{i:07d}:webhook:enter A", previous_tier="B") for i in range(n)]
            opts = WebhookOptions(url=url, secret_env=SECRET_ENV, batch=size, timeout=30)
            log: list[str] = []

            def handler():
                context = ActionContext()  # one delivery pass
                for i in range(0, n, size):
                    res = WebhookAction().deliver(ActionBatch("run-bench", "bench", "webhook", opts,
                                                              items[i:i + size], log.append, context))
                    assert all(r.ok for r in res), [r.detail for r in res if not r.ok][:3]

            class _B:  # what body_of reads of a batch
                run_id, ruleset, action = "run-bench", "bench", "webhook"

            bodies = [body_of(_B, items[i:i + size]) for i in range(0, n, size)]
            headers = {"Content-Type": "application/json"}

            def bare_urllib():
                for body in bodies:
                    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
                    with urllib.request.urlopen(req, timeout=30) as resp:
                        resp.read()

            def bare_http_client():
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                for body in bodies:
                    conn.request("POST", "/hook", body=body, headers=headers)
                    conn.getresponse().read()
                conn.close()

            times: dict[str, list[float]] = {"handler": [], "urllib": [], "http.client": []}
            variants = [("handler", handler), ("urllib", bare_urllib), ("http.client", bare_http_client)]
            for r in range(args.repeat):
                for name, fn in variants[r % 3:] + variants[:r % 3]:  # each goes first in turn
                    start = time.perf_counter()
                    fn()
                    times[name].append(time.perf_counter() - start)
                    got = received(port)
                    if got != n:
                        sys.exit(f"{name}, batch {size}: the receiver counted {got} deliveries of {n}")
            med = {k: statistics.median(v) for k, v in times.items()}
            rows.append((size, n, len(bodies), {k: n / v for k, v in med.items()}))
            print(f"batch {size:>5}: {n} items in {len(bodies)} POSTs — "
                  + ", ".join(f"{k} {n / v:,.0f}/s" for k, v in med.items()), flush=True)
        print()
        print("| batch | items | POSTs | handler deliveries/s | urllib deliveries/s | http.client deliveries/s "
              "| handler / urllib | handler / http.client |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for size, n, posts, rate in rows:
            print(f"| {size} | {n} | {posts} | {rate['handler']:,.0f} | {rate['urllib']:,.0f} | "
                  f"{rate['http.client']:,.0f} | {rate['handler'] / rate['urllib']:.2f} | "
                  f"{rate['handler'] / rate['http.client']:.2f} |")
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)


if __name__ == "__main__":
    main()
