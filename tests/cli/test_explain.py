"""`tierwise explain`: the scorecard adds up to the score, says why there is none, shows tier label and segments."""
import pytest
from click.testing import CliRunner

from tierwise.cli.main import cli

ADDITIVE = '''source c = csv("c.csv") key id
scoring additive base 600
cap 650
dimension 画像 cap 40 {
  indicator 规模 = c.规模 {
    >= 100 -> 30
    else -> 5
  }
  indicator 行业 = c.行业 {
    == "制造" -> 20
    else -> 0
  }
}
indicator 互动 = c.互动 * 5 cap 15
indicator 负面 = c.负面 {
  >= 1 -> -10
  else -> 0
}
tier A "优质线索" when score >= 640
tier B otherwise
'''

WEIGHTED = '''source c = csv("c.csv") key id
score 0..100
dimension 交易 weight 60% {
  indicator 年交易额 = c.年交易额 weight 50% {
    >= 100 -> 10
    else -> 4
  }
  indicator 续约率 = c.续约率 weight 50% missing -> error {
    >= 90% -> 10
    else -> 5
  }
}
dimension 服务 weight 40% {
  indicator 满意度 = c.满意度 weight 100% missing -> exclude {
    >= 4 -> 10
    else -> 2
  }
}
tier A "核心客户" when score >= 80
tier B otherwise
segment RFM分群 {
  重要价值 when 年交易额 >= 10
  一般挽留 otherwise
}
segment 阶段 {
  大 when 年交易额 >= 10
}
label 高风险 when 续约率 < 6
'''


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def rows_of(out: str) -> list[dict[str, str]]:
    """The scorecard table's rows as {column: cell}."""
    header = next(line for line in out.splitlines() if line.startswith("┃"))
    names = [c.strip() for c in header.strip("┃").split("┃")]
    return [dict(zip(names, (c.strip() for c in line.strip("│").split("│"))))
            for line in out.splitlines() if line.startswith("│")]


def contributions_add_up(out: str, score: float) -> None:
    cells = [r["contribution"] for r in rows_of(out) if r["indicator"] != "subtotal"]
    assert sum(float(c.replace(",", "")) for c in cells if c != "—") == pytest.approx(score)


def explain(tmp_path, rules: str, csv: str, key: str):
    (tmp_path / "c.csv").write_text(csv, encoding="utf-8")
    path = tmp_path / "r.tier"
    path.write_text(rules, encoding="utf-8")
    return invoke("explain", path, key, "--as-of", "2026-06-30")


def test_additive_rows_show_the_base_and_the_caps_that_bind_and_add_up(tmp_path):
    res = explain(tmp_path, ADDITIVE, "id,规模,行业,互动,负面\nK1,200,制造,10,0\n", "K1")
    assert res.exit_code == 0, res.stderr
    rows = {(r["dimension"], r["indicator"]): r for r in rows_of(res.stdout)}
    assert rows[("—", "base")]["contribution"] == "600"
    assert rows[("—", "base")]["rule applied"] == "scoring additive base 600"
    # 30 + 20 = 50 in the dimension, capped at 40
    assert rows[("画像", "cap")]["rule applied"] == "cap 40: 50 → 40"
    assert rows[("画像", "cap")]["contribution"] == "-10"
    assert rows[("画像", "subtotal")]["contribution"] == "40"
    assert rows[("—", "互动")]["rule applied"] == "value is the points; cap 15: 50 → 15"
    # 600 + 40 + 15 + 0 = 655, capped at 650
    assert rows[("—", "cap")]["rule applied"] == "cap 650: 655 → 650"
    assert rows[("—", "cap")]["contribution"] == "-5"
    assert "score 650  tier A (优质线索)" in res.stdout
    contributions_add_up(res.stdout, 650)


def test_additive_without_a_binding_cap_shows_no_cap_row(tmp_path):
    res = explain(tmp_path, ADDITIVE, "id,规模,行业,互动,负面\nK2,10,其他,1,1\n", "K2")
    assert res.exit_code == 0, res.stderr
    assert all(r["indicator"] != "cap" for r in rows_of(res.stdout))
    assert "score 600  tier B" in res.stdout and "tier B (" not in res.stdout  # B has no label
    contributions_add_up(res.stdout, 600)


def test_a_customer_without_a_score_is_told_why_and_weights_are_not_respread(tmp_path):
    res = explain(tmp_path, WEIGHTED, "id,年交易额,续约率,满意度\nK2,50,,4.5\n", "K2")
    assert res.exit_code == 1
    out = res.stdout
    assert "no score: 续约率 is missing (missing -> error)" in out
    assert "→" not in out  # `missing -> error` spreads no weight: the declared weights stand
    assert "None" not in out + res.stderr and "Traceback" not in out + res.stderr
    rows = {r["indicator"]: r for r in rows_of(out) if r["indicator"] != "subtotal"}
    assert rows["续约率"]["rule applied"] == "missing -> error" and rows["续约率"]["weight"] == "50%"
    assert "RFM分群 = 一般挽留" in out  # segments are still known


def test_exclude_still_respreads_and_adds_up(tmp_path):
    res = explain(tmp_path, WEIGHTED, "id,年交易额,续约率,满意度\nK1,200,95%,\n", "K1")
    assert res.exit_code == 0, res.stderr
    assert "40% → 0%" in res.stdout and "60% → 100%" in res.stdout
    assert "score 100  tier A (核心客户)" in res.stdout
    contributions_add_up(res.stdout, 100)


def test_segments_and_labels_are_shown_under_the_score(tmp_path):
    res = explain(tmp_path, WEIGHTED, "id,年交易额,续约率,满意度\nK3,200,80%,3\n", "K3")
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.splitlines()
    i = next(n for n, line in enumerate(lines) if line.startswith("score "))
    assert lines[i] == "score 53  tier B"  # (10·50% + 5·50%)·60% + 2·40% = 5.3 points of 10
    assert lines[i + 1:i + 4] == ["  RFM分群 = 重要价值", "  阶段 = 大", "labels: 高风险"]
    contributions_add_up(res.stdout, 53)
    res = explain(tmp_path, WEIGHTED, "id,年交易额,续约率,满意度\nK4,50,95%,4\n", "K4")
    assert "  阶段 = — (no case matched)" in res.stdout


@pytest.mark.parametrize("typed", ["k1", " k1 ", "k 1", "K 1"])
def test_a_customer_key_is_suggested_ignoring_case_and_spaces(tmp_path, typed):
    res = explain(tmp_path, WEIGHTED, "id,年交易额,续约率,满意度\nK1,200,95%,4\nK2,50,80%,3\n", typed)
    assert res.exit_code == 1
    assert f"no customer '{typed}' in id — did you mean 'K1'?" in res.stderr


def test_a_customer_without_a_score_in_a_when_tier_shows_that_tier(tmp_path):
    rules = WEIGHTED.replace('tier A "核心客户" when score >= 80',
                             'tier N "小额客户" when 年交易额 < 5\ntier A "核心客户" when score >= 80')
    res = explain(tmp_path, rules, "id,年交易额,续约率,满意度\nK2,50,,4.5\n", "K2")
    assert res.exit_code == 1
    assert "no score: 续约率 is missing (missing -> error); tier N (小额客户)" in res.stdout
    assert "None" not in res.stdout


def test_no_score_because_everything_was_excluded_is_said_and_is_not_a_failure(tmp_path):
    rules = WEIGHTED.replace("missing -> error", "missing -> exclude").replace('c.年交易额 weight 50% {',
                                                                              'c.年交易额 weight 50% missing -> exclude {')
    res = explain(tmp_path, rules, "id,年交易额,续约率,满意度\nK5,,,\n", "K5")
    assert res.exit_code == 0, res.stderr
    assert "no score: every indicator is missing (missing -> exclude), so no tier" in res.stdout
    assert "None" not in res.stdout
