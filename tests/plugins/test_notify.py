"""notify(channel): the channel in tierwise.toml decides where the batch goes — the registry's webhook handler
(a plugin like any other), an export file or the run's log — with the options the file gives it."""
from __future__ import annotations

import csv
import types

from action_helpers import deliver, item
from pydantic import Field

from tierwise.engine.hookspecs import hookimpl
from tierwise.engine.plugin_api import DELIVERED, FAILED, ActionHandler, DeliveryResult, PluginOptions
from tierwise.engine.plugin_manager import build_registry, new_plugin_manager
from tierwise.engine.settings import parse_settings, read_settings

TOML = '''[channels.sales]
kind = "webhook"
url = "https://crm.example.com/hooks/tierwise"
secret_env = "SALES_SECRET"
batch = 2

[channels.risk]
kind = "export"
path = "alerts/risk.csv"

[channels.audit]
kind = "log"
message = "评级变化"
'''


class HookOptions(PluginOptions):
    url: str
    secret_env: str | None = None
    timeout: float = 10.0
    batch: int = Field(100, gt=0, le=1000)


class RecordingWebhook(ActionHandler):
    """Stands for the webhook handler: a plugin that keeps what it was handed."""

    name = "webhook"
    Options = HookOptions
    seen: list = []

    def deliver(self, batch):
        RecordingWebhook.seen.append((batch.options, [i.customer for i in batch.items], batch.action, batch.run_id))
        return [DeliveryResult(i.idempotency_key) for i in batch.items]


def with_webhook():
    pm = new_plugin_manager(load_entry_points=False)
    pm.register(types.SimpleNamespace(tierwise_register_actions=hookimpl(lambda: [RecordingWebhook])),
                name="test-webhook")
    return build_registry(pm)


def settings_in(tmp_path):
    path = tmp_path / "conf" / "tierwise.toml"
    path.parent.mkdir()
    path.write_text(TOML, encoding="utf-8")
    return read_settings(path)


def test_a_webhook_channel_hands_the_batch_to_the_webhook_handler_in_its_batches(tmp_path):
    RecordingWebhook.seen = []
    items = [item(f"K{n}", "A", 90.0, "enter A") for n in range(5)]
    results = deliver("notify", {"channel": "sales"}, items, settings=settings_in(tmp_path), registry=with_webhook())
    assert {r.status for r in results} == {DELIVERED}
    assert [customers for _, customers, _, _ in RecordingWebhook.seen] == [["K0", "K1"], ["K2", "K3"], ["K4"]]
    options = RecordingWebhook.seen[0][0]
    assert (options.url, options.secret_env, options.timeout, options.batch) == (
        "https://crm.example.com/hooks/tierwise", "SALES_SECRET", 10.0, 2)  # unset: the handler's default
    assert RecordingWebhook.seen[0][2:] == ("notify", "run-1")


def test_an_export_channel_writes_beside_the_settings_file(tmp_path):
    results = deliver("notify", {"channel": "risk"}, [item("K1", "C", 40.0, "downgrade", previous="B")],
                      settings=settings_in(tmp_path), base_dir=tmp_path / "rules")
    assert results[0].status == DELIVERED
    with open(tmp_path / "conf" / "alerts" / "risk.csv", encoding="utf-8-sig") as fh:
        [row] = list(csv.DictReader(fh))
    assert (row["customer"], row["tier"], row["previous_tier"], row["reason"]) == ("K1", "C", "B", "downgrade")


def test_a_log_channel_writes_the_run_log(tmp_path):
    log: list[str] = []
    deliver("notify", {"channel": "audit"}, [item("K1", "B", 70.0, "downgrade")], settings=settings_in(tmp_path),
            log=log)
    assert log == ["action=log customer=K1 tier=B reason='downgrade' message='评级变化' key=run-1:on.act:K1"]


def test_an_unknown_channel_or_a_missing_handler_fails_the_delivery(tmp_path):
    settings = settings_in(tmp_path)
    [r] = deliver("notify", {"channel": "salse"}, [item("K1", "A")], settings=settings)
    assert r.status == FAILED and "no channel 'salse' in tierwise.toml" in r.detail
    pm = new_plugin_manager(load_entry_points=False)
    pm.unregister(name="tierwise.plugins.webhook")
    without = build_registry(pm)  # where no webhook handler is installed: said, not guessed
    assert "webhook" not in without.actions
    [r] = deliver("notify", {"channel": "sales"}, [item("K1", "A")], settings=settings, registry=without)
    assert r.status == FAILED and "channel 'sales' is a webhook, and no plugin provides action 'webhook'" in r.detail


def test_check_asks_the_handler_about_the_channels_options():
    from tierwise.plugins.notify import NotifyAction, NotifyOptions

    good = parse_settings('[channels.sales]\nkind = "webhook"\nurl = "https://h/x"\nbatch = 1\n')
    assert NotifyAction.check_settings(NotifyOptions(channel="sales"), good, with_webhook()) == []
    bad = parse_settings('[channels.sales]\nkind = "webhook"\nurl = "https://h/x"\nbatch = 5000\n')
    [p] = NotifyAction.check_settings(NotifyOptions(channel="sales"), bad, with_webhook())
    assert p.message == ("channel 'sales' in tierwise.toml: webhook refuses batch: Input should be less than or "
                         "equal to 1000") and p.option == "channel"
    no_url = parse_settings('[channels.sales]\nkind = "log"\n')
    assert NotifyAction.check_settings(NotifyOptions(channel="sales"), no_url, with_webhook()) == []
    strict = types.SimpleNamespace(actions={"log": RecordingWebhook})  # a log handler that needs a url
    [p] = NotifyAction.check_settings(NotifyOptions(channel="sales"), no_url, strict)
    assert (p.message, p.hint) == ("channel 'sales' in tierwise.toml: log needs url", "set url under [channels.sales]")
    problems = NotifyAction.check_settings(NotifyOptions(channel="sale"), bad, with_webhook())
    assert [(p.message, p.option, p.hint) for p in problems] == [
        ("no channel 'sale' in tierwise.toml", "channel", "did you mean 'sales'?")]


def test_a_webhook_channel_through_the_real_webhook_handler_signed_with_the_secret_it_names(monkeypatch):
    import hashlib
    import hmac
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    got = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            sig = dict(p.split("=", 1) for p in self.headers["X-Tierwise-Signature"].split(","))
            mac = hmac.new(b"s3cret-value", f"{sig['t']}.".encode() + body, hashlib.sha256).hexdigest()
            got.append((self.headers["Idempotency-Key"], hmac.compare_digest(mac, sig["v1"]), json.loads(body)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("SALES_SECRET", "s3cret-value")
        settings = parse_settings(f'[channels.sales]\nkind = "webhook"\nurl = "http://127.0.0.1:'
                                  f'{server.server_address[1]}/hook"\nsecret_env = "SALES_SECRET"\nbatch = 2\n')
        results = deliver("notify", {"channel": "sales"}, [item(f"K{n}", "A", 90.0, "enter A") for n in range(5)],
                          settings=settings)
    finally:
        server.shutdown()
        server.server_close()
    assert {r.status for r in results} == {DELIVERED}
    assert [[d["customer"] for d in body["deliveries"]] for _, _, body in got] == [["K0", "K1"], ["K2", "K3"], ["K4"]]
    assert all(ok for _, ok, _ in got) and len({key for key, _, _ in got}) == 3
    assert "s3cret-value" not in json.dumps([body for _, _, body in got])
