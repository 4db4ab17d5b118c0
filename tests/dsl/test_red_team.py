"""Defects from a red-team review of the language, each asserted on real behaviour (the golden files in
golden/ hold the exact messages): encodings, dates, keywords as column names, multi-row sources, indented
`missing`, deep expressions, false-positive warnings, line continuation."""
from pathlib import Path

import pytest
from click.testing import CliRunner

from tierwise.cli.main import cli
from tierwise.dsl import RuleFileError, decode_rule_bytes, parse, read_rule_file
from tierwise.engine.build import compile_text
from tierwise.engine.plugin_manager import default_registry

from example_paths import shared_example

SEED = shared_example("customer_rating.tier")
REGISTRY = default_registry()
HEAD = 'source c = csv("c.csv") key id\n'


def check(text: str):
    plan, diags, rs = compile_text(text, "t.tier", REGISTRY)
    return plan, diags, rs


def messages(diags) -> list[str]:
    return [f"{d.severity}: {d.message}" for d in diags.items]


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


# ---- 1. files that are not UTF-8 ---------------------------------------------------------------

@pytest.mark.parametrize("encoding,bom", [("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff"),
                                          ("utf-8", b"\xef\xbb\xbf"), ("gb18030", b"")])
def test_notepad_encodings_are_decoded(encoding, bom):
    text = SEED.read_text(encoding="utf-8").replace("\n", "\r\n")
    decoded = decode_rule_bytes(bom + text.encode(encoding))
    assert parse(decoded).model_dump() == parse(SEED.read_text(encoding="utf-8")).model_dump()


def test_utf16_file_checks_and_tests_like_its_utf8_original(tmp_path):
    path = tmp_path / "notepad.tier"
    path.write_bytes(b"\xff\xfe" + SEED.read_text(encoding="utf-8").replace("\n", "\r\n").encode("utf-16-le"))
    res = invoke("test", path)
    assert res.exit_code == 0, res.output
    assert "1 passed, 0 failed" in res.stdout


def test_a_gbk_line_in_a_utf8_file_is_named_not_decoded_into_mojibake():
    data = (HEAD + "indicator 年交易额 = c.x weight 100%\n").encode() + "# 旧注释\n".encode("gbk") + b"tier A otherwise\n"
    with pytest.raises(RuleFileError) as err:
        decode_rule_bytes(data, "mixed.tier")
    (d,) = err.value.diagnostics.items
    assert (d.span.line, d.span.column) == (3, 3)
    assert "pasted from a GBK file" in d.message and "# 旧注释" in d.hint


def test_latin1_and_binary_files_are_positioned_errors():
    with pytest.raises(RuleFileError) as err:
        decode_rule_bytes(("# für Händler\n" + HEAD).encode("latin-1"))
    (d,) = err.value.diagnostics.items
    assert d.message == "file is not UTF-8 or GBK text" and (d.span.line, d.span.column) == (1, 4)
    with pytest.raises(RuleFileError) as err:
        decode_rule_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert err.value.diagnostics.items[0].span.line == 3


def test_cli_reports_an_undecodable_file_as_a_diagnostic(tmp_path):
    path = tmp_path / "latin1.tier"
    path.write_bytes(("# für Händler\n" + HEAD).encode("latin-1"))
    res = invoke("check", path)
    assert res.exit_code == 1
    assert f"{path}:1:4: error: file is not UTF-8 or GBK text" in res.stderr
    assert "Traceback" not in res.output
    assert read_rule_file(SEED) == SEED.read_text(encoding="utf-8")


# ---- 2, 3. dates ----------------------------------------------------------------------------

def test_test_command_rejects_a_bad_as_of_as_a_usage_error():
    res = invoke("test", "--as-of", "2026-13-01", SEED)
    assert res.exit_code == 2
    assert "'2026-13-01' is not a date" in res.output


@pytest.mark.parametrize("written", ["2026-06-30", "2026/6/30", "2026年6月30日", "20260630"])
def test_example_as_of_accepts_the_dates_sources_accept(written):
    text = SEED.read_text(encoding="utf-8").replace("  expect score 80.625", f'  as_of "{written}"\n  expect score 80.625')
    plan, diags, _ = check(text)
    assert plan is not None, diags.format()
    assert plan.examples[0].as_of == "2026-06-30"


def test_example_with_impossible_as_of_fails_check_not_test(tmp_path):
    path = tmp_path / "bad_date.tier"
    path.write_text(SEED.read_text(encoding="utf-8").replace(
        "  expect score 80.625", '  as_of "2026-13-01"\n  expect score 80.625'), encoding="utf-8")
    res = invoke("test", path)
    assert res.exit_code == 1
    assert 'as_of "2026-13-01" is not a date' in res.stderr and "there is no month 13" in res.stderr


def test_an_example_column_is_warned_about_only_when_it_looks_like_a_typo():
    rules = HEAD + 'indicator 年交易额 = c.年交易额 weight 100% {\n  >= 500万 -> 10\n  else -> 1\n}\ntier A otherwise\n'
    _, diags, _ = check(rules + 'example "e" {\n  c 年交易颔 600万\n  expect tier A\n}\n')
    assert messages(diags) == ["warning: the rules never read c.年交易颔: this value has no effect"]
    assert diags.items[0].hint == "did you mean '年交易额'?"
    _, diags, _ = check(rules + 'example "e" {\n  c 年交易额 600万, 备注 "老客户"\n  expect tier A\n}\n')
    assert not diags.items


@pytest.mark.parametrize("read,given,typo", [
    ("订单状态", "订单号", False), ("工单类型", "工单号", False), ("年交易额", "年交易日期", False),
    ("回款及时率", "回款及时律", True), ("年交易额", "年交易颔", True), ("amount", "Amount", True),
    ("amount", "amout", True),
])
def test_the_example_typo_warning_needs_a_close_match(read, given, typo):
    rules = HEAD + f'indicator 甲 = c.{read} weight 100% {{\n  >= 1 -> 10\n  else -> 1\n}}\ntier A otherwise\n'
    _, diags, _ = check(rules + f'example "e" {{\n  c {given} 5\n  expect tier A\n}}\n')
    if typo:
        assert messages(diags) == [f"warning: the rules never read c.{given}: this value has no effect"]
        assert diags.items[0].hint == f"did you mean '{read}'?"
    else:
        assert not diags.items, diags.format()


# ---- 4. keywords and names ------------------------------------------------------------------

@pytest.mark.parametrize("column", ["weight", "scale", "when", "not", "where", "within", "between", "and", "or"])
def test_a_column_named_like_a_keyword_may_end_a_line(column):
    plan, diags, _ = check(HEAD + f"measure 重 = c.{column}\nindicator 甲 = 重 weight 100%\ntier A otherwise\n")
    assert plan is not None, diags.format()
    assert [m for m in plan.measures] == ["重"]


@pytest.mark.parametrize("line,word,hint", [
    ("indicator 甲 = c.x weights 100%", "weights", "weight"),
    ("indicator 甲 = c.x weight 100%\nlabel L when c.x > 1 andy > 2", "andy", "and"),
    ("indicator 甲 = c.x weight 100%\nlabel L when c.x > 1 ornament", "ornament", None),
])
def test_a_keyword_is_never_read_from_the_front_of_a_longer_word(line, word, hint):
    _, diags, _ = check(HEAD + line + "\n")
    (d,) = diags.items
    assert d.message == f"unexpected name '{word}'"
    assert d.span.end_column - d.span.column == len(word)
    if hint:
        assert d.hint == f"did you mean '{hint}'?"


# ---- 5. a source with several rows per customer used directly -----------------------------------

def test_a_multi_row_source_used_directly_is_an_error_not_a_population_sum():
    text = (HEAD + 'source orders = csv("o.csv") key id\n'
            'indicator 金额 = sum(orders.金额) weight 100% scale minmax\n'
            'label 线上 when orders.渠道 == "线上"\ntier A otherwise\n')
    plan, diags, _ = check(text)
    assert plan is None
    (d,) = diags.errors
    assert d.span.line == 4
    assert "(used in sum(...) at line 3)" in d.message
    assert 'count(orders where orders.渠道 == "线上") > 0' in d.message
    # used through aggregates only, it is a per-customer aggregate
    plan, diags, _ = check(text.replace('label 线上 when orders.渠道 == "线上"',
                                        'label 线上 when count(orders where orders.渠道 == "线上") > 0'))
    assert plan is not None, diags.format()
    assert next(s for s in plan.sources if s.name == "orders").multi_row


def test_count_distinct_with_where_over_a_multi_row_source_is_per_customer():
    text = (HEAD + 'source orders = csv("o.csv") key id\n'
            'indicator 品类 = count_distinct(orders.品类 where orders.状态 == "paid") weight 100% scale minmax\n'
            'tier A otherwise\n')
    plan, diags, _ = check(text)
    assert plan is not None, diags.format()
    assert not diags.items


# ---- 6. an indented `missing` after an indicator -------------------------------------------------

def test_an_indented_missing_line_belongs_to_the_indicator_above():
    text = HEAD + ("indicator a = c.x weight 50%\n    missing -> exclude\n"
                   "indicator b = c.y weight 50%\ntier A otherwise\n")
    plan, diags, rs = check(text)
    assert plan is not None, diags.format()
    assert rs.missing is None
    assert plan.indicator("a").missing.policy == "exclude"
    assert plan.indicator("b").missing.policy == "error"


def test_an_unindented_missing_after_an_indicator_is_global_and_warned():
    text = HEAD + "indicator a = c.x weight 50%\nindicator b = c.y weight 50%\nmissing -> exclude\ntier A otherwise\n"
    plan, diags, _ = check(text)
    assert plan.indicator("a").missing.policy == plan.indicator("b").missing.policy == "exclude"
    assert messages(diags) == ["warning: this `missing` applies to every indicator, not only 'b' above it"]
    # the reference example's `missing` after its dimensions is not warned about
    assert not check(SEED.read_text(encoding="utf-8"))[1].items


# ---- 7. deep expressions ---------------------------------------------------------------------

def test_a_long_expression_is_a_diagnostic_not_a_recursion_error():
    text = HEAD + "indicator a = " + " + ".join(["c.x"] * 600) + " weight 100%\n"
    plan, diags, _ = check(text)
    (d,) = diags.items
    assert d.message.startswith("expression nested too deeply") and d.span.line == 2
    text = HEAD + "indicator a = " + " + ".join(["c.x"] * 100) + " weight 100%\ntier A otherwise\n"
    plan, diags, _ = check(text)
    assert plan is not None, diags.format()


# ---- 10, 11, 19. warnings that were false positives or said twice -----------------------------------

def test_a_gap_between_ranges_is_fine_when_an_else_band_takes_it():
    text = HEAD + "indicator a = c.x weight 100% {\n  0..5 -> 3\n  6..10 -> 5\n  else -> 1\n}\ntier A otherwise\n"
    assert not check(text)[1].items


def test_when_tiers_that_cover_every_score_need_no_otherwise():
    text = HEAD + ("indicator a = c.x weight 100%\nscore 0..100\n"
                   "tier A when score >= 90\ntier B when score >= 60\ntier C when score < 60\n")
    assert not check(text)[1].items
    _, diags, _ = check(text.replace("tier C when score < 60", "tier C when score >= 30"))
    assert messages(diags) == ["warning: no `tier NAME otherwise`: customers matching no tier get no tier"]


def test_an_unreachable_tier_is_reported_once_and_an_invalid_range_gives_no_bounds():
    text = HEAD + "indicator a = c.x weight 100%\nscore 0..100\ntier A when score > 500\ntier B otherwise\n"
    assert messages(check(text)[1]) == ["warning: tier A can never be reached: scores run from 10 to 100"]
    text = HEAD + "points 10..1\nindicator a = c.x weight 100%\ntier A when score > 5000\ntier B otherwise\n"
    assert messages(check(text)[1]) == ["error: invalid points range 10..1"]


# ---- 22. line ends and continuation ---------------------------------------------------------------

def test_crlf_and_bare_cr_line_ends_parse_like_lf():
    text = SEED.read_text(encoding="utf-8")
    expected = parse(text).model_dump()
    assert parse(text.replace("\n", "\r\n")).model_dump() == expected
    assert parse(text.replace("\n", "\r")).model_dump() == expected


def test_minus_at_line_start_continues_except_in_a_band_block():
    rs = parse(HEAD + "measure m = c.a\n  - c.b\nindicator 甲 = m weight 100% {\n  >= 0 -> 10\n  -5..0 -> 5\n"
               "  else -> 1\n}\n")
    assert rs.measures[0].expr.kind == "binary" and rs.measures[0].expr.op == "-"
    assert [b.op for b in rs.indicators[0].bands] == [">=", "range", "else"]


def test_expect_on_its_own_line_continues_a_tier_not_an_example():
    rs = parse(HEAD + 'indicator a = c.x weight 100%\ntier A otherwise\n  expect 10%..20%\n'
               'example "e" {\n  points a 5\n  expect tier A\n}\n')
    assert (rs.tiers[0].expect_low, rs.tiers[0].expect_high) == (0.1, 0.2)
    assert rs.examples[0].expectations[0].name == "A"


def test_the_shipped_rule_files_still_check_clean():
    root = Path(__file__).resolve().parents[2]
    for path in [SEED, root / "rulesets" / "relationship_rating.tier"]:
        plan, diags, _ = check(read_rule_file(path))
        assert plan is not None, diags.format()
