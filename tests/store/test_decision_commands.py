"""`tierwise override …`, `review …` and `audit` on a store with a recorded run."""
from __future__ import annotations

import re

from click.testing import CliRunner
from test_changes import rating, run

from tierwise.cli.main import cli
from tierwise.engine.store import Store
from tierwise.engine.store import decisions as D


def test_request_approve_list_revoke_and_audit(store_url):
    store = Store.open(store_url)
    store.record(run("q1", 0), [rating("KH1", "B", 80)])
    store.close()
    runner = CliRunner()

    def tw(*args: str):
        return runner.invoke(cli, [*args, "--db", store_url])

    wrong = tw("override", "request", "KH1", "--tier", "核心", "--reason", "战略", "--by", "李经理")
    assert wrong.exit_code == 1 and "ruleset 'R' has no tier '核心'; its tiers: A, B, C" in wrong.output
    out = tw("override", "request", "KH1", "--tier", "A", "--reason", "战略客户", "--by", "李经理",
             "--until", "2099年12月31日")
    assert out.exit_code == 0, out.output
    ov_id = re.search(r"OV-[0-9A-F]{8}", out.output).group(0)
    own = tw("override", "approve", ov_id, "--by", "李经理")
    assert own.exit_code == 1 and "a different person must approve it" in own.output
    assert tw("override", "approve", ov_id, "--by", "王总", "--note", "同意").exit_code == 0
    listed = tw("override", "list")
    assert ov_id in listed.output and "approved" in listed.output and "2099-12-31" in listed.output
    assert tw("override", "revoke", ov_id, "--by", "王总").exit_code == 0
    assert ov_id not in tw("override", "list").output and ov_id in tw("override", "list", "--all").output
    trail = tw("audit", "KH1")
    assert [a for a in ("override requested", "override approved", "override revoked") if a in trail.output] == [
        "override requested", "override approved", "override revoked"]


def test_review_list_and_resolve(store_url):
    store = Store.open(store_url)
    store.record(run("q1", 0), [rating("KH1", "B", 80)])
    with store.engine.begin() as conn:  # as a re-rating whose trigger fired opens it
        assert D.open_reviews(conn, "q1", [("KH1", "重大投诉")]) == 1
    item_id = D.reviews(store)[0].id
    store.close()
    runner = CliRunner()
    assert item_id in runner.invoke(cli, ["review", "list", "--db", store_url]).output
    done = runner.invoke(cli, ["review", "resolve", item_id, "--by", "王总", "--note", "已回访", "--db", store_url])
    assert done.exit_code == 0, done.output
    assert "empty" in runner.invoke(cli, ["review", "list", "--db", store_url]).output
    again = runner.invoke(cli, ["review", "resolve", item_id, "--by", "王总", "--note", "x", "--db", store_url])
    assert again.exit_code == 1 and "resolved already" in again.output
