"""Ibis's SQL compilers load one at a time (engine/backends/ibis_compilers.py): a command on DuckDB imports
DuckDB's compiler, not the twenty dialects' (0.3–0.45 s), and every name the package exports is the
object Ibis's own ``__init__`` would have bound."""
import ast
import importlib.util
import subprocess
import sys
import textwrap

from tierwise.engine.backends.ibis_compilers import PACKAGE, exported, load_lazily


def package_source() -> str:
    spec = importlib.util.find_spec(PACKAGE)
    assert spec is not None and spec.origin is not None
    with open(spec.origin, encoding="utf-8") as f:
        return f.read()


def declared_all(source: str) -> list[str]:
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise AssertionError("no __all__")


def test_every_exported_name_is_read_off_the_package_source():
    source = package_source()
    names = exported(source)
    assert sorted(names) == sorted(declared_all(source))
    assert names["DuckDBCompiler"] == "duckdb" and names["PySparkCompiler"] == "pyspark"


def test_a_package_with_other_statements_is_left_as_written():
    source = package_source()
    assert exported(source + "\nDEFAULT = DuckDBCompiler\n") == {}
    assert exported("import os\nfrom ibis.backends.sql.compilers.duckdb import DuckDBCompiler\n") == {}


def test_already_imported_is_left_alone():
    import ibis.backends.sql.compilers  # noqa: F401  (this test process may have it already)

    assert load_lazily() is False


def run_python(script: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()


def test_rating_on_duckdb_imports_only_duckdbs_compiler():
    lines = run_python("""
        import sys
        from tierwise.engine.backends import open_backend
        be = open_backend("duckdb")
        be.con.raw_sql("CREATE TEMP TABLE n AS SELECT 1 AS x UNION ALL SELECT 2")
        t = be.con.table("n")
        print(sorted(r["x"] for r in be.fetch_rows(t.mutate(y=t.x * 2))))
        print(sorted(m.rsplit(".", 1)[1] for m in sys.modules if m.startswith("ibis.backends.sql.compilers.")))
    """)
    assert lines == ["[1, 2]", "['_compat', 'base', 'duckdb']"]


def test_the_lazy_package_binds_what_ibis_binds():
    """Each exported name, a submodule by attribute (``sc.postgres``, as Ibis's backends read it) and
    ``from … import`` give the classes of the submodules; an unknown name is an AttributeError."""
    lines = run_python(f"""
        import importlib
        from tierwise.engine.backends.ibis_compilers import load_lazily, exported
        assert load_lazily()
        import ibis.backends.sql.compilers as sc
        source = open(importlib.util.find_spec({PACKAGE!r}).origin, encoding="utf-8").read()
        for name, module in exported(source).items():
            assert getattr(sc, name) is getattr(importlib.import_module({PACKAGE!r} + "." + module), name), name
        from ibis.backends.sql.compilers import PostgresCompiler
        assert sc.postgres.compiler.__class__ is PostgresCompiler
        try:
            sc.no_such_dialect
        except AttributeError as exc:
            print("AttributeError:", exc)
        print(len(sc.__all__))
    """)
    assert lines == ["AttributeError: module 'ibis.backends.sql.compilers' has no attribute 'no_such_dialect'",
                     str(len(declared_all(package_source())))]
