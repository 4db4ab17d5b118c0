"""The action outbox: a run queues every (run, customer, action) with its ratings in one transaction,
delivers after the commit, and nothing is delivered twice; `actions list|retry|show`; an approved
override takes effect at once and causes its actions."""
from __future__ import annotations

import sqlalchemy as sa
from click.testing import CliRunner

from tierwise.cli.main import cli
from tierwise.engine.outbox import counts, items
from tierwise.engine.store import Store
from tierwise.engine.store.models import OutboxItem

RULES = """\
ruleset "动作" version "1"
source customers = csv("c.csv") key 客户编号
points 1..10
indicator 年交易额 = customers.年交易额 weight 100% {
  >= 100 -> 10
  >= 50  -> 6
  else -> 2
}
tier A when score >= 8
tier B when score >= 5
tier C otherwise
trigger 交易额下降 when change(年交易额) <= -30% -> rerate
on enter A -> log(message: "进入A")
on leave A -> log(message: "离开A")
on downgrade -> log(message: "降级")
on upgrade -> log(message: "升级")
on tier C -> log(message: "C")
on trigger 交易额下降 -> log(message: "下滑")
"""


def write(path, rows: dict[str, int]) -> None:
    path.write_text("客户编号,年交易额\n" + "".join(f"{k},{v}\n" for k, v in rows.items()), encoding="utf-8")


def fired(store: Store, run_id: str) -> set[tuple[str, str]]:
    return {(r.customer, r.rule) for r in items(store, run_id=run_id)}


def test_actions_fire_on_changes_against_the_last_rating(store_url, tmp_path):
    rules = tmp_path / "r.tier"
    rules.write_text(RULES, encoding="utf-8")
    runner = CliRunner()
    write(tmp_path / "c.csv", {"K1": 150, "K2": 60, "K3": 20})
    first = runner.invoke(cli, ["run", str(rules), "--db", store_url])
    assert first.exit_code == 0, first.output
    assert "actions: 2 delivered, 0 failed, 0 pending" in first.output
    store = Store.open(store_url)
    q1 = store.runs()[0].id
    # a first rating enters its tier
    assert fired(store, q1) == {("K1", "enter A"), ("K3", "tier C")}
    store.close()

    write(tmp_path / "c.csv", {"K1": 90, "K2": 120, "K3": 20})  # K1 A -> B (falls 40%), K2 B -> A
    second = runner.invoke(cli, ["run", str(rules), "--db", store_url])
    assert second.exit_code == 0, second.output
    store = Store.open(store_url)
    q2 = store.runs()[0].id
    assert fired(store, q2) == {("K1", "leave A"), ("K1", "downgrade"), ("K1", "trigger 交易额下降"),
                                ("K2", "enter A"), ("K2", "upgrade"), ("K3", "tier C")}
    row = next(r for r in items(store, run_id=q2) if r.rule == "leave A")
    assert (row.key, row.previous_tier, row.tier, row.status, row.attempts) == (f"{q2}:2.1:K1", "A", "B",
                                                                                 "delivered", 1)
    assert counts(store) == {"delivered": 8}
    store.close()

    # nothing pending: a retry sends nothing (and delivered rows are never sent again)
    again = runner.invoke(cli, ["actions", "retry", "--db", store_url])
    assert again.exit_code == 0 and "retried 0 deliveries" in again.output
    listed = runner.invoke(cli, ["actions", "list", "--db", store_url, "--out", str(tmp_path / "a.csv")])
    assert listed.exit_code == 0 and "8 delivered" in listed.output
    shown = runner.invoke(cli, ["actions", "show", f"{q2}:2.1:K1", "--db", store_url])
    assert shown.exit_code == 0 and "leave A" in shown.output and "离开A" in shown.output


def test_pending_deliveries_are_retried_with_their_keys(store_url, tmp_path):
    rules = tmp_path / "r.tier"
    rules.write_text(RULES, encoding="utf-8")
    runner = CliRunner()
    write(tmp_path / "c.csv", {"K1": 150, "K2": 20})
    assert runner.invoke(cli, ["run", str(rules), "--db", store_url]).exit_code == 0
    store = Store.open(store_url)
    run_id = store.runs()[0].id
    with store.engine.begin() as conn:  # as a crash between sending and recording leaves them
        conn.execute(sa.update(OutboxItem.__table__).values(status="pending"))
    store.close()
    out = runner.invoke(cli, ["actions", "retry", "--db", store_url])
    assert out.exit_code == 0, out.output
    assert "retried 2 deliveries: 2 delivered" in out.output
    assert f"key={run_id}:1.1:K1" in out.output  # the same idempotency key as the first time
    store = Store.open(store_url)
    assert {(r.status, r.attempts) for r in items(store)} == {("delivered", 2)}
    store.close()


def test_an_approved_override_is_a_rating_at_once_and_causes_its_actions(store_url, tmp_path):
    rules = tmp_path / "r.tier"
    rules.write_text(RULES, encoding="utf-8")
    runner = CliRunner()
    write(tmp_path / "c.csv", {"K1": 150, "K2": 60})
    assert runner.invoke(cli, ["run", str(rules), "--db", store_url]).exit_code == 0
    asked = runner.invoke(cli, ["override", "request", "K2", "--tier", "A", "--reason", "战略客户", "--by", "甲",
                                "--db", store_url])
    ov_id = asked.output.split()[1]
    ok = runner.invoke(cli, ["override", "approve", ov_id, "--by", "乙", "--db", store_url])
    assert ok.exit_code == 0, ok.output
    assert "K2 B → A" in ok.output and "actions: 2 delivered" in ok.output
    store = Store.open(store_url)
    newest = store.runs()[0]
    assert (newest.kind, newest.rows, newest.started_by) == ("override", 1, "乙")
    [(_, q1), (_, now)] = store.history("K2")
    assert (now.final_tier, now.computed_tier, now.reason, now.score) == ("A", "B", f"override {ov_id}", q1.score)
    assert fired(store, newest.id) == {("K2", "enter A"), ("K2", "upgrade")}
    store.close()
    # the next run keeps the override, and K2, already in A, does not enter it again
    assert runner.invoke(cli, ["run", str(rules), "--db", store_url]).exit_code == 0
    store = Store.open(store_url)
    assert fired(store, store.runs()[0].id) == set()
    store.close()
