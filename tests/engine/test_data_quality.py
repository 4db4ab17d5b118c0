"""Bad data is counted and reported, never silently used: keys that repeat (also once trimmed),
keys that are missing, integer keys; and a Parquet --out written by the run itself."""
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tierwise.engine.build import compile_text
from tierwise.engine.plugin_manager import default_registry
from tierwise.engine.run import run

RULES = """
source c = parquet("c.parquet") key id
points 0..10
indicator v = c.v weight 100% {
  >= 5 -> 10
  else -> 0
}
tier A when score >= 5
tier B otherwise
"""


def rate(tmp_path: Path, ids: list, values: list, parquet_out: Path | None = None):
    pq.write_table(pa.table({"id": ids, "v": values}), tmp_path / "c.parquet")
    registry = default_registry()
    plan, diags, _ = compile_text(RULES, "t.tier", registry)
    assert plan is not None, diags.items
    return run(plan, registry, tmp_path, date(2026, 6, 30), parquet_out=parquet_out)


def issues(outcome) -> dict[str, tuple[int, list[str]]]:
    return {i.what: (i.count, i.samples) for i in outcome.issues}


def test_clean_keys_report_nothing(tmp_path):
    outcome = rate(tmp_path, ["K1", "K2", "K3"], [1.0, 6.0, 9.0])
    assert outcome.issues == []
    assert outcome.rows == 3


def test_duplicate_keys_are_counted_and_the_first_row_kept(tmp_path):
    outcome = rate(tmp_path, ["K1", "K2", "K1", "K3", "K3", "K3"], [9.0, 1.0, 1.0, 6.0, 6.0, 6.0])
    count, samples = issues(outcome)["duplicate key (first row used)"]
    assert count == 2 and samples == ["K1 ×2", "K3 ×3"]
    assert outcome.rows == 3
    assert sorted(outcome.table.column("id").to_pylist()) == ["K1", "K2", "K3"]


def test_keys_that_differ_only_by_padding_are_duplicates(tmp_path):
    outcome = rate(tmp_path, ["K1", " K1 ", "K2\t", "K3"], [9.0, 1.0, 1.0, 6.0])
    count, samples = issues(outcome)["duplicate key (first row used)"]
    assert count == 1 and samples == ["K1 ×2"]
    assert sorted(outcome.table.column("id").to_pylist()) == ["K1", "K2", "K3"]


def test_padded_but_unique_keys_are_trimmed_without_complaint(tmp_path):
    outcome = rate(tmp_path, [" K1", "K2 "], [9.0, 1.0])
    assert outcome.issues == []
    assert outcome.find("K1")["tier"] == "A" and outcome.find("K2")["tier"] == "B"


def test_missing_keys_are_skipped_and_counted(tmp_path):
    outcome = rate(tmp_path, ["K1", None, "  ", "K2"], [9.0, 9.0, 9.0, 1.0])
    assert issues(outcome)["missing key (row skipped)"][0] == 2
    assert outcome.rows == 2


def test_integer_keys_with_duplicates(tmp_path):
    outcome = rate(tmp_path, [101, 102, 101], [9.0, 1.0, 1.0])
    count, samples = issues(outcome)["duplicate key (first row used)"]
    assert count == 1 and samples == ["101 ×2"]
    assert outcome.find("101")["score"] == pytest.approx(10.0)


def test_parquet_out_is_written_by_the_run_and_no_partial_file_remains(tmp_path):
    out = tmp_path / "out" / "ratings.parquet"
    outcome = rate(tmp_path, ["K1", "K2"], [9.0, 1.0], parquet_out=out)
    assert outcome.result_path == out
    assert pq.read_table(out).column("tier").to_pylist() == ["A", "B"]
    outcome.write(out)  # writing to where it already is keeps it
    assert pq.read_table(out).num_rows == 2
    assert [p.name for p in out.parent.iterdir()] == ["ratings.parquet"]


def test_a_failed_run_leaves_no_partial_output(tmp_path):
    out = tmp_path / "ratings.parquet"
    pq.write_table(pa.table({"id": ["K1"], "other": [1.0]}), tmp_path / "c.parquet")
    registry = default_registry()
    plan, _, _ = compile_text(RULES, "t.tier", registry)
    with pytest.raises(Exception, match="no column 'v'"):
        run(plan, registry, tmp_path, date(2026, 6, 30), parquet_out=out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.parquet"]


def test_cells_padded_by_exports_still_read_as_numbers_and_keys(tmp_path):
    (tmp_path / "c.csv").write_text("id,v\n\u3000K1\u00a0,\u30009\u00a0\nK2\t, 1 \n", encoding="utf-8")
    registry = default_registry()
    plan, _, _ = compile_text(RULES.replace('parquet("c.parquet")', 'csv("c.csv")'), "t.tier", registry)
    outcome = run(plan, registry, tmp_path, date(2026, 6, 30))
    assert outcome.issues == []
    assert outcome.find("K1")["v"] == 9.0 and outcome.find("K2")["v"] == 1.0


def test_the_duckdb_backend_table_reads_the_same_schema_as_ibis():
    import ibis

    from tierwise.engine.backends.duckdb import DuckDBBackend
    from tierwise.engine.fetch import fetch_rows

    con = ibis.duckdb.connect()
    table_of = DuckDBBackend(con).table
    con.raw_sql('''CREATE TEMP VIEW "客户 ""v""" AS SELECT 1::INTEGER AS i, 2::BIGINT AS b, 1.5::DOUBLE AS d,
                   3.25::DECIMAL(12, 2) AS m, 'x' AS s, DATE '2026-01-01' AS dt, TIMESTAMP '2026-01-01 10:00' AS ts,
                   true AS f, [1, 2] AS l, NULL::VARCHAR AS n''')
    name = '客户 "v"'
    assert table_of(name).schema() == con.table(name).schema()
    [row] = fetch_rows(table_of(name))
    assert row["m"] == 3.25 and row["l"] == [1, 2] and row["n"] is None


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_the_first_row_of_a_duplicate_key_wins_in_a_large_parallel_scan(tmp_path, fmt):
    n = 300_000  # several row groups / CSV chunks, read by several threads
    ids = [f"K{i % (n // 3)}" for i in range(n)]  # every key three times, far apart
    values = [9.0 if i < n // 3 else 1.0 for i in range(n)]  # only the first occurrence scores 10
    if fmt == "parquet":
        pq.write_table(pa.table({"id": ids, "v": values}), tmp_path / "c.parquet", row_group_size=20_000)
    else:
        (tmp_path / "c.csv").write_text("id,v\n" + "".join(f"{k},{v}\n" for k, v in zip(ids, values)))
    registry = default_registry()
    plan, _, _ = compile_text(RULES.replace('parquet("c.parquet")', f'{fmt}("c.{fmt}")'), "t.tier", registry)
    outcome = run(plan, registry, tmp_path, date(2026, 6, 30))
    assert issues(outcome)["duplicate key (first row used)"][0] == n // 3
    assert outcome.rows == n // 3
    assert set(outcome.table.column("tier").to_pylist()) == {"A"}


def test_the_whitespace_class_matches_the_trimmed_characters():
    import re

    from tierwise.engine.duckdb_builtins import WHITESPACE, WHITESPACE_CLASS

    assert re.fullmatch(WHITESPACE_CLASS + "+", WHITESPACE)
    assert len(WHITESPACE) == len(re.findall(r"\\.|[^\[\]\\]", WHITESPACE_CLASS))


KEY_PIECES = [" ", "\t", "\u3000", "\u00a0", "\n", "K", "1", "客"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), st.lists(st.sampled_from(KEY_PIECES), max_size=4).map("".join)),
                min_size=1, max_size=10))
def test_blank_and_padded_keys_are_counted_as_plain_python_counts_them(keys):
    """A key that is missing, empty or whitespace alone is blank (its row skipped); one with whitespace at
    an edge is padded (trimmed before matching): the counts the quality step reads off its one query."""
    from tierwise.engine.backends.duckdb import DuckDBBackend
    from tierwise.engine.coerce import WHITESPACE
    from tierwise.engine.quality import check_data

    plan = compile_text(RULES, "t.tier", default_registry())[0]
    be = DuckDBBackend.connect()
    try:
        t = be.from_arrow(pa.table({"id": pa.array(keys, pa.string()), "v": [1.0] * len(keys)}), "keys")
        quality = check_data(plan, {"c": t}, be)
    finally:
        be.close()
    blank = sum(1 for k in keys if k is None or not k.strip(WHITESPACE))
    padded = any(k is not None and k != k.strip(WHITESPACE) for k in keys)
    found = {i.what: i.count for i in quality.issues}
    assert found.get("missing key (row skipped)", 0) == blank
    assert quality.keys["c"].padded == padded and quality.keys["c"].blank == (blank > 0)
