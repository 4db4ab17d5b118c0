"""Connector options in a rule file: each bad option is named at its position; a check across
options names the connector (never "option ''")."""
from click.testing import CliRunner

from tierwise.cli.main import cli


def test_bad_options_are_named_with_their_position(tmp_path):
    rules = tmp_path / "o.tier"
    rules.write_text('ruleset "t" version "1"\n'
                     'source c = csv("c.csv", encoding: "gbkk", delimiter: ";;") key 客户编号\n'
                     'source d = sql("sqlite:///x.db") key 客户编号\n'
                     "indicator 分 = c.金额 weight 100% {\n  >= 1 -> 10\n  else -> 1\n}\n"
                     "tier A when score >= 5\ntier B otherwise\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", str(rules)], catch_exceptions=False)
    assert result.exit_code == 1
    err = result.stderr
    assert "o.tier:2:25: error: option 'encoding' of connector 'csv': unknown encoding 'gbkk'" in err
    assert "o.tier:2:43: error: option 'delimiter' of connector 'csv': delimiter must be one character" in err
    assert "o.tier:3:1: error: connector 'sql': give exactly one of table: or query:" in err
    assert "option ''" not in err and "Value error" not in err
