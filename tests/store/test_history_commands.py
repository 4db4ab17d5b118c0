"""`tierwise runs`, `history CUSTOMER` and `changes` read the store; --out writes what they print."""
from __future__ import annotations

import csv

from click.testing import CliRunner
from test_changes import rating, run

from tierwise.cli.main import cli
from tierwise.engine.store import Store


def filled(url: str) -> None:
    store = Store.open(url)
    store.record(run("q1-aaaaaaaaaaaa", 0), [rating("K1", "A", 92, 年交易额=10), rating("K2", "B", 80, 年交易额=8)])
    store.record(run("q2-bbbbbbbbbbbb", 1), [rating("K1", "B", 85, 年交易额=8), rating("K2", "B", 81, 年交易额=8)])
    store.close()


def test_runs_history_and_changes(store_url, tmp_path):
    filled(store_url)
    runner = CliRunner()
    out = runner.invoke(cli, ["runs", "--db", store_url])
    assert out.exit_code == 0, out.output
    assert out.output.index("q2-bbbbbbbb") < out.output.index("q1-aaaaaaaa")  # newest first
    out = runner.invoke(cli, ["history", "K1", "--db", store_url, "--out", str(tmp_path / "h.csv")])
    assert out.exit_code == 0, out.output
    with open(tmp_path / "h.csv", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["run"], r["final_tier"], r["score"]) for r in rows] == [("q1-aaaaaaaaaaaa", "A", "92"),
                                                                       ("q2-bbbbbbbbbbbb", "B", "85")]
    out = runner.invoke(cli, ["changes", "--db", store_url, "--out", str(tmp_path / "c.csv")])
    assert out.exit_code == 0, out.output
    assert "1 of 2 customers moved" in out.output and "年交易额 10 → 8" in out.output
    with open(tmp_path / "c.csv", encoding="utf-8-sig") as fh:
        [mover] = list(csv.DictReader(fh))
    assert (mover["customer"], mover["tier_before"], mover["tier_after"]) == ("K1", "A", "B")
    out = runner.invoke(cli, ["changes", "q2", "q1", "--db", store_url])  # prefixes, either order
    assert out.exit_code == 0 and "1 of 2 customers moved" in out.output


def test_history_mistakes_are_one_message(store_url, tmp_path):
    runner = CliRunner()
    missing = runner.invoke(cli, ["runs", "--db", f"sqlite:///{tmp_path / 'none.db'}"])
    assert missing.exit_code == 1 and "no rating store at" in missing.output and "Traceback" not in missing.output
    filled(store_url)
    assert "no ratings of customer 'K9'" in runner.invoke(cli, ["history", "K9", "--db", store_url]).output
    bad = runner.invoke(cli, ["changes", "zz", "q1", "--db", store_url])
    assert bad.exit_code == 1 and "no run 'zz'" in bad.output
    assert runner.invoke(cli, ["changes", "q1", "--db", store_url]).exit_code == 2
