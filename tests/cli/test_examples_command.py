"""`tierwise test`: examples that leave out columns the rules read, and examples whose data cannot be evaluated."""
from click.testing import CliRunner

import tierwise.engine.examples as examples
from tierwise.cli.main import cli
from tierwise.engine.plugin_api import DataError

RULES = '''source c = csv("c.csv") key id
source o = csv("o.csv") key id
indicator 品类数 = count_distinct(o.sku) weight 50% {
  >= 3 -> 10
  else -> 1
}
indicator 金额 = sum(o.amount) weight 50% {
  >= 100 -> 10
  else -> 1
}
measure 称呼 = coalesce(c.note, c.name)
label 老朋友 when 称呼 == "老王"
tier A when score >= 5
tier B otherwise
example "no sku, no note, no name" {
  o amount 60
  o amount 50
  expect score 5.5, tier A, not label 老朋友
}
example "a name only" {
  c name "老王"
  expect tier B, label 老朋友
}
'''


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def write(tmp_path, text=RULES):
    path = tmp_path / "r.tier"
    path.write_text(text, encoding="utf-8")
    return path


def test_columns_an_example_leaves_out_are_missing_not_absent(tmp_path):
    # o.sku (inside count_distinct) and c.note / c.name (inside coalesce) are given by no example row
    res = invoke("test", write(tmp_path), "--as-of", "2026-06-30")
    assert "Traceback" not in res.stdout + res.stderr
    assert res.exit_code == 0, res.stdout
    assert "2 passed, 0 failed" in res.stdout


def test_an_example_that_cannot_be_evaluated_fails_with_the_message(tmp_path, monkeypatch):
    real = examples.run_example

    def run_example(plan, registry, ex, day):
        if ex.name == "a name only":
            raise DataError("source 'c' has no column 'note'")
        return real(plan, registry, ex, day)

    monkeypatch.setattr(examples, "run_example", run_example)
    res = invoke("test", write(tmp_path), "--as-of", "2026-06-30")
    assert res.exit_code == 1
    assert "Traceback" not in res.stdout + res.stderr
    assert "PASS" in res.stdout and "no sku, no note, no name" in res.stdout
    assert f"FAIL {tmp_path / 'r.tier'}:20 a name only" in res.stdout
    assert "cannot evaluate: source 'c' has no column 'note'" in res.stdout
    assert "1 passed, 1 failed" in res.stdout


SEGMENTS = '''source c = csv("c.csv") key id
indicator R = c.r weight 100%
tier A when score >= 8
tier B otherwise
segment RFM分群 {
  重要价值 when R >= 8
  "一般 挽留" otherwise
}
segment 预警 {
  流失风险 when R <= 2
}
example "top" {
  points R 9
  expect score 9, tier A, segment RFM分群 重要价值
}
example "middle" {
  points R 5
  expect segment RFM分群 "一般 挽留"
}
'''


def test_an_expected_segment_passes_when_it_is_the_case_the_customer_falls_in(tmp_path):
    res = invoke("test", write(tmp_path, SEGMENTS), "--as-of", "2026-06-30")
    assert res.exit_code == 0, res.stdout
    assert "2 passed, 0 failed" in res.stdout


def test_a_wrong_segment_shows_expected_and_got(tmp_path):
    text = SEGMENTS.replace('expect segment RFM分群 "一般 挽留"', "expect segment RFM分群 重要价值, segment 预警 流失风险")
    res = invoke("test", write(tmp_path, text), "--as-of", "2026-06-30")
    assert res.exit_code == 1
    assert "segment RFM分群: expected 重要价值, got 一般 挽留" in res.stdout
    assert "segment 预警: expected 流失风险, got none (no case matched)" in res.stdout
    assert "1 passed, 1 failed" in res.stdout


def test_an_unknown_segment_or_case_is_a_check_error_with_a_suggestion(tmp_path):
    res = invoke("check", write(tmp_path, SEGMENTS.replace("segment RFM分群 重要价值", "segment RFM 重要价值")))
    assert res.exit_code == 1
    assert "error: unknown segment 'RFM'" in res.stderr and "did you mean 'RFM分群'?" in res.stderr
    res = invoke("check", write(tmp_path, SEGMENTS.replace("segment RFM分群 重要价值", "segment RFM分群 一般挽留")))
    assert res.exit_code == 1
    assert "error: segment RFM分群 has no case '一般挽留'" in res.stderr
    assert "expected: one of: 重要价值, 一般 挽留" in res.stderr and "did you mean '一般 挽留'?" in res.stderr


def test_an_example_without_a_score_prints_no_python_none(tmp_path):
    text = '''source c = csv("c.csv") key id
indicator 续约率 = c.续约率 weight 100% missing -> error
label 无续约 when c.续约率 == 0 or 续约率 < 1
tier A otherwise
example "renewal unknown" {
  c 年份 2026
  expect not label 无续约
}
example "renewal unknown, tier expected" {
  c 年份 2026
  expect tier A
}
'''
    res = invoke("test", write(tmp_path, text), "--as-of", "2026-06-30")
    assert res.exit_code == 1
    assert "renewal unknown (no score, no tier)" in res.stdout
    assert "tier: expected A, got no tier" in res.stdout
    assert "None" not in res.stdout and "Traceback" not in res.stdout + res.stderr


def test_a_file_without_examples_says_so_and_passes(tmp_path):
    bare = write(tmp_path, RULES.split('example "no sku')[0])
    res = invoke("test", bare, "--as-of", "2026-06-30")
    assert res.exit_code == 0
    assert f"warning: {bare}: no examples to run" in res.stderr
    assert "0 passed, 0 failed" in res.stdout
    both = tmp_path / "both"
    both.mkdir()
    (both / "bare.tier").write_text(bare.read_text(encoding="utf-8"), encoding="utf-8")
    (both / "full.tier").write_text(RULES, encoding="utf-8")
    res = invoke("test", both, "--as-of", "2026-06-30")
    assert res.exit_code == 0, res.stdout
    assert "bare.tier: no examples to run" in res.stderr and "full.tier: no examples" not in res.stderr
    assert "2 passed, 0 failed" in res.stdout


RANKED = '''source c = csv("c.csv") key id
points 0..10
indicator 增长 = c.增长 weight 50% scale percentile
indicator 份额 = c.份额 weight 50% scale quintile(ties: high)
tier A when score >= 9
tier B otherwise
example "ranked among its own rows" {
  c 增长 0.3, 份额 0.2
  expect score 2.5, tier B
}
'''


def test_an_example_ranks_a_percentile_fitted_on_its_own_rows(tmp_path):
    """No calibration: the rank normalizers are fitted in the example's query (their scale a scalar
    subquery: a reduction cannot sit in a window's ORDER BY) — it used to fail with a binder error. One
    customer: the percentile scores the middle of the range (5 × 50%), the quintile its lowest (0)."""
    res = invoke("test", write(tmp_path, RANKED), "--as-of", "2026-06-30")
    assert "cannot evaluate" not in res.stdout and "Traceback" not in res.stdout + res.stderr, res.stdout
    assert res.exit_code == 0, res.stdout
    assert "1 passed, 0 failed" in res.stdout
