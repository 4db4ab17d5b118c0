"""assign_manager(pool): balanced by current load (ties by the pool's order), sticky, capacity respected,
released on leaving; recorded in the store; `tierwise managers` and `tierwise history` show it."""
from __future__ import annotations

import csv
import uuid

import pytest
import sqlalchemy as sa
from action_helpers import deliver, item, record_run
from click.testing import CliRunner

from tierwise.cli.main import cli
from tierwise.engine.plugin_api import DELIVERED, FAILED, PENDING
from tierwise.engine.settings import parse_settings
from tierwise.engine.store import Store
from tierwise.engine.store.managers import assignments, release_managers

TOML = '''[managers.KA]
managers = ["张三", "李四", "王五"]
capacity = { "王五" = 1 }

[managers.VIP]
managers = ["赵六"]
'''


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tierwise.db'}"
    else:
        server = request.getfixturevalue("postgres_url")
        name = f"store_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = server.rsplit("/", 1)[0] + f"/{name}"
    s = Store.open(url)
    s.url = url
    yield s
    s.close()


@pytest.fixture
def settings():
    return parse_settings(TOML)


def enter(*customers, run="run-1"):
    return [item(c, "A", 90.0, "enter A", run=run) for c in customers]


def leave(*customers, run="run-2"):
    return [item(c, "B", 70.0, "leave A", previous="A", run=run) for c in customers]


def held(store, pool="KA"):
    return {a.customer: a.manager for a in assignments(store, pool=pool)}


def test_balanced_by_load_ties_by_the_pools_order_and_capacity(store, settings):
    results = deliver("assign_manager", {"pool": "KA"}, enter("K1", "K2", "K3", "K4", "K5"), store=store,
                      settings=settings)
    assert [r.status for r in results] == [DELIVERED] * 5
    # 张三, 李四, 王五 one each (the pool's order on equal load), then 王五 is full (capacity 1)
    assert [r.detail for r in results] == ["张三", "李四", "王五", "张三", "李四"]
    # the next run: 李四 lost a customer, so the next newcomer goes to 李四 — the fewest now
    assert release_managers(store, "R", ["K2"], "run-2") == [("K2", "KA", "李四")]
    [r] = deliver("assign_manager", {"pool": "KA"}, enter("K6", run="run-2"), run="run-2", store=store,
                  settings=settings)
    assert r.detail == "李四"
    assert held(store) == {"K1": "张三", "K3": "王五", "K4": "张三", "K5": "李四", "K6": "李四"}


def test_the_load_counts_every_ruleset_of_the_pool(store, settings):
    deliver("assign_manager", {"pool": "KA"}, enter("X1", "X2"), ruleset="其他评级", store=store, settings=settings)
    [r] = deliver("assign_manager", {"pool": "KA"}, enter("K1"), store=store, settings=settings)
    assert r.detail == "王五"  # 张三 and 李四 hold one customer each of the other ruleset


def test_sticky_once_assigned_and_a_repeated_delivery_assigns_nothing(store, settings):
    first = deliver("assign_manager", {"pool": "KA"}, enter("K1", "K2"), store=store, settings=settings)
    again = deliver("assign_manager", {"pool": "KA"}, enter("K1", "K2"), store=store, settings=settings)
    assert [r.detail for r in first] == ["张三", "李四"] and [r.detail for r in again] == ["keeps 张三", "keeps 李四"]
    # on tier A every run: the customer keeps the manager, however the load moved since
    deliver("assign_manager", {"pool": "KA"}, enter("K3", "K4", run="run-2"), run="run-2", store=store,
            settings=settings)
    [r] = deliver("assign_manager", {"pool": "KA"}, [item("K2", "A", 91.0, "tier A", run="run-3")], run="run-3",
                  store=store, settings=settings)
    assert r.detail == "keeps 李四"
    assert len(assignments(store, active_only=False)) == 4


def test_released_when_the_customer_leaves_the_tier(store, settings):
    deliver("assign_manager", {"pool": "KA"}, enter("K1", "K2"), store=store, settings=settings)
    log: list[str] = []
    results = deliver("assign_manager", {"pool": "KA"}, leave("K1", "K9"), run="run-2", store=store,
                      settings=settings, log=log)
    assert [(r.status, r.detail) for r in results] == [(DELIVERED, "released 张三"), (DELIVERED, "held no manager of KA")]
    assert any("released=张三" in line for line in log)
    [gone] = [a for a in assignments(store, active_only=False) if a.customer == "K1"]
    assert gone.released_at is not None and gone.released_by_run == "run-2"
    assert held(store) == {"K2": "李四"}
    again = deliver("assign_manager", {"pool": "KA"}, leave("K1"), run="run-2", store=store, settings=settings)
    assert again[0].detail == "held no manager of KA"
    # a delivery of run-1's enter repeated after the release (a late retry) gives nothing back
    [late] = deliver("assign_manager", {"pool": "KA"}, enter("K1"), store=store, settings=settings)
    assert late.status == DELIVERED and held(store) == {"K2": "李四"}
    # entering again later: a new assignment, to the least loaded
    [back] = deliver("assign_manager", {"pool": "KA"}, enter("K1", run="run-3"), run="run-3", store=store,
                     settings=settings)
    assert back.detail == "张三"
    # release_managers is what a caller uses without a batch: every pool of the ruleset
    deliver("assign_manager", {"pool": "VIP"}, enter("K1", run="run-3"), run="run-3", store=store, settings=settings)
    assert release_managers(store, "R", ["K1", "K2"], "run-4") == [("K1", "KA", "张三"), ("K1", "VIP", "赵六"),
                                                                    ("K2", "KA", "李四")]
    assert release_managers(store, "R", ["K1", "K2"], "run-4") == []
    assert held(store) == {} and held(store, "VIP") == {}


def test_a_full_pool_leaves_the_delivery_pending(store, settings):
    deliver("assign_manager", {"pool": "VIP"}, enter("K1"), store=store, settings=settings)
    full = parse_settings('[managers.VIP]\nmanagers = ["赵六"]\ncapacity = 1\n')
    [r] = deliver("assign_manager", {"pool": "VIP"}, enter("K2"), store=store, settings=full)
    assert r.status == PENDING and "pool VIP is full" in r.detail and "tierwise actions retry" in r.detail
    assert held(store, "VIP") == {"K1": "赵六"}


def test_without_the_pool_or_the_store_the_delivery_fails(store, settings):
    [r] = deliver("assign_manager", {"pool": "KB"}, enter("K1"), store=store, settings=settings)
    assert r.status == FAILED and "no pool of managers 'KB'" in r.detail
    [r] = deliver("assign_manager", {"pool": "KA"}, enter("K1"), store=store, settings=None)
    assert r.status == FAILED
    [r] = deliver("assign_manager", {"pool": "KA"}, enter("K1"), settings=settings)
    assert r.status == FAILED and "rating store" in r.detail


def test_managers_and_history_show_the_assignments(store, settings, tmp_path, monkeypatch):
    record_run(store, "run-1aaaaaaaaaaa", {"K1": "A", "K2": "A", "K3": "B"}, minutes=0)
    deliver("assign_manager", {"pool": "KA"}, enter("K1", "K2", run="run-1aaaaaaaaaaa"), run="run-1aaaaaaaaaaa",
            store=store, settings=settings)
    record_run(store, "run-2bbbbbbbbbbb", {"K1": "B", "K2": "A", "K3": "B"}, minutes=10)
    deliver("assign_manager", {"pool": "KA"}, leave("K1", run="run-2bbbbbbbbbbb"), run="run-2bbbbbbbbbbb",
            store=store, settings=settings)
    (tmp_path / "tierwise.toml").write_text(TOML, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TIERWISE_SETTINGS", raising=False)
    runner = CliRunner()
    res = runner.invoke(cli, ["managers", "--db", store.url, "--out", str(tmp_path / "m.csv")])
    assert res.exit_code == 0, res.output
    with open(tmp_path / "m.csv", encoding="utf-8-sig") as fh:
        got = [(r["pool"], r["manager"], r["customers"], r["capacity"]) for r in csv.DictReader(fh)]
    # every manager of the settings, those without customers too, with their capacity
    assert got == [("KA", "张三", "0", ""), ("KA", "李四", "1", ""), ("KA", "王五", "0", "1"), ("VIP", "赵六", "0", "")]
    assert "李四" in res.output and "王五" in res.output
    res = runner.invoke(cli, ["managers", "--db", store.url, "--pool", "KA", "--customers"])
    assert res.exit_code == 0, res.output
    assert "K2" in res.output and "K1" not in res.output and "赵六" not in res.output
    res = runner.invoke(cli, ["managers", "--db", store.url, "--pool", "ka"])
    assert res.exit_code == 1 and "no pool 'ka' — did you mean 'KA'?" in res.output
    # history: the manager each rating left the customer with, and who holds them now
    res = runner.invoke(cli, ["history", "K1", "--db", store.url, "--out", str(tmp_path / "h.csv")])
    assert res.exit_code == 0, res.output
    with open(tmp_path / "h.csv", encoding="utf-8-sig") as fh:
        assert [(r["run"], r["final_tier"], r["manager"]) for r in csv.DictReader(fh)] == [
            ("run-1aaaaaaaaaaa", "A", "张三 (KA)"), ("run-2bbbbbbbbbbb", "B", "")]
    res = runner.invoke(cli, ["history", "K2", "--db", store.url])
    assert res.exit_code == 0 and "manager: 李四 (pool KA, R, since" in res.output
    res = runner.invoke(cli, ["history", "K3", "--db", store.url, "--out", str(tmp_path / "h3.csv")])
    with open(tmp_path / "h3.csv", encoding="utf-8-sig") as fh:
        assert "manager" not in next(csv.reader(fh))  # a customer never assigned: the table as it was
