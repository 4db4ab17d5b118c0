"""Behaviour docs/language.md states with numbers, checked through `tierwise run` on real files."""
import csv

import pytest
from click.testing import CliRunner

from tierwise.cli.main import cli


def rate(tmp_path, rules: str, data: str) -> dict[str, dict[str, str]]:
    (tmp_path / "c.csv").write_text(data, encoding="utf-8")
    path = tmp_path / "r.tier"
    path.write_text('source c = csv("c.csv") key id\n' + rules, encoding="utf-8")
    out = tmp_path / "out.csv"
    res = CliRunner().invoke(cli, ["run", str(path), "--as-of", "2026-06-30", "--out", str(out)],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.stderr
    with out.open(encoding="utf-8-sig") as f:
        return {r["id"]: r for r in csv.DictReader(f)}


@pytest.mark.parametrize("ties,reverse,tied", [
    ("low", "false", 3.25), ("low", "true", 7.75), ("high", "false", 5.5), ("high", "true", 5.5),
])
def test_reverse_mirrors_the_points_after_ties_are_settled_on_ascending_values(tmp_path, ties, reverse, tied):
    rules = (f'indicator P = c.x weight 50% scale percentile(ties: "{ties}", reverse: {reverse})\n'
             f'indicator Q = c.x weight 50% scale quintile(ties: "{ties}", reverse: {reverse})\n')
    rows = rate(tmp_path, rules, "id,x\nK1,1\nK2,2\nK3,2\nK4,3\nK5,4\n")
    for name in ("P", "Q"):
        assert float(rows["K2"][f"{name}.points"]) == float(rows["K3"][f"{name}.points"]) == tied
        assert float(rows["K1"][f"{name}.points"]) == (10 if reverse == "true" else 1)


@pytest.mark.parametrize("first,second,in_second", [
    ("tier A top 1", "tier B top 50%", 4), ("tier A when score >= 9", "tier B top 30%", 1),
    ("tier A top 1", "tier B top 6", 5),
])
def test_a_later_quota_counts_the_customers_of_earlier_tiers(tmp_path, first, second, in_second):
    data = "id,x\n" + "".join(f"K{i:02d},{i}\n" for i in range(1, 11))
    rows = rate(tmp_path, f"points 0..10\nindicator P = c.x weight 100%\n{first}\n{second}\ntier C otherwise\n", data)
    tiers = [r["tier"] for r in rows.values()]
    assert tiers.count("B") == in_second
    # B takes the next ones by score, never one below a C
    assert all(int(k[1:]) > int(j[1:]) for k, r in rows.items() if r["tier"] == "B"
               for j, s in rows.items() if s["tier"] == "C")
