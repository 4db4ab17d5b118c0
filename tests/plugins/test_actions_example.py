"""shared/examples/actions.tier as written, with a tierwise.toml beside it: two runs through the outbox assign
managers to the customers entering A, notify the channels, and export the D customers."""
from __future__ import annotations

import csv
from pathlib import Path

from click.testing import CliRunner
from openpyxl import load_workbook

from tierwise.cli.main import cli

ACTIONS = Path(__file__).resolve().parents[1] / "shared_examples" / "actions.tier"
TOML = '''[managers.KA]
managers = ["张三", "李四"]

[channels.sales]
kind = "log"
message = "A 类客户变化"

[channels.risk]
kind = "export"
path = "alerts/risk.csv"
'''
HEADER = "客户编号,年交易额,回款及时率,合作年限,投诉次数,重大投诉"
FIRST = ["K1,6000000,0.97,10,0,0", "K2,6000000,0.97,12,0,0", "K3,6000000,0.97,11,0,0", "K4,2000000,0.85,5,1,0",
         "K5,500000,0.85,3,1,0", "K6,100000,0.6,1,3,0", "K7,100000,0.6,2,3,1"]
# K1 falls out of A (交易额下滑 fires too), K6 rises into A, K4 gets a 重大投诉
SECOND = ["K1,100000,0.6,10,3,0", "K2,6000000,0.97,12,0,0", "K3,6000000,0.97,11,0,0", "K4,2000000,0.85,5,1,1",
          "K5,500000,0.85,3,1,0", "K6,6000000,0.97,12,0,0", "K7,100000,0.6,2,3,1"]


def write(path: Path, rows: list[str]) -> None:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="gbk")


def run(tmp_path: Path, data: str, as_of: str, log: str):
    res = CliRunner().invoke(cli, ["run", str(tmp_path / "actions.tier"), "--source", f"customers={tmp_path / data}",
                                   "--as-of", as_of, "--log", str(tmp_path / log), "--by", "tester"])
    assert res.exit_code == 0, res.output
    return res.output, (tmp_path / log).read_text(encoding="utf-8").splitlines()


def test_the_actions_example_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.delenv("TIERWISE_SETTINGS", raising=False)
    monkeypatch.delenv("TIERWISE_DB", raising=False)
    (tmp_path / ".git").mkdir()
    (tmp_path / "actions.tier").write_text(ACTIONS.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "tierwise.toml").write_text(TOML, encoding="utf-8")
    write(tmp_path / "customers.csv", FIRST)
    write(tmp_path / "second.csv", SECOND)
    assert CliRunner().invoke(cli, ["check", str(tmp_path / "actions.tier")]).exit_code == 0

    out, log = run(tmp_path, "customers.csv", "2026-06-30", "run1.log")
    assert "0 failed, 0 pending" in out
    assigned = [line for line in log if line.startswith("action=assign_manager")]
    tier_a = sorted(line.split("customer=")[1].split()[0] for line in assigned)
    assert tier_a == ["K1", "K2", "K3"]  # a first rating enters its tier
    assert [line.split("manager=")[1].split()[0] for line in assigned] == ["张三", "李四", "张三"]  # balanced
    assert sum("action=log" in line and "reason='enter A'" in line for line in log) == 3  # notify(sales)
    d = load_workbook(tmp_path / "d_customers.xlsx", read_only=True)
    d_rows = list(d.worksheets[0].iter_rows(values_only=True))
    d.close()
    assert d_rows[0][:5] == ("customer", "tier", "previous_tier", "score", "reason")
    first_d = sorted(r[0] for r in d_rows[1:])
    assert first_d and all(r[1] == "D" for r in d_rows[1:])

    out, log = run(tmp_path, "second.csv", "2026-07-31", "run2.log")
    assert "0 failed, 0 pending" in out
    # K1 leaves A: `on enter A -> assign_manager` releases its manager (张三), so K6, entering A, gets the
    # least loaded of the pool: 张三 again (one customer, K3) before 李四 (K2)
    assert any(line.startswith("action=assign_manager customer=K1") and "released=张三" in line for line in log)
    assert any(line.startswith("action=assign_manager customer=K6") and "manager=张三" in line for line in log)
    assert any("customer=K1" in line and "reason='leave A'" in line for line in log)  # notify(sales) on leave
    with open(tmp_path / "alerts" / "risk.csv", encoding="utf-8-sig") as fh:
        risk = list(csv.DictReader(fh))  # notify(risk): downgrade and trigger 重大投诉
    assert ("K1", "downgrade") in {(r["customer"], r["reason"]) for r in risk}
    assert ("K4", "trigger 重大投诉") in {(r["customer"], r["reason"]) for r in risk}
    assert len({r["run"] for r in risk}) == 1  # the file holds the second run

    db = f"sqlite:///{tmp_path / 'tierwise.db'}"
    res = CliRunner().invoke(cli, ["managers", "--db", db, "--customers", "--settings", str(tmp_path / "tierwise.toml")])
    assert res.exit_code == 0, res.output
    assert "K6" in res.output and "K2" in res.output
    res = CliRunner().invoke(cli, ["history", "K2", "--db", db])
    assert res.exit_code == 0 and "李四 (KA)" in res.output
    # nothing is sent twice: a retry finds nothing pending
    res = CliRunner().invoke(cli, ["actions", "retry", "--db", db])
    assert res.exit_code == 0, res.output
