"""The delivering process killed with SIGKILL between a POST and its recording: the run and its outbox
rows are committed, nothing is lost, and `tierwise actions retry` completes the rest — the batch that was
in flight is sent again with the same keys (at-least-once), nothing delivered is sent twice otherwise."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from click.testing import CliRunner

from tierwise.cli.main import cli
from tierwise.engine.outbox import counts, items
from tierwise.engine.store import Store

SECRET_ENV = "TIERWISE_TEST_CRASH_SECRET"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


RULES = """\
ruleset "崩溃" version "1"
source customers = csv("c.csv") key 客户编号
points 1..10
indicator 年交易额 = customers.年交易额 weight 100% {{
  >= 100 -> 10
  else -> 2
}}
tier A when score >= 8
tier B otherwise
on tier A -> webhook(url: "http://127.0.0.1:{port}/hook", secret_env: "{env}", batch: 2, timeout: 5)
"""


class Receiver:
    """Records every POST; the ``kill_on``-th one (1-based) kills ``victim`` before it is answered."""

    def __init__(self, kill_on: int):
        self.port = free_port()
        self.kill_on = kill_on
        self.victim: subprocess.Popen | None = None
        self.posts: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.posts.append({"key": self.headers["Idempotency-Key"], "body": json.loads(body)})
                    n = len(receiver.posts)
                if n == receiver.kill_on and receiver.victim is not None:
                    receiver.victim.send_signal(signal.SIGKILL)  # sent, not yet recorded as delivered
                    receiver.victim.wait()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_delivery_killed_between_post_and_recording_loses_nothing(store_url, tmp_path, monkeypatch):
    receiver = Receiver(kill_on=2)
    try:
        rules = tmp_path / "r.tier"
        rules.write_text(RULES.format(port=receiver.port, env=SECRET_ENV), encoding="utf-8")
        (tmp_path / "c.csv").write_text("客户编号,年交易额\n" + "".join(f"K{i},{100 + i}\n" for i in range(7)),
                                        encoding="utf-8")
        env = {**os.environ, SECRET_ENV: "crash-secret"}
        receiver.victim = subprocess.Popen([sys.executable, "-c", "from tierwise.cli.main import main; main()",
                                            "run", str(rules), "--db", store_url], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        receiver.victim.wait(timeout=300)
        assert receiver.victim.returncode == -signal.SIGKILL
        store = Store.open(store_url)
        [run] = store.runs()
        assert run.status == "complete" and run.rows == 7  # the ratings and the outbox were committed first
        assert counts(store) == {"delivered": 2, "pending": 5}  # the first POST recorded, the second in flight
        store.close()

        monkeypatch.setenv(SECRET_ENV, "crash-secret")
        out = CliRunner().invoke(cli, ["actions", "retry", "--db", store_url])
        assert out.exit_code == 0, out.output
        store = Store.open(store_url)
        assert counts(store) == {"delivered": 7}
        assert {r.customer for r in items(store)} == {f"K{i}" for i in range(7)}
        store.close()
    finally:
        receiver.close()
    # every delivery arrived; the only key that arrived twice is the batch that was in flight, sent again
    # with the same Idempotency-Key and the same deliveries
    seen: dict[str, list[str]] = {}
    for post in receiver.posts:
        seen.setdefault(post["key"], []).append(json.dumps([d["idempotency_key"] for d in post["body"]["deliveries"]]))
    arrived = {d["customer"] for p in receiver.posts for d in p["body"]["deliveries"]}
    assert arrived == {f"K{i}" for i in range(7)}
    twice = {k: v for k, v in seen.items() if len(v) > 1}
    assert len(twice) == 1 and len(set(next(iter(twice.values())))) == 1
    assert receiver.posts[1]["key"] in twice
