"""tierwise.toml: found beside the rule file (or above it, or TIERWISE_SETTINGS), validated, and every error
at tierwise.toml:LINE:COL with the line, a caret under the offending key and what was expected."""
from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from tierwise.cli.main import cli
from tierwise.engine.settings import (ExportChannel, LogChannel, SettingsError, SettingsLookup, WebhookChannel,
                                      find_settings, load_settings, parse_settings)

GOOD = textwrap.dedent('''\
    # pools of key-account managers and where notifications go
    [managers.KA]
    managers = ["张三", "李四", "王五"]
    capacity = { "张三" = 2, "李四" = 30 }

    [managers]
    VIP = ["赵六"]

    [managers.SME]
    managers = ["钱七"]
    capacity = 100

    [channels.sales]
    kind = "webhook"
    url = "https://crm.example.com/hooks/tierwise"
    secret_env = "TIERWISE_SALES_SECRET"
    timeout = 5
    max_attempts = 3

    [channels.risk]
    kind = "export"
    path = "alerts/risk.xlsx"

    [channels."审计"]
    kind = "log"
    message = "tier changed"
''')


def errors_of(text: str) -> list[str]:
    with pytest.raises(SettingsError) as exc:
        parse_settings(text, "tierwise.toml")
    return str(exc.value).split("\n")


def one_error(text: str) -> tuple[str, str, str, list[str]]:
    """(where: message, the echoed line, the caret line, the rest) of the only error."""
    lines = errors_of(text)
    assert len([ln for ln in lines if ": error: " in ln]) == 1, "\n".join(lines)
    return lines[0], lines[1], lines[2], lines[3:]


def caret_under(line: str, caret: str) -> str:
    """The text of ``line`` the carets stand under (the lines are ASCII or two columns per CJK character)."""
    from tierwise.dsl.diagnostics import char_width

    start = len(caret) - len(caret.lstrip(" "))
    width = caret.count("^")
    out, col = "", 0
    for ch in line:
        if start <= col < start + width:
            out += ch
        col += char_width(ch)
    return out


def test_a_valid_file(tmp_path):
    path = tmp_path / "tierwise.toml"
    path.write_text(GOOD, encoding="utf-8")
    s = load_settings(tmp_path / "rules.tier")
    assert s.path == path and s.base_dir == tmp_path
    assert s.managers["KA"].managers == ["张三", "李四", "王五"]
    assert [s.managers["KA"].capacity_of(m) for m in ("张三", "李四", "王五")] == [2, 30, None]
    assert s.managers["VIP"].managers == ["赵六"] and s.managers["VIP"].capacity_of("赵六") is None
    assert s.managers["SME"].capacity_of("钱七") == 100
    sales, risk, audit = s.channels["sales"], s.channels["risk"], s.channels["审计"]
    assert isinstance(sales, WebhookChannel) and isinstance(risk, ExportChannel) and isinstance(audit, LogChannel)
    # what the handlers get: only what the file sets (the webhook handler's defaults for the rest);
    # an export's path relative to the file's own folder
    assert sales.handler_options(s.base_dir) == {"url": "https://crm.example.com/hooks/tierwise",
                                                 "secret_env": "TIERWISE_SALES_SECRET", "timeout": 5.0,
                                                 "max_attempts": 3}
    assert risk.handler_options(s.base_dir) == {"path": str(tmp_path / "alerts" / "risk.xlsx")}
    assert audit.handler_options(s.base_dir) == {"message": "tier changed"}
    assert load_settings(tmp_path / "rules.tier") is s  # read once per version of the file
    path.write_text(GOOD.replace("100", "120"), encoding="utf-8")
    assert load_settings(tmp_path / "rules.tier").managers["SME"].capacity_of("钱七") == 120


def test_found_beside_the_rule_file_then_above_it_up_to_the_git_root(tmp_path, monkeypatch):
    monkeypatch.delenv("TIERWISE_SETTINGS", raising=False)
    repo = tmp_path / "repo"
    deep = repo / "rules" / "2026"
    deep.mkdir(parents=True)
    (repo / ".git").mkdir()
    assert find_settings(deep / "a.tier") is None
    (tmp_path / "tierwise.toml").write_text(GOOD, encoding="utf-8")  # above the git root: not this project's
    assert find_settings(deep / "a.tier") is None
    (repo / "tierwise.toml").write_text(GOOD, encoding="utf-8")
    assert find_settings(deep / "a.tier") == repo / "tierwise.toml"
    (deep / "tierwise.toml").write_text(GOOD, encoding="utf-8")
    assert find_settings(deep / "a.tier") == deep / "tierwise.toml"
    elsewhere = tmp_path / "other.toml"
    elsewhere.write_text(GOOD, encoding="utf-8")
    monkeypatch.setenv("TIERWISE_SETTINGS", str(elsewhere))
    assert find_settings(deep / "a.tier") == elsewhere
    monkeypatch.setenv("TIERWISE_SETTINGS", str(tmp_path / "missing.toml"))
    with pytest.raises(SettingsError, match="cannot read the settings file .TIERWISE_SETTINGS names it."):
        load_settings(deep / "a.tier")


@pytest.mark.parametrize("text, where, under, message, expected", [
    # TOML syntax: tomllib's own position
    ('[managers.KA]\nmanagers = ["张三" "李四"]\n', "2:18", '"', "not valid TOML: Unclosed array",
     "key = value"),
    ('[channels.sales]\nkind = webhook\n', "2:8", "w", "not valid TOML: Invalid value", "key = value"),
    ('[managers.KA]\nmanagers = ["a"]\n[managers.KA]\n', "3:13", "]", "not valid TOML: Cannot declare", None),
    # an unknown table, option or kind: the key, with a did-you-mean
    ('[manager.KA]\nmanagers = ["a"]\n', "1:2", "manager.KA", "unknown table 'manager' in the file",
     "one of: managers, channels"),
    ('[managers.KA]\nmanagers = ["a"]\nmanagerz = ["a"]\n', "3:1", "managerz", "unknown option 'managerz' in [managers.KA]",
     "one of: managers, capacity"),
    ('[channels.risk]\nkind = "exprot"\npath = "r.csv"\n', "2:1", "kind", "unknown kind of channel 'exprot'",
     'kind = "webhook", "export" or "log"'),
    ('[channels.risk]\npath = "r.csv"\n', "1:2", "channels.risk", "[channels.risk] needs 'kind'", None),
    ('[channels.hook]\nkind = "webhook"\nurl = "https://h/x"\nsecret = "s3cr3t"\n', "4:1", "secret",
     "unknown option 'secret' in [channels.hook]",
     "one of: kind, url, secret_env, timeout, batch, max_attempts, backoff, max_backoff"),
    # a value that is wrong: its key, or the very element of a list or table
    ('[managers.KA]\nmanagers = ["张三", "李四", "张三"]\n', "2:25", '"张三"', "managers.KA.managers[2]: '张三' is "
     "listed twice", 'managers = ["张三", "李四", ...]'),
    ('[managers.KA]\nmanagers = []\n', "2:1", "managers", "managers.KA.managers: List should have at least 1 item",
     None),
    ('[managers.KA]\nmanagers = ["张三", "李四"]\ncapacity = { "张三" = 3, "李四" = 0 }\n', "3:24", '"李四"',
     "managers.KA.capacity.李四: a capacity is a number of customers, 1 or more", "capacity = N"),
    ('[managers.KA]\nmanagers = ["张三"]\ncapacity = { "王五" = 3 }\n', "3:14", '"王五"',
     "capacity names '王五', who is not in this pool's managers", None),
    ('[managers.KA]\nmanagers = ["张三"]\ncapacity = "many"\n', "3:1", "capacity",
     "managers.KA.capacity: 'many' is none of the forms it takes", "capacity = N (customers per manager)"),
    ('[managers]\nKA = "张三"\n', "2:1", "KA", "managers.KA", None),
    ('[channels.hook]\nkind = "webhook"\nurl = "ftp://h/x"\n', "3:1", "url",
     "channels.hook.url: an http:// or https:// address", 'url = "https://host/path"'),
    ('[channels.hook]\nkind = "webhook"\nurl = "https://u:pw@h/x"\n', "3:1", "url", "a password in the address",
     None),
    ('[channels.hook]\nkind = "webhook"\nurl = "https://h/x"\ntimeout = -1\n', "4:1", "timeout",
     "channels.hook.timeout: Input should be greater than 0", "timeout = SECONDS"),
    ('[channels.hook]\nkind = "webhook"\nurl = "https://h/x"\nsecret_env = "my secret!"\n', "4:1", "secret_env",
     "the name of an environment variable", 'secret_env = "VARIABLE_NAME"'),
    ('[channels.risk]\nkind = "export"\npath = "risk.pdf"\n', "3:1", "path",
     "channels.risk.path: a file ending in .csv or .xlsx", 'path = "file.csv" or "file.xlsx"'),
])
def test_each_error_at_its_line_with_a_caret(text, where, under, message, expected):
    first, line, caret, rest = one_error(text)
    assert first.startswith(f"tierwise.toml:{where}: error: "), first
    assert message in first, first
    assert line == "  " + text.split("\n")[int(where.split(":")[0]) - 1]
    assert caret_under(line[2:], caret[2:]).startswith(under), (line, caret)
    if expected is not None:
        assert any(r.startswith("  expected: ") and expected in r for r in rest), rest


def test_every_error_of_a_file_at_once_and_hints():
    text = ('[managers.KA]\nmanagerz = ["a"]\n[channels.hook]\nkind = "webhok"\n'
            '[channels.h2]\nkind = "webhook"\nurl = "https://h"\ntoken = "x"\n')
    lines = errors_of(text)
    assert [ln.split(": error: ")[0] for ln in lines if ": error: " in ln] == [
        "tierwise.toml:1:2", "tierwise.toml:2:1", "tierwise.toml:4:1", "tierwise.toml:8:1"]
    assert "  hint: did you mean 'managers'?" in lines
    assert "  hint: did you mean 'webhook'?" in lines
    assert '  hint: a secret lives in the environment: name its variable with secret_env = "VAR"' in lines


def test_a_file_that_is_not_utf8_is_one_message(tmp_path):
    path = tmp_path / "tierwise.toml"
    path.write_bytes('[managers.KA]\nmanagers = ["张三"]\n'.encode("gbk"))
    with pytest.raises(SettingsError, match="not UTF-8"):
        load_settings(tmp_path / "r.tier")


ACTIONS = Path(__file__).resolve().parents[1] / "shared_examples" / "actions.tier"


def check(tmp_path, toml: str | None, rules: str | None = None):
    (tmp_path / "customers.csv").write_text("客户编号\n", encoding="utf-8")
    rule_file = tmp_path / "actions.tier"
    rule_file.write_text(rules or ACTIONS.read_text(encoding="utf-8"), encoding="utf-8")
    if toml is not None:
        (tmp_path / "tierwise.toml").write_text(toml, encoding="utf-8")
    return CliRunner().invoke(cli, ["check", str(rule_file)])


def test_check_reads_the_settings_only_when_an_action_needs_them(tmp_path, monkeypatch):
    monkeypatch.delenv("TIERWISE_SETTINGS", raising=False)
    (tmp_path / ".git").mkdir()
    plain = 'source c = csv("customers.csv") key 客户编号\nindicator a = c.a weight 100%\non tier A -> log()\n' \
            'tier A when score >= 5\ntier B otherwise\n'
    res = check(tmp_path, "this is not toml", plain)
    assert res.exit_code == 0, res.output
    lookup = SettingsLookup(tmp_path / "actions.tier")
    assert lookup.error is None and lookup.path is None  # nothing looked for until asked


def test_check_reports_the_settings_files_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("TIERWISE_SETTINGS", raising=False)
    (tmp_path / ".git").mkdir()
    res = check(tmp_path, '[managers.KA]\nmanagers = ["张三", "张三"]\n')
    assert res.exit_code == 1
    assert re.search(r"tierwise\.toml:2:19: error: managers\.KA\.managers\[1\]: '张三' is listed twice", res.output)
    assert "error(s) in" in res.output and "tierwise.toml" in res.output.splitlines()[-1]
    assert "Traceback" not in res.output


def test_check_without_a_settings_file(tmp_path, monkeypatch):
    monkeypatch.delenv("TIERWISE_SETTINGS", raising=False)
    (tmp_path / ".git").mkdir()
    res = check(tmp_path, None)
    assert res.exit_code == 1
    errors = [ln for ln in res.output.splitlines() if ": error: " in ln]
    # assign_manager once, notify four times: each at its action
    assert len(errors) == 5 and all("reads tierwise.toml, and there is none for this file" in e for e in errors)
    assert errors[0].split(": error: ")[0].endswith("actions.tier:43:17")


def test_an_unknown_pool_or_channel_is_an_error_at_the_rule_with_a_did_you_mean(tmp_path, monkeypatch):
    monkeypatch.delenv("TIERWISE_SETTINGS", raising=False)
    (tmp_path / ".git").mkdir()
    toml = '[managers.KA]\nmanagers = ["张三"]\n[channels.sales]\nkind = "log"\n[channels.risk]\nkind = "log"\n'
    rules = ACTIONS.read_text(encoding="utf-8").replace('pool: "KA"', 'pool: "ka"').replace(
        'notify(channel: "risk")', 'notify(channel: "risks")')
    res = check(tmp_path, toml, rules)
    assert res.exit_code == 1
    out = res.output.splitlines()
    errors = [ln for ln in out if ": error: " in ln]
    assert len(errors) == 3, res.output
    pool = out.index(next(e for e in errors if "no pool of managers 'ka' in tierwise.toml" in e))
    assert errors[0].split(": error: ")[0].endswith("actions.tier:43:38")
    assert caret_under(out[pool + 1][2:], out[pool + 2][2:]) == '"ka"'
    assert out[pool + 3] == "  expected: one of: KA" and out[pool + 4] == "  hint: did you mean 'KA'?"
    assert sum("no channel 'risks' in tierwise.toml" in e for e in errors) == 2
    assert "  hint: did you mean 'risk'?" in out


def test_a_broken_file_holds_back_only_the_deliveries_that_read_it(tmp_path, monkeypatch):
    from action_helpers import deliver, item, store_at

    from tierwise.engine.plugin_api import DELIVERED, PENDING
    from tierwise.engine.settings import UnreadableSettings, settings_for_delivery

    monkeypatch.delenv("TIERWISE_SETTINGS", raising=False)
    (tmp_path / ".git").mkdir()
    assert settings_for_delivery(tmp_path / "r.tier") is None
    (tmp_path / "tierwise.toml").write_text('[managers.KA]\nmanagers = ["张三", "张三"]\n', encoding="utf-8")
    broken = settings_for_delivery(tmp_path / "r.tier")
    assert isinstance(broken, UnreadableSettings) and broken.path == tmp_path / "tierwise.toml"
    store = store_at(tmp_path)
    for action, options in (("assign_manager", {"pool": "KA"}), ("notify", {"channel": "sales"})):
        [r] = deliver(action, options, [item("K1", "A", reason="enter A")], settings=broken, store=store)
        assert r.status == PENDING and r.detail.startswith("tierwise.toml has errors — fix it, then `tierwise "
                                                           "actions retry`: ") and "listed twice" in r.detail
    [r] = deliver("log", {}, [item("K1", "A")], settings=broken)
    assert r.status == DELIVERED
    store.close()
    # a rule file that reads no settings runs beside a broken file: its deliveries go out
    (tmp_path / "c.csv").write_text("id,a\n1,10\n2,1\n", encoding="utf-8")
    rules = tmp_path / "r.tier"
    rules.write_text('source c = csv("c.csv") key id\nindicator a = c.a weight 100%\ntier A when score >= 5\n'
                     'tier B otherwise\non tier A -> log()\n', encoding="utf-8")
    res = CliRunner().invoke(cli, ["run", str(rules), "--db", f"sqlite:///{tmp_path / 'run.db'}"])
    assert res.exit_code == 0, res.output
    assert "actions: 1 delivered, 0 failed, 0 pending" in res.output
