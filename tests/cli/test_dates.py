"""--as-of takes the dates rule files and text sources take: 2026-06-30, 2026/6/30, 2026年6月30日, 20260630."""
import pytest
from click.testing import CliRunner

from tierwise.cli.main import cli

# the score is the days since the contract date, so the date given decides it
RULES = '''source c = csv("c.csv") key id
indicator 天数 = days_since(c.签约日期) weight 100%
tier A when score >= 30
tier B otherwise
example "no as_of of its own" {
  c 签约日期 "2026-06-01"
  expect score 29, tier B
}
'''


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def rules(tmp_path):
    (tmp_path / "c.csv").write_text("id,签约日期\nK1,2026-06-01\n", encoding="utf-8")
    path = tmp_path / "r.tier"
    path.write_text(RULES, encoding="utf-8")
    return path


@pytest.mark.parametrize("written", ["2026-06-30", "2026/6/30", "2026.6.30", "2026年6月30日", "20260630"])
def test_run_explain_and_test_read_every_date_form(rules, written):
    res = invoke("explain", rules, "K1", "--as-of", written)
    assert res.exit_code == 0, res.stderr
    assert "as of 2026-06-30" in res.stdout and "score 29" in res.stdout
    res = invoke("run", rules, "--as-of", written)
    assert res.exit_code == 0, res.stderr
    assert "as of 2026-06-30" in res.stdout
    res = invoke("test", rules, "--as-of", written)
    assert res.exit_code == 0, res.stdout
    assert "1 passed, 0 failed" in res.stdout


@pytest.mark.parametrize("command", ["run", "explain", "test"])
@pytest.mark.parametrize("written,why", [
    ("yesterday", ""), ("2026-02-30", ": month 2 has no day 30"), ("2026/13/1", ": there is no month 13"),
])
def test_a_date_that_is_none_is_a_usage_error(rules, command, written, why):
    args = [command, rules] + (["K1"] if command == "explain" else []) + ["--as-of", written]
    res = invoke(*args)
    assert res.exit_code == 2
    assert (f"'{written}' is not a date like 2026-06-30 (2026/6/30, 2026.6.30, 2026年6月30日 and 20260630 also do){why}"
            in res.stderr)
    assert "Traceback" not in res.stderr
