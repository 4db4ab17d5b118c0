"""The webhook action handler against a real HTTP receiver on loopback (http.server in a thread)."""
from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from tierwise.cli.main import cli
from tierwise.engine.plugin_api import ActionBatch, ActionContext, ActionItem
from tierwise.engine.plugin_manager import default_registry
from tierwise.plugins.webhook import WebhookAction, WebhookOptions, batch_key, body_of

SECRET = "s3cr3t-签名-value"
SECRET_ENV = "TIERWISE_TEST_WEBHOOK_SECRET"
TIMEOUT = 0.3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """A loopback webhook receiver. ``script`` is what it does with each request in turn (the last entry
    repeats): an HTTP status (an int, or a tuple (status, body, headers)), or "timeout": read and record
    the batch, then answer only after the sender's timeout has passed."""

    def __init__(self, script, port: int | None = None, chokes_on: str | None = None):
        self.script = list(script)
        self.chokes_on = chokes_on  # a request whose body has this text is answered 500, whatever the script
        self.port = port or free_port()
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/tierwise?site=测试"

    def start(self, delay: float = 0.0) -> None:
        """Listen (after ``delay`` seconds, from another thread: until then connections are refused)."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: the sender reuses its connection

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    step = receiver.script[min(len(receiver.requests), len(receiver.script) - 1)]
                    if receiver.chokes_on and receiver.chokes_on.encode() in body:
                        step = (500, "internal error", {})
                    receiver.requests.append({"at": time.monotonic(), "headers": dict(self.headers),
                                              "client": self.client_address,
                                              "body": body, "step": step, "path": self.path})
                if step == "timeout":
                    time.sleep(TIMEOUT * 3)
                    step = 200
                status, text, headers = step if isinstance(step, tuple) else (step, "", {})
                data = text.encode("utf-8")
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the sender gave up waiting (the "timeout" step)
                    pass

        def serve():
            if delay:
                time.sleep(delay)
            self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
            self.server.daemon_threads = True
            self.server.serve_forever(poll_interval=0.05)

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()
        if not delay:
            for _ in range(200):
                if self.server is not None:
                    break
                time.sleep(0.01)

    def stop(self) -> None:
        for _ in range(300):  # a delayed start may still be on its way
            if self.server is not None:
                break
            time.sleep(0.01)
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def keys(self, request: dict) -> list[str]:
        return [d["idempotency_key"] for d in json.loads(request["body"])["deliveries"]]


@pytest.fixture
def receivers():
    made: list[Receiver] = []

    def make(script, **kw):
        r = Receiver(script, **kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.stop()


@pytest.fixture
def secret(monkeypatch):
    monkeypatch.setenv(SECRET_ENV, SECRET)
    return SECRET


def items(n: int, run: str = "run-1") -> list[ActionItem]:
    return [ActionItem(f"客户{i:04d}", "A", 80.0 + i / 100, "enter A", f"{run}:客户{i:04d}:webhook:enter A",
                       previous_tier="B" if i % 2 else None) for i in range(n)]


def deliver(url: str, batch_items: list[ActionItem], log: list[str] | None = None, **options):
    opts = WebhookOptions(url=url, secret_env=options.pop("secret_env", SECRET_ENV), timeout=TIMEOUT, **options)
    log = [] if log is None else log
    return WebhookAction().deliver(ActionBatch("run-1", "客户评级", "webhook", opts, batch_items, log.append))


def verify(request: dict, secret: str, tolerance: float = 300) -> bool:
    """The receiver's check, as docs/webhooks.md has it."""
    header = request["headers"]["X-Tierwise-Signature"]
    parts = dict(p.split("=", 1) for p in header.split(","))
    t = int(parts["t"])
    expected = hmac.new(secret.encode("utf-8"), f"{t}.".encode() + request["body"], hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]) and abs(time.time() - t) <= tolerance


def test_a_flaky_receiver_gets_every_delivery_once_per_batch_key_and_nothing_stays_pending(receivers, secret):
    # refused (not listening yet), 500, a timeout after taking the batch, 429 Retry-After 1, then 200
    script = [(500, "busy", {}), "timeout", (429, "slow down", {"Retry-After": "1"}), 200]
    r = receivers(script)
    r.start(delay=0.4)
    sent = items(25)
    log: list[str] = []
    results = deliver(r.url, sent, log, batch=10, max_attempts=30, backoff=0.05, max_backoff=1)

    assert [x.idempotency_key for x in results] == [it.idempotency_key for it in sent]
    assert {x.status for x in results} == {"delivered"}, [x.detail for x in results if not x.ok]
    assert any("connection refused" in line for line in log), log  # it did start before the receiver
    steps = [q["step"] for q in r.requests]
    # batch 1 through all of it, then batches 2 and 3 (a 200 slower than the timeout on a loaded machine
    # would be sent again: more 200s, never anything else)
    assert steps[:4] == script and set(steps[4:]) == {200} and len(steps) >= 6
    assert {q["path"] for q in r.requests} == {"/hooks/tierwise?site=%E6%B5%8B%E8%AF%95"}

    # every delivery arrived with a 2xx answer
    answered = [q for q in r.requests if q["step"] == 200]
    assert sorted(k for q in answered for k in r.keys(q)) == sorted(it.idempotency_key for it in sent)
    # every key that arrived more than once came in a retry of the same batch: same Idempotency-Key, same body
    by_key: dict[str, list[dict]] = {}
    for q in r.requests:
        for k in r.keys(q):
            by_key.setdefault(k, []).append(q)
    repeated = {k: qs for k, qs in by_key.items() if len(qs) > 1}
    assert repeated, "the first batch is retried after 500, timeout and 429"
    for qs in repeated.values():
        assert len({q["headers"]["Idempotency-Key"] for q in qs}) == 1
        assert len({q["body"] for q in qs}) == 1
        assert qs[0]["headers"]["Idempotency-Key"] == batch_key(r.keys(qs[0]))
    # the batch the receiver took before timing out was the one it got again
    taken = next(q for q in r.requests if q["step"] == "timeout")
    assert len(by_key[r.keys(taken)[0]]) >= 4
    # Retry-After: 1 was waited out
    i429 = steps.index(script[2])
    assert r.requests[i429 + 1]["at"] - r.requests[i429]["at"] >= 0.95
    assert any("HTTP 429" in line and "retry in 1.00s" in line for line in log)
    # every signature verifies, and only with the secret
    assert all(verify(q, SECRET) for q in r.requests)
    assert not any(verify(q, SECRET + "x") for q in r.requests)
    # the body: UTF-8 JSON as it is (no \\u escapes), every field
    first = next(q for q in answered if sent[0].idempotency_key in r.keys(q))
    assert "客户0000".encode("utf-8") in first["body"]
    assert first["headers"]["Content-Type"] == "application/json"
    payload = json.loads(first["body"].decode("utf-8"))
    assert payload["run"] == "run-1" and payload["action"] == "webhook" and payload["ruleset"] == "客户评级"
    assert payload["deliveries"][1] == {"idempotency_key": "run-1:客户0001:webhook:enter A", "customer": "客户0001",
                                        "tier": "A", "previous_tier": "B", "score": 80.01, "reason": "enter A"}
    assert len(payload["deliveries"]) == 10
    assert "3 batch(es)" in log[-1] and "25 delivered, 0 failed, 0 pending" in log[-1]


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_a_passing_trouble_is_retried_with_the_same_batch(receivers, secret, status):
    r = receivers([(status, "later", {}), 200])
    r.start()
    results = deliver(r.url, items(3), batch=3, backoff=0.01)
    assert {x.status for x in results} == {"delivered"}
    assert [q["step"] for q in r.requests] == [(status, "later", {}), 200]
    assert r.requests[0]["body"] == r.requests[1]["body"]
    assert r.requests[0]["headers"]["Idempotency-Key"] == r.requests[1]["headers"]["Idempotency-Key"]


@pytest.mark.parametrize("status,answer,headers,expect", [
    (422, "字段 tier 不合法 " + "x" * 600, {}, "HTTP 422: 字段 tier 不合法 "),
    (401, "bad signature", {}, "HTTP 401: bad signature"),
    (301, "", {"Location": "https://elsewhere/"}, "HTTP 301 redirect to https://elsewhere/"),
])
def test_a_refusal_fails_for_good_with_the_receivers_answer_and_is_not_retried(receivers, secret, status, answer,
                                                                             headers, expect):
    r = receivers([(status, answer, headers)])
    r.start()
    results = deliver(r.url, items(5), batch=2, max_attempts=5, backoff=0.05)
    assert {x.status for x in results} == {"failed"}
    assert all(x.detail.startswith(expect) for x in results), results[0].detail
    if status == 422:
        assert results[0].detail == f"HTTP 422: {answer[:500]}"
    assert len(r.requests) == 3  # one POST per batch, none repeated


def test_retries_used_up_leave_the_items_pending_and_a_later_retry_sends_the_same_batch(receivers, secret):
    r = receivers([(503, "maintenance", {})])
    r.start()
    sent = items(6)
    log: list[str] = []
    results = deliver(r.url, sent, log, batch=3, max_attempts=3, backoff=0.01)
    assert {x.status for x in results} == {"pending"}
    assert results[0].detail == "not delivered after 3 attempt(s), last: HTTP 503: maintenance"
    # the receiver was unreachable for the first batch: the second was not sent to it at all
    assert results[3].detail.startswith("not sent: the receiver was unavailable for an earlier batch")
    assert len(r.requests) == 3
    first_key = r.requests[0]["headers"]["Idempotency-Key"]

    # `tierwise actions retry` hands the pending items over again: the same batches, the same keys
    r.script = [200]
    again = deliver(r.url, sent, batch=3)
    assert {x.status for x in again} == {"delivered"}
    assert r.requests[3]["headers"]["Idempotency-Key"] == first_key
    assert r.requests[3]["body"] == r.requests[0]["body"]


def test_a_batch_the_receiver_chokes_on_stays_pending_without_holding_back_the_others(receivers, secret):
    r = receivers([200], chokes_on="客户0004")
    r.start()
    results = deliver(r.url, items(9), batch=3, max_attempts=3, backoff=0.01)
    assert [x.status for x in results] == ["delivered"] * 3 + ["pending"] * 3 + ["delivered"] * 3
    assert results[3].detail == "not delivered after 3 attempt(s), last: HTTP 500: internal error"
    assert len(r.requests) == 5


def test_a_receiver_that_never_listens_leaves_everything_pending(receivers, secret):
    url = f"http://127.0.0.1:{free_port()}/hook"
    results = deliver(url, items(3), max_attempts=2, backoff=0.01)
    assert {x.status for x in results} == {"pending"}
    assert "connection refused" in results[0].detail


def test_a_missing_secret_sends_nothing_and_no_secret_shows_anywhere(receivers, monkeypatch):
    r = receivers([200])
    r.start()
    monkeypatch.delenv(SECRET_ENV, raising=False)
    log: list[str] = []
    results = deliver(r.url, items(4), log)
    assert {x.status for x in results} == {"pending"}
    assert all(SECRET_ENV in x.detail and "not set" in x.detail for x in results)
    assert r.requests == []

    # with the secret set and every kind of trouble, its value is in no detail and no log line
    monkeypatch.setenv(SECRET_ENV, SECRET)
    echo = receivers([(500, "", {}), (400, "", {})])
    echo.start()
    details, lines = [], []
    for url in (echo.url, f"http://127.0.0.1:{free_port()}/x"):
        details += [x.detail for x in deliver(url, items(4), lines, batch=2, max_attempts=2, backoff=0.01)]
    assert lines and details and all(x for x in details)
    assert not any(SECRET in s for s in details + lines)
    assert all(verify(q, SECRET) for q in echo.requests)


def test_the_webhook_is_registered_through_the_actions_hook():
    reg = default_registry()
    assert reg.actions["webhook"] is WebhookAction
    assert reg.provided_by[("actions", "webhook")] == "tierwise.plugins.webhook"


RULES = """source c = csv("c.csv") key id
indicator a = c.x weight 100%
tier A when score >= 5
tier B otherwise
"""


def check(tmp_path, *on_lines):
    path = tmp_path / "hooks.tier"
    path.write_text(RULES + "\n".join(on_lines) + "\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["check", str(path)], catch_exceptions=False)
    return res, [line for line in res.stderr.splitlines() if ": error: " in line]


def test_good_options_check_clean(tmp_path):
    res, errors = check(tmp_path, 'on tier A -> webhook("https://crm.example.com/hook", secret_env: "CRM_SECRET", '
                                  'timeout: 2.5, batch: 500, max_attempts: 8, max_backoff: 60)',
                        'on tier B -> webhook(url: env("TIERWISE_HOOK_URL_NOT_SET"), secret_env: "CRM_SECRET")')
    assert res.exit_code == 0 and not errors, res.stderr


@pytest.mark.parametrize("line,at,message", [
    ('on tier A -> webhook(url: "ftp://x", secret_env: "S")', "url", "must start with http:// or https://"),
    ('on tier A -> webhook(url: "https://", secret_env: "S")', "url", "has no host"),
    ('on tier A -> webhook(url: "https://u:pw@h/x", secret_env: "S")', "url", "a password in the webhook URL"),
    ('on tier A -> webhook(url: "https://h/x", secret_env: "hunter2!")', "secret_env",
     "NAME of an environment variable"),
    ('on tier A -> webhook(url: "https://h/x", secret_env: env("{SECRET_ENV}"))', "secret_env",
     "is the name of an environment"),
    ('on tier A -> webhook(url: "https://h/x", secret_env: "S", timeout: 0)', "timeout", "greater than 0"),
    ('on tier A -> webhook(url: "https://h/x", secret_env: "S", batch: 10001)', "batch", "less than or equal to 10000"),
    ('on tier A -> webhook(url: "https://h/x", secret_env: "S", batch: 0)', "batch", "greater than or equal to 1"),
    ('on tier A -> webhook(url: "https://h/x", secret_env: "S", retries: 3)', "retries", "has no option 'retries'"),
    ('on tier A -> webhook(secret_env: "S")', "webhook(", "needs option 'url'"),
])
def test_bad_options_are_errors_at_file_line_at_check_time(tmp_path, secret, line, at, message):
    line = line.replace("{SECRET_ENV}", SECRET_ENV)
    col = line.index(at) + 1
    res, errors = check(tmp_path, line)
    assert res.exit_code == 1
    assert len(errors) == 1, res.stderr
    assert errors[0].startswith(f"{tmp_path / 'hooks.tier'}:5:{col}: error: ") and message in errors[0], errors[0]
    assert "hunter2" not in res.stderr.replace(line, "")  # the value is shown in the quoted line only
    assert SECRET not in res.stderr + res.stdout  # env("VAR") of secret_env: the value is never shown


def test_the_receivers_check_in_docs_verifies_real_requests_and_rejects_tampered_or_stale_ones(
        receivers, secret, tmp_path):
    docs = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text(encoding="utf-8")
    snippet = re.search(r"## Verifying the signature.*?```python\n(.*?)```", docs, re.S).group(1)
    module_path = tmp_path / "receiver_check.py"
    module_path.write_text(snippet, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("receiver_check", module_path)
    doc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(doc)

    r = receivers([200])
    r.start()
    assert {x.status for x in deliver(r.url, items(7), batch=3)} == {"delivered"}
    assert len(r.requests) == 3
    for q in r.requests:
        header, body = q["headers"]["X-Tierwise-Signature"], q["body"]
        assert doc.verify(body, header, SECRET)
        assert not doc.verify(body.replace(b'"A"', b'"B"', 1), header, SECRET)
        assert not doc.verify(body, header, "another secret")
        assert not doc.verify(body, header, SECRET, now=time.time() + doc.TOLERANCE + 5)
        assert not doc.verify(body, "t=oops", SECRET)


def test_the_body_has_no_nan_and_keeps_customer_keys_as_they_are():
    class Batch:
        run_id, ruleset, action = "r", "规则", "webhook"

    body = body_of(Batch, [ActionItem(12, None, float("nan"), "tier D", "k1"),
                           ActionItem("K-2", "B", 70, "downgrade", "k2", previous_tier="A")])
    payload = json.loads(body)
    assert payload["deliveries"][0] == {"idempotency_key": "k1", "customer": 12, "tier": None, "previous_tier": None,
                                        "score": None, "reason": "tier D"}
    assert payload["deliveries"][1]["score"] == 70.0 and payload["deliveries"][1]["previous_tier"] == "A"
    assert b"NaN" not in body and "规则".encode() in body
    assert batch_key(["b", "a"]) == batch_key(["a", "b"]) == hashlib.sha256(b"a\nb").hexdigest()


def test_calls_of_one_delivery_pass_share_the_connection_and_the_receivers_unavailability(receivers, secret):
    # the outbox hands the handler one POST's worth of items per call, with one ActionContext per pass
    r = receivers([200])
    r.start()
    context = ActionContext()
    opts = WebhookOptions(url=r.url, secret_env=SECRET_ENV, timeout=TIMEOUT, batch=1, max_attempts=2, backoff=0.01,
                          max_backoff=5)
    log: list[str] = []
    for item in items(5):
        [res] = WebhookAction().deliver(ActionBatch("run-1", "客户评级", "webhook", opts, [item], log.append, context))
        assert res.ok
    assert len({q["client"] for q in r.requests}) == 1  # one kept-alive connection for the five calls
    assert log == []  # one POST delivered per call: nothing to say

    # a receiver found down: the pass's next calls leave their items pending without trying it again
    down = WebhookOptions(url=f"http://127.0.0.1:{free_port()}/hook", secret_env=SECRET_ENV, timeout=TIMEOUT,
                          batch=1, max_attempts=2, backoff=0.01, max_backoff=5)
    results = [WebhookAction().deliver(ActionBatch("run-1", "客户评级", "webhook", down, [item], log.append,
                                                   context))[0] for item in items(4)]
    assert [x.status for x in results] == ["pending"] * 4
    assert "connection refused" in results[0].detail
    assert all(x.detail.startswith("not sent: the receiver was unavailable for an earlier batch (not delivered "
                                   "after 2 attempt(s), last: connection refused") for x in results[1:])
    assert sum("attempt 1/2" in line for line in log) == 1 and sum("unsent" in line for line in log) == 1
    # another pass (a new context: `tierwise actions retry`) tries again at once
    [res] = WebhookAction().deliver(ActionBatch("run-1", "客户评级", "webhook", down, items(1), log.append))
    assert "connection refused" in res.detail


def test_through_the_outbox_a_run_leaves_deliveries_pending_and_actions_retry_sends_each_once(
        secret, tmp_path, receivers):
    port = free_port()
    (tmp_path / "c.csv").write_text("客户编号,年交易额\nK1,150\nK2,20\n客户3,120\n", encoding="utf-8")
    rules = tmp_path / "r.tier"
    rules.write_text('source c = csv("c.csv") key 客户编号\n'
                     'indicator a = c.年交易额 weight 100% {\n  >= 100 -> 10\n  else -> 2\n}\n'
                     'tier A when score >= 8\ntier B otherwise\n'
                     + f'on tier A -> webhook("http://127.0.0.1:{port}/hook", secret_env: "{SECRET_ENV}", '
                       f'timeout: {TIMEOUT}, batch: 1, max_attempts: 2, backoff: 0.01)\n', encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'tierwise.db'}"
    runner = CliRunner()
    ran = runner.invoke(cli, ["run", str(rules), "--db", db], catch_exceptions=False)
    assert ran.exit_code == 0, ran.output
    assert "actions: 0 delivered, 0 failed, 2 pending" in ran.output, ran.output
    assert SECRET not in ran.output

    r = receivers([200], port=port)
    r.start()
    retried = runner.invoke(cli, ["actions", "retry", "--db", db], catch_exceptions=False)
    assert retried.exit_code == 0 and "2 delivered" in retried.output, retried.output
    keys = sorted(k for q in r.requests for k in r.keys(q))
    assert len(keys) == 2 and len(set(keys)) == 2 and all(verify(q, SECRET) for q in r.requests)
    assert {json.loads(q["body"])["deliveries"][0]["customer"] for q in r.requests} == {"K1", "客户3"}
    again = runner.invoke(cli, ["actions", "retry", "--db", db], catch_exceptions=False)
    assert again.exit_code == 0 and "retried 0 deliveries" in again.output
    assert len(r.requests) == 2
