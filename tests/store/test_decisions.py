"""Overrides need a requester and a different approver; every change is an audit event; the review list."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from test_changes import run

from tierwise.engine.store import Store
from tierwise.engine.store import decisions as D
from tierwise.engine.store.decisions import DecisionError


def test_an_override_is_requested_approved_by_someone_else_and_then_applies(store_url):
    store = Store.open(store_url)
    ov = D.request_override(store, "R", "K1", "A", "战略客户，董事会决议", by="李经理")
    assert ov.status == "requested" and ov.id.startswith("OV-")
    assert D.active_overrides(store, "R", date.today()) == []  # not before approval
    with pytest.raises(DecisionError, match="a different person must approve it"):
        D.approve_override(store, ov.id, by="李经理")
    with pytest.raises(DecisionError, match="a different person"):
        D.approve_override(store, ov.id, by=" 李经理 ".strip().upper())  # the same name, however typed
    D.approve_override(store, ov.id.lower(), by="王总", note="同意")
    [active] = D.active_overrides(store, "R", date.today())
    assert (active.id, active.customer, active.tier) == (ov.id, "K1", "A")
    assert D.active_overrides(store, "other ruleset", date.today()) == []
    with pytest.raises(DecisionError, match="is approved; only a requested override can be approved"):
        D.approve_override(store, ov.id, by="赵总")
    D.revoke_override(store, ov.id, by="王总", note="合同终止")
    assert D.active_overrides(store, "R", date.today()) == []
    assert [(e.action, e.actor) for e in D.audit_events(store, "K1")] == [
        ("override requested", "李经理"), ("override approved", "王总"), ("override revoked", "王总")]
    store.close()


def test_until_ends_an_override_and_the_latest_approved_wins(store_url):
    store = Store.open(store_url)
    soon = date.today() + timedelta(days=10)
    a = D.request_override(store, "R", "K1", "B", "临时下调", by="甲", until=soon)
    b = D.request_override(store, "R", "K1", "A", "恢复", by="甲")
    D.approve_override(store, a.id, by="乙")
    D.approve_override(store, b.id, by="乙")
    assert [o.tier for o in D.active_overrides(store, "R", date.today())] == ["A"]
    D.revoke_override(store, b.id, by="乙")
    assert [o.tier for o in D.active_overrides(store, "R", soon)] == ["B"]  # through its until day
    assert D.active_overrides(store, "R", soon + timedelta(days=1)) == []
    rejected = D.request_override(store, "R", "K2", "D", "x", by="甲")
    D.reject_override(store, rejected.id, by="乙", note="依据不足")
    assert [o.status for o in D.overrides(store, customer="K2")] == ["rejected"]
    with pytest.raises(DecisionError, match="no override OV-NOPE"):
        D.approve_override(store, "OV-NOPE", by="乙")
    with pytest.raises(DecisionError, match="needs a reason"):
        D.request_override(store, "R", "K3", "A", "  ", by="甲")
    with pytest.raises(DecisionError, match="in the past"):
        D.request_override(store, "R", "K3", "A", "x", by="甲", until=date.today() - timedelta(days=1))
    store.close()


def test_the_review_list(store_url):
    store = Store.open(store_url)
    store.record(run("r1", 0), [])
    with store.engine.begin() as conn:
        assert D.open_reviews(conn, "r1", [("K1", "重大投诉")]) == 1
    item_id = D.reviews(store)[0].id
    assert [(i.customer, i.trigger) for i in D.reviews(store)] == [("K1", "重大投诉")]
    with pytest.raises(DecisionError, match="needs who"):
        D.resolve_review(store, item_id, by="王总", note="")
    D.resolve_review(store, item_id, by="王总", note="已电话回访")
    assert D.reviews(store) == [] and [i.note for i in D.reviews(store, None)] == ["已电话回访"]
    with pytest.raises(DecisionError, match="resolved already"):
        D.resolve_review(store, item_id, by="王总", note="again")
    assert [e.action for e in D.audit_events(store, "K1")] == ["review opened", "review resolved"]
    store.close()


def test_a_store_made_by_the_first_migration_upgrades_and_keeps_its_history(store_url):
    store = Store.__new__(Store)
    import sqlalchemy as sa

    store.engine = sa.create_engine(store_url.replace("postgresql://", "postgresql+psycopg://"))
    store.upgrade("0001")
    with store.engine.connect() as conn:
        assert "override" not in sa.inspect(conn).get_table_names()
    store.record(run("old-run", 0), [{"customer": "K1", "score": 88.0, "final_tier": "B"}])
    store.close()
    upgraded = Store.open(store_url)  # to head
    assert [(r.id, g.final_tier, g.score) for r, g in upgraded.history("K1")] == [("old-run", "B", 88.0)]
    ov = D.request_override(upgraded, "R", "K1", "A", "x", by="甲")
    assert D.overrides(upgraded)[0].id == ov.id
    upgraded.close()


def test_a_decision_can_name_the_customer_instead_of_the_id(store_url):
    store = Store.open(store_url)
    store.record(run("r1", 0), [])
    a = D.request_override(store, "R", "K1", "A", "战略客户", by="甲")
    assert D.approve_override(store, "K1", by="乙").id == a.id  # the customer's one requested override
    with pytest.raises(DecisionError, match="no override K1 \\(an id, or a customer with a requested override"):
        D.reject_override(store, "K1", by="乙")  # nothing requested any more
    assert D.revoke_override(store, "K1", by="乙").status == "revoked"
    D.request_override(store, "R", "K2", "A", "x", by="甲")
    D.request_override(store, "R", "K2", "B", "y", by="甲")
    with pytest.raises(DecisionError, match="customer K2 has 2 requested overrides \\(OV-.*\\): give the id"):
        D.approve_override(store, "K2", by="乙")
    with store.engine.begin() as conn:
        D.open_reviews(conn, "r1", [("K3", "重大投诉"), ("K4", "重大投诉"), ("K4", "交易额下滑")])
    assert D.resolve_review(store, "K3", by="王总", note="已回访").customer == "K3"
    with pytest.raises(DecisionError, match="customer K4 has 2 open review items"):
        D.resolve_review(store, "K4", by="王总", note="x")
    with pytest.raises(DecisionError, match="no review item K3"):
        D.resolve_review(store, "K3", by="王总", note="again")
    store.close()
