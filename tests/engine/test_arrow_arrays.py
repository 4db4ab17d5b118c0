"""Arrow arrays built from their buffers (engine/arrow_arrays.py) equal what pyarrow builds from the values,
and rating one customer never imports pandas (0.15 s of an `explain`)."""
import subprocess
import sys
import textwrap

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tierwise.engine.arrow_arrays import arrow_table, float_array, text_array


@settings(deadline=None)  # the first pa.array of a list imports pandas (0.3 s)
@given(st.lists(st.one_of(st.none(), st.text()), max_size=40))
def test_text_array_equals_pyarrows(values):
    built = text_array(values)
    assert built.validate(full=True) is None
    assert built.equals(pa.array(values, pa.string()))
    assert built.to_pylist() == values


@settings(deadline=None)  # the first pa.array of a list imports pandas (0.3 s)
@given(st.lists(st.one_of(st.none(), st.floats(allow_nan=False), st.integers(-2 ** 53, 2 ** 53)), max_size=40))
def test_float_array_equals_pyarrows(values):
    built = float_array(values)
    assert built.validate(full=True) is None
    assert built.to_pylist() == [None if v is None else float(v) for v in values]
    assert built.null_count == values.count(None)


@pytest.mark.parametrize("values", [[], [None], [None] * 9, ["客户", None, " ", ""]])
def test_edges(values):
    assert text_array(values).to_pylist() == values


def test_table_keeps_names_and_order():
    t = arrow_table({"客户编号": text_array(["a", None]), "x": float_array([1.5, None])})
    assert t.column_names == ["客户编号", "x"]
    assert t.to_pylist() == [{"客户编号": "a", "x": 1.5}, {"客户编号": None, "x": None}]


def test_explain_against_the_store_imports_neither_pandas_nor_pyarrow(tmp_path):
    """The demo's explain against its rating store (the last ratings handed to DuckDB as lists, an xlsx
    source, a CSV one, the stored calibration): neither pandas nor pyarrow nor numpy is imported."""
    demo = tmp_path / "demo"
    subprocess.run([sys.executable, "-c", "from tierwise.cli.main import main; main()", "demo", str(demo),
                    "--customers", "300"], capture_output=True, text=True, check=True)
    script = textwrap.dedent(f"""
        import sys
        from tierwise.cli.main import cli
        cli(["explain", {str(demo / "relationship_rating.tier")!r}, "KH00001", "--as-of", "2026-06-30"],
            standalone_mode=False)
        print("imported:", sorted(m for m in ("pyarrow", "numpy", "pandas") if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=demo)
    assert "score" in out.stdout and "calibration: run" in out.stdout, out.stdout
    assert "change(年交易额): " in out.stdout and "no last stored value" not in out.stdout, out.stdout
    assert out.stdout.strip().splitlines()[-1] == "imported: []", out.stdout


def test_explain_without_a_store_does_not_import_pyarrow(tmp_path):
    """A sheet's cells go into DuckDB as query parameters (connector_util.text_table): rating one customer
    of CSV, xlsx and Parquet sources imports neither pyarrow nor numpy (0.37 s, more than the sheet's read)."""
    from tierwise.rulesets.demo_data import write_demo_data

    paths = write_demo_data(tmp_path, customers=300)
    ruleset = next(p for p in paths if p.suffix == ".tier")
    script = textwrap.dedent(f"""
        import sys
        from tierwise.cli.main import cli
        cli(["explain", {str(ruleset)!r}, "KH00001", "--as-of", "2026-06-30"], standalone_mode=False)
        print("imported:", sorted(m for m in ("pyarrow", "numpy", "pandas") if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert "score" in out.stdout, out.stdout
    assert out.stdout.strip().splitlines()[-1] == "imported: []", out.stdout


def test_a_run_over_parquet_into_parquet_does_not_import_pyarrow(tmp_path):
    """DuckDB reads the Parquet, holds it (a temporary table made with SQL: Ibis's create_table reads the
    schema back through Arrow) and writes --out itself: the run needs neither pyarrow nor numpy (0.3 s)."""
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": ["K1", "K2", "K3"], "x": [1.0, 5.0, 9.0]}), tmp_path / "c.parquet")
    (tmp_path / "r.tier").write_text('source c = parquet("c.parquet") key id\npoints 0..10\nscore 0..100\n'
                                     "indicator x = c.x weight 100% scale minmax\ntier A when score >= 50\n"
                                     "tier B otherwise\n", encoding="utf-8")
    script = textwrap.dedent("""
        import sys
        from tierwise.cli.main import cli
        cli(["run", "r.tier", "--as-of", "2026-06-30", "--no-store", "--out", "o.parquet", "--columns", "score,tier"],
            standalone_mode=False)
        print("imported:", sorted(m for m in ("pyarrow", "numpy", "pandas") if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert "wrote 3 ratings" in out.stdout, out.stdout
    assert out.stdout.strip().splitlines()[-1] == "imported: []", out.stdout
    assert pq.read_table(tmp_path / "o.parquet").to_pylist()[2] == {"id": "K3", "score": 100.0, "tier": "A"}


@pytest.mark.parametrize("rows", [0, 1, 3])
def test_a_list_table_comes_into_duckdb_as_through_arrow(rows):
    """The store's last ratings as lists (``ListTable``): DuckDB's table from the lists themselves equals the
    one through Arrow — names, order, types, missing values — whatever the number of rows."""
    from tierwise.engine.arrow_arrays import ListTable
    from tierwise.engine.backends.duckdb import DuckDBBackend

    keys, values, tiers = ["K1", "客户2", " K3 "][:rows], [1.5, None, -2.0][:rows], [None, "A", "B"][:rows]
    table = ListTable({"客户编号": keys, "年交易额": values, "tier": tiers},
                      {"客户编号": "text", "年交易额": "float", "tier": "text"})
    assert table.num_rows == rows
    be = DuckDBBackend.connect()
    try:
        direct, arrow = be.from_lists(table, "t_lists"), be.from_arrow(table.to_arrow(), "t_arrow")
        assert direct.schema() == arrow.schema()
        assert list(direct.columns) == ["客户编号", "年交易额", "tier"]
        assert be.fetch_rows(direct) == be.fetch_rows(arrow) == [
            {"客户编号": k, "年交易额": v, "tier": t} for k, v, t in zip(keys, values, tiers)]
    finally:
        be.close()


def test_a_list_table_says_what_is_wrong_with_it():
    from tierwise.engine.arrow_arrays import ListTable

    with pytest.raises(ValueError, match="text or float"):
        ListTable({"k": ["a"]}, {"k": "date"})
    with pytest.raises(ValueError, match="different lengths"):
        ListTable({"k": ["a"], "x": [1.0, 2.0]}, {"k": "text", "x": "float"})
