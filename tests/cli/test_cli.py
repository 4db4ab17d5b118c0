"""The tierwise CLI end to end on real files (GBK CSV, Parquet, Excel) through click's runner."""
import re
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from tierwise.cli.docs import render
from tierwise.cli.main import cli

from example_paths import ROOT, shared_example

SEED = shared_example("customer_rating.tier")

HEADER = ("客户编号,年交易额,客单价,利润贡献率,合作起始时间,续约率,投诉次数,售后咨询量,定制化需求频次,"
          "服务响应满意度,行业增长率,客户规模扩张速度,新产品采购意向,重大投诉")
ROWS = [
    "K1,6000000,60000,35%,2018-01-01,0.95,0,10,7,4.5,0.1,0.4,9,0",
    "K2,2000000,8000,0.12,2023-05-01,0.6,3,3,1,3.0,0.05,0.06,5,1",
    "K3,,30000,0.22,2021/03/15,N/A,1,5,4,4.0,0.2,0.16,abc,0",
    "K4,400000,3000,0.05,2025-12-01,0.3,8,0,0,2.0,-0.05,0.01,2,0",
]


@pytest.fixture
def gbk_csv(tmp_path):
    path = tmp_path / "客户导出.csv"
    path.write_bytes(("\r\n".join([HEADER, *ROWS]) + "\r\n").encode("gbk"))
    return path


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_check_accepts_the_reference_ruleset():
    res = invoke("check", SEED)
    assert res.exit_code == 0, res.stderr
    assert "✓" in res.stdout


def test_seed_example_scores_80_625_tier_b():
    res = invoke("test", SEED)
    assert res.exit_code == 0, res.stdout
    assert "PASS" in res.stdout and "score 80.625, tier B" in res.stdout
    assert "1 passed, 0 failed" in res.stdout


def test_a_failing_example_exits_1_and_shows_expected_and_got(tmp_path):
    text = SEED.read_text(encoding="utf-8").replace("expect score 80.625, tier B", "expect score 81, tier A")
    bad = tmp_path / "bad.tier"
    bad.write_text(text, encoding="utf-8")
    res = invoke("test", bad)
    assert res.exit_code == 1
    assert "score: expected 81 ± 1e-06, got 80.625" in res.stdout
    assert "tier: expected A, got B" in res.stdout


def test_check_reports_errors_with_position_and_caret(tmp_path):
    bad = tmp_path / "typo.tier"
    bad.write_text('source c = csv("c.csv") key id\nindicator 年交易额 = c.x weight 100%\n'
                   'tier A when 年交易 >= 5\ntier B otherwise\n', encoding="utf-8")
    res = invoke("check", bad)
    assert res.exit_code == 1
    assert f"{bad}:3:13: error: unknown name '年交易'" in res.stderr
    lines = res.stderr.splitlines()
    i = next(n for n, line in enumerate(lines) if line.startswith("  tier A when"))
    # caret under the name: "tier A when " is 12 columns wide
    assert lines[i + 1] == "  " + " " * 12 + "^" * 6
    assert "did you mean '年交易额'?" in res.stderr
    assert "Traceback" not in res.stderr + res.stdout


def test_full_width_punctuation_is_named(tmp_path):
    bad = tmp_path / "ime.tier"
    bad.write_text('source c = csv（"c.csv") key id\n', encoding="utf-8")
    res = invoke("check", bad)
    assert res.exit_code == 1
    assert "1:15: error: full-width '（' typed by a Chinese input method" in res.stderr
    assert "use the ASCII '(' instead of '（'" in res.stderr


def test_usage_errors_exit_2(tmp_path):
    assert invoke("check", tmp_path / "nope.tier").exit_code == 2
    assert invoke("run", SEED, "--as-of", "yesterday").exit_code == 2
    assert invoke("run", SEED, "--source", "nosuchformat").exit_code == 2


def test_run_rates_a_gbk_export_and_writes_every_format(tmp_path, gbk_csv):
    for suffix in (".csv", ".parquet", ".xlsx"):
        out = tmp_path / f"ratings{suffix}"
        res = invoke("run", SEED, "--source", f"customers={gbk_csv}", "--as-of", "2026-06-30", "--out", out)
        assert res.exit_code == 0, res.stderr
        assert out.exists()
    table = pq.read_table(tmp_path / "ratings.parquet").to_pylist()
    by_key = {r["客户编号"]: r for r in table}
    assert set(by_key) == {"K1", "K2", "K3", "K4"}
    k1 = by_key["K1"]
    assert k1["tier"] == "A"
    assert k1["利润贡献率"] == pytest.approx(0.35)  # "35%" in the file
    assert k1["年交易额.points"] == 10 and k1["交易价值"] == pytest.approx(10.0)
    k3 = by_key["K3"]
    assert k3["年交易额.points"] == 1  # missing -> points 1
    assert set(k3["missing"].split(",")) == {"年交易额", "续约率", "新产品采购意向"}
    wb = load_workbook(tmp_path / "ratings.xlsx", read_only=True)
    header = next(wb.active.iter_rows(values_only=True))
    assert header[:3] == ("客户编号", "综合得分", "等级")  # xlsx: the ruleset's language
    csv_text = (tmp_path / "ratings.csv").read_bytes()
    assert csv_text.decode("utf-8-sig").startswith('"客户编号","score","tier"')  # csv: the machine names
    assert csv_text.startswith(b"\xef\xbb\xbf")  # Excel opens UTF-8 with BOM correctly


def test_run_prints_distribution_and_data_problems(tmp_path, gbk_csv):
    res = invoke("run", SEED, "--source", f"customers={gbk_csv}", "--as-of", "2026-06-30")
    assert res.exit_code == 0, res.stderr
    assert "核心客户" in res.stdout and "10.0%..15.0%" in res.stdout
    assert "not a number (treated as missing) in customers.新产品采购意向" in res.stderr
    assert "K3: 'abc'" in res.stderr


def test_explain_shows_the_scorecard(gbk_csv):
    res = invoke("explain", SEED, "K2", "--source", f"customers={gbk_csv}", "--as-of", "2026-06-30")
    assert res.exit_code == 0, res.stderr
    out = res.stdout
    assert ">= 1000000 -> 5" in out  # the band that applied to 年交易额 2,000,000
    assert "scale minmax(min=0, max=10)" in out
    assert "more points to reach tier" in out
    missing = invoke("explain", SEED, "K9", "--source", f"customers={gbk_csv}", "--as-of", "2026-06-30")
    assert missing.exit_code == 1 and "no customer 'K9'" in missing.stderr


def test_cli_docs_are_generated_from_help():
    assert (ROOT / "docs" / "cli.md").read_text(encoding="utf-8") == render(), "run `make docs`"


def test_every_command_has_an_example():
    for name, cmd in cli.commands.items():
        assert "Example:" in (cmd.help or ""), name


def test_check_does_not_import_ibis_or_duckdb():
    code = ("import sys; from tierwise.cli.main import cli\n"
            "try:\n    cli(['check', %r])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('ibis', 'duckdb', 'pyarrow', 'pandas')))"
            % str(SEED))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


ACTIONS_TOML = """\
# beside actions.tier: the pool its assign_manager names and the channels its notify lines name
[managers.KA]
managers = ["张三", "李四", "王五"]
capacity = 40

[channels.sales]
kind = "{sales}"
{sales_options}

[channels.risk]
kind = "export"
path = "risk_alerts.xlsx"
"""
WEBHOOK = 'url = "https://crm.example.com/hooks/tierwise"\nsecret_env = "TIERWISE_SALES_SECRET"'


def test_the_actions_example_checks_clean_with_a_settings_file_beside_it(tmp_path):
    (tmp_path / ".git").mkdir()  # the search for tierwise.toml stops here
    copy = tmp_path / "actions.tier"
    copy.write_text(shared_example("actions.tier").read_text(encoding="utf-8"), encoding="utf-8")
    # every handler is there; what is missing is the settings file its pools and channels live in
    res = invoke("check", copy)
    assert res.exit_code == 1
    errors = [line for line in res.stderr.splitlines() if ": error: " in line]
    assert not [e for e in errors if "no plugin provides action" in e]
    assert len(errors) == 5 and all("reads tierwise.toml, and there is none for this file" in e for e in errors)
    toml = tmp_path / "tierwise.toml"
    toml.write_text(ACTIONS_TOML.format(sales="log", sales_options='message = "A 类客户变化"'), encoding="utf-8")
    res = invoke("check", copy)
    assert res.exit_code == 0, res.stderr
    # the sales channel as a webhook, as the example's comment says
    toml.write_text(ACTIONS_TOML.format(sales="webhook", sales_options=WEBHOOK), encoding="utf-8")
    res = invoke("check", copy)
    assert res.exit_code == 0, res.stderr
    # a webhook channel without what the webhook handler needs: at the two notify lines that name it
    toml.write_text(ACTIONS_TOML.format(sales="webhook", sales_options='url = "https://h/x"'), encoding="utf-8")
    errors = [line for line in invoke("check", copy).stderr.splitlines() if ": error: " in line]
    assert len(errors) == 2 and all("channel 'sales' in tierwise.toml: webhook needs secret_env" in e for e in errors)


def test_the_readme_ruleset_checks_clean_in_20_lines(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## A ruleset in 20 lines\n\n```\n(.*?)```", readme, re.S).group(1)
    assert len(block.strip().splitlines()) <= 20
    path = tmp_path / "readme.tier"
    path.write_text(block, encoding="utf-8")
    res = invoke("check", path)
    assert res.exit_code == 0 and not res.stderr, res.stderr


def test_check_takes_a_directory(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.tier").write_text('source c = csv("c.csv") key id\nindicator a = c.a weight 100%\n',
                                             encoding="utf-8")
    (tmp_path / "b.tier").write_text('source c = csv("c.csv") key id\nindicator a = c.a weight 90%\n',
                                     encoding="utf-8")
    res = CliRunner().invoke(cli, ["check", str(tmp_path)])
    assert res.exit_code == 1
    assert "✓" in res.output and "a.tier" in res.output and "b.tier:2:" in res.output
    (tmp_path / "empty").mkdir()
    assert CliRunner().invoke(cli, ["check", str(tmp_path / "empty")]).exit_code == 2


def test_test_shows_the_warnings_behind_a_surprising_example(tmp_path):
    rules = tmp_path / "r.tier"
    rules.write_text('source c = csv("c.csv") key id\npoints 1..10\nindicator 满意度 = c.s weight 100% scale zscore\n'
                     'example "raw" {\n  c s 4.5\n  expect score 5.5\n}\n', encoding="utf-8")
    res = CliRunner().invoke(cli, ["test", str(rules), "--as-of", "2026-06-30"])
    assert res.exit_code == 0, res.output  # a one-customer z-score is the middle of 1..10
    assert "warning: '满意度' is scaled by zscore on the run's population" in res.output


def test_demo_and_source_misuse_are_messages(tmp_path):
    (tmp_path / "f.tier").write_text("x", encoding="utf-8")
    for args in (["demo", str(tmp_path / "f.tier")], ["demo", str(tmp_path / "d"), "--customers", "-5"],
                 ["demo", str(tmp_path / "d"), "--seed", "-1"]):
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 2 and "Traceback" not in res.output, (args, res.output)
    rules = tmp_path / "r.tier"
    rules.write_text('source c = csv("c.csv") key id\nindicator a = c.a weight 100%\n', encoding="utf-8")
    res = CliRunner().invoke(cli, ["run", str(rules), "--source", "c=postgresql://u:pw@127.0.0.1:1/db"])
    assert res.exit_code == 1 and "name the table after '#'" in res.output and "pw" not in res.output


def test_out_and_log_never_overwrite_the_inputs(tmp_path):
    (tmp_path / "c.csv").write_text("id,a\nK1,5\n", encoding="utf-8")
    rules = tmp_path / "r.tier"
    rules.write_text('source c = csv("c.csv") key id\npoints 0..10\nindicator a = c.a weight 100%\n'
                     'on tier A -> log(message: "x")\ntier A otherwise\n', encoding="utf-8")
    for args in (["--out", str(tmp_path / "c.csv")], ["--log", str(rules)]):
        res = CliRunner().invoke(cli, ["run", str(rules), "--as-of", "2026-06-30", *args])
        assert res.exit_code == 2 and "is an input of this run" in res.output, res.output
    assert (tmp_path / "c.csv").read_text(encoding="utf-8") == "id,a\nK1,5\n"
    assert rules.read_text(encoding="utf-8").startswith("source c")
