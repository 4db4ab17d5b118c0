"""`tierwise run --columns`: the key first, then the columns asked for; unknown names are a usage error
with a did-you-mean; the summary is the same whatever is written."""
import csv

import pyarrow.parquet as pq
from click.testing import CliRunner

from tierwise.cli.main import cli

RULES = '''source c = csv("c.csv") key id
points 0..10
indicator 金额 = c.金额 weight 100% missing -> exclude {
  >= 100 -> 10
  else -> 2
}
tier A "核心" when score >= 8
tier B otherwise
label 大 when 金额 >= 100
segment 段 {
  高 when 金额 >= 50
  低 otherwise
}
'''


def setup(tmp_path):
    (tmp_path / "c.csv").write_text("id,金额\nK1,200\nK2,10\nK3,\n", encoding="utf-8")
    path = tmp_path / "r.tier"
    path.write_text(RULES, encoding="utf-8")
    return path


def run(*args):
    return CliRunner().invoke(cli, ["run", *map(str, args), "--as-of", "2026-06-30"])


def header(path):
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_columns_choose_what_is_written_key_first(tmp_path):
    rules = setup(tmp_path)
    full = run(rules, "--out", tmp_path / "full.csv")
    assert full.exit_code == 0, full.output
    rows = header(tmp_path / "full.csv")
    assert list(rows[0]) == ["id", "score", "tier", "tier_label", "金额", "金额.points", "段", "labels", "missing"]
    res = run(rules, "--columns", "tier,score", "--out", tmp_path / "few.csv")
    assert res.exit_code == 0, res.output
    few = header(tmp_path / "few.csv")
    assert list(few[0]) == ["id", "tier", "score"]
    assert [(r["id"], r["tier"], r["score"]) for r in few] == [(r["id"], r["tier"], r["score"]) for r in rows]
    # the run's summary does not depend on what is written
    assert res.stdout.split("wrote")[0] == full.stdout.split("wrote")[0]
    assert res.stderr == full.stderr


def test_explanation_columns_on_request_in_parquet(tmp_path):
    rules = setup(tmp_path)
    res = run(rules, "--columns", "金额.band,金额.weight,no_score_reason", "--out", tmp_path / "x.parquet")
    assert res.exit_code == 0, res.output
    table = pq.read_table(tmp_path / "x.parquet")
    assert table.column_names == ["id", "金额.band", "金额.weight", "no_score_reason"]
    got = {r["id"]: r for r in table.to_pylist()}
    assert got["K1"]["金额.band"] == 0 and got["K2"]["金额.band"] == 1 and got["K3"]["金额.band"] is None
    assert got["K3"]["no_score_reason"] == "every indicator is missing (missing -> exclude)"
    assert got["K1"]["金额.weight"] == 1.0 and got["K3"]["金额.weight"] == 0.0
    assert not list(tmp_path.glob(".*partial"))


def test_an_unknown_column_is_a_usage_error_with_a_suggestion(tmp_path):
    rules = setup(tmp_path)
    res = run(rules, "--columns", "score,tierr")
    assert res.exit_code == 2
    assert "unknown column 'tierr' — did you mean 'tier'?" in res.output
    assert "Traceback" not in res.output
