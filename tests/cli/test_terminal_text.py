"""What the terminal shows is the text as written: no emoji codes (`:100:`), no rich markup from user text."""
from click.testing import CliRunner

from tierwise.cli.main import cli

HEAD = 'source c = csv("c.csv") key id\n'


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_a_diagnostic_on_line_100_or_1234_keeps_its_position(tmp_path):
    # rich reads `:100:` as the emoji 💯 and `:1234:` as 🔢 unless emoji codes are off
    lines = [HEAD.strip(), "indicator 甲 = c.x weight 100%"] + ["#"] * 97 + ["tier A when 乙 >= 5"]
    lines += ["#"] * 1133 + ["label L when 丙 > 1", "tier B otherwise"]
    path = tmp_path / "long.tier"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = invoke("check", path)
    assert res.exit_code == 1
    assert f"{path}:100:13: error: unknown name '乙'" in res.stderr
    assert f"{path}:1234:14: error: unknown name '丙'" in res.stderr
    assert "💯" not in res.stderr and "🔢" not in res.stderr


def test_markup_and_emoji_codes_in_user_text_print_as_written(tmp_path):
    (tmp_path / "c.csv").write_text("id,x\n[red]K1,5\n:thumbs_up:,3\n", encoding="utf-8")
    path = tmp_path / "[b]rules.tier"
    path.write_text(HEAD + 'indicator 甲 = c.x weight 100%\ntier A "[bold]核心" when 甲 >= 4\n'
                    'tier B otherwise\nexample "[red]seed :100:" {\n  points 甲 5\n  expect tier A\n}\n',
                    encoding="utf-8")
    res = invoke("check", path)
    assert res.exit_code == 0, res.stderr
    assert f"✓ {path}" in res.stdout
    res = invoke("test", path)
    assert res.exit_code == 0, res.stdout
    assert "[red]seed :100:" in res.stdout and "💯" not in res.stdout
    res = invoke("run", path, "--as-of", "2026-06-30")
    assert res.exit_code == 0, res.stderr
    assert "[bold]核心" in res.stdout
    res = invoke("explain", path, "[red]K1", "--as-of", "2026-06-30")
    assert res.exit_code == 0, res.stderr
    assert "id [red]K1" in res.stdout
    res = invoke("explain", path, ":thumbs_up", "--as-of", "2026-06-30")
    assert res.exit_code == 1
    assert "no customer ':thumbs_up' in id" in res.stderr and "👍" not in res.stderr
