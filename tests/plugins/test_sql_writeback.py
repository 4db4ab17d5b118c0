"""sql(url, table, key_column, columns): the CRM write-back upserts final tier, score and rating time by key, on
SQLite and on the real PostgreSQL server; creates nothing; the password only from the environment."""
from __future__ import annotations

import socket
import uuid
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from action_helpers import deliver, item, record_run, store_at
from click.testing import CliRunner

from tierwise.cli.main import cli
from tierwise.engine.plugin_api import DELIVERED, FAILED, PENDING

COLUMNS = "tier=客户等级, score=评分, rated_at=评级时间, run=评级批次"


@pytest.fixture(params=["sqlite", "postgresql"])
def crm(request, tmp_path):
    """(the URL a rule file writes, the URL to look with): a CRM database holding the table to write."""
    if request.param == "sqlite":
        url = "sqlite:///crm.db"  # relative: to the rule file's folder (base_dir)
        look = f"sqlite:///{tmp_path / 'crm.db'}"
    else:
        server = request.getfixturevalue("postgres_url")
        name = f"crm_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        look = server.rsplit("/", 1)[0] + f"/{name}"
        url = look.replace("postgresql+psycopg://", "postgresql://")  # as a rule file writes it
    engine = sa.create_engine(look)
    meta = sa.MetaData()
    sa.Table("customer_rating", meta, sa.Column("客户编号", sa.String(20), primary_key=True),
             sa.Column("客户等级", sa.String(4)), sa.Column("评分", sa.Float), sa.Column("评级时间", sa.DateTime),
             sa.Column("评级批次", sa.String(64)), sa.Column("备注", sa.String(100)))
    sa.Table("numbered", meta, sa.Column("id", sa.Integer, primary_key=True), sa.Column("tier", sa.String(4)),
             sa.Column("score", sa.Float), sa.Column("rated_at", sa.String(40)))
    sa.Table("no_key", meta, sa.Column("客户编号", sa.String(20)), sa.Column("tier", sa.String(4)))
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO customer_rating (客户编号, 客户等级, 备注) VALUES ('K1', 'C', '老客户')"))
    yield url, engine
    engine.dispose()


def rows(engine, table="customer_rating"):
    t = sa.Table(table, sa.MetaData(), autoload_with=engine)  # typed: a DATETIME column reads as datetime
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(t).order_by(list(t.c)[0]))]


def options(url, **kw):
    return {"url": url, "table": "customer_rating", "key_column": "客户编号", "columns": COLUMNS, **kw}


def test_upsert_by_key_and_a_repeated_delivery_writes_nothing_new(crm, tmp_path):
    url, engine = crm
    store = store_at(tmp_path)
    record_run(store, "run-1", {"K1": "A", "K2": "B"})
    finished = store.run("run-1").finished_at.replace(tzinfo=None)
    items = [item("K1", "A", 91.5, previous="C"), item("K2", "B", 72.0)]
    log: list[str] = []
    results = deliver("sql", options(url), items, base_dir=tmp_path, store=store, log=log)
    assert [r.status for r in results] == [DELIVERED, DELIVERED], results
    assert "rows=2" in log[0]
    expected = [("K1", "A", 91.5, finished, "run-1", "老客户"), ("K2", "B", 72.0, finished, "run-1", None)]
    assert rows(engine) == expected  # the columns tierwise does not write are left as they were
    again = deliver("sql", options(url), items, base_dir=tmp_path, store=store)
    assert {r.status for r in again} == {DELIVERED}
    assert rows(engine) == expected
    store.close()


def test_a_late_retry_of_an_older_run_does_not_overwrite_a_newer_rating(crm, tmp_path):
    url, engine = crm
    store = store_at(tmp_path)
    record_run(store, "run-1", {"K1": "B"}, minutes=0)
    record_run(store, "run-2", {"K1": "A"}, minutes=60)
    deliver("sql", options(url), [item("K1", "A", 95.0, run="run-2")], run="run-2", base_dir=tmp_path, store=store)
    [late] = deliver("sql", options(url), [item("K1", "B", 70.0, run="run-1")], run="run-1", base_dir=tmp_path,
                     store=store)
    assert late.status == DELIVERED
    assert rows(engine)[0][:3] == ("K1", "A", 95.0) and rows(engine)[0][4] == "run-2"
    store.close()


def test_default_columns_an_integer_key_and_a_row_the_database_refuses(crm, tmp_path):
    url, engine = crm
    opts = {"url": url, "table": "numbered", "key_column": "id"}  # columns: tier, score, rated_at
    results = deliver("sql", opts, [item("1001", "A", 90.0), item("KH1", "B", 70.0), item("1002", "TOOLONG", 1.0),
                                    item("1003", "C", 55.0)], base_dir=tmp_path)
    status = [r.status for r in results]
    assert status[0] == DELIVERED and status[3] == DELIVERED
    assert status[1] == FAILED and "'KH1' is not a whole number" in results[1].detail
    if engine.dialect.name == "postgresql":  # SQLite keeps any length in a VARCHAR(4)
        assert status[2] == FAILED and "numbered refused the row" in results[2].detail
    got = rows(engine, "numbered")
    assert [(r[0], r[1], r[2]) for r in got if r[0] != 1002] == [(1001, "A", 90.0), (1003, "C", 55.0)]
    assert datetime.fromisoformat(got[0][3]).year >= 2026  # a text column gets the time as ISO text


def test_it_creates_nothing_and_says_what_is_missing(crm, tmp_path):
    url, engine = crm
    tables = set(sa.inspect(engine).get_table_names())
    [r] = deliver("sql", options(url, table="customer_ratings"), [item("K1", "A")], base_dir=tmp_path)
    assert r.status == FAILED and "no table 'customer_ratings'" in r.detail
    assert "did you mean 'customer_rating'" in r.detail
    [r] = deliver("sql", options(url, columns="tier=客户级别, score=评分"), [item("K1", "A")], base_dir=tmp_path)
    assert r.status == FAILED and "has no column 客户级别 (did you mean 客户等级?)" in r.detail
    [r] = deliver("sql", {"url": url, "table": "no_key", "key_column": "客户编号", "columns": "tier"},
                  [item("K1", "A")], base_dir=tmp_path)
    assert r.status == FAILED and "no unique index" in r.detail
    assert set(sa.inspect(engine).get_table_names()) == tables
    assert rows(engine) == [("K1", "C", None, None, None, "老客户")]


def test_a_missing_sqlite_file_is_not_created(tmp_path):
    [r] = deliver("sql", options("sqlite:///nowhere.db"), [item("K1", "A")], base_dir=tmp_path)
    assert r.status == FAILED and "no SQLite database at" in r.detail
    assert not (tmp_path / "nowhere.db").exists()


def test_an_unreachable_database_leaves_the_deliveries_pending_and_no_password_in_the_message(tmp_path,
                                                                                             monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there
    monkeypatch.setenv("CRM_PASSWORD", "Very$ecret-42")
    results = deliver("sql", options(f"postgresql://crm@127.0.0.1:{port}/crm", password_env="CRM_PASSWORD"),
                      [item("K1", "A"), item("K2", "B")], base_dir=tmp_path)
    assert [r.status for r in results] == [PENDING, PENDING]
    assert "cannot write to postgresql+psycopg://crm:***@127.0.0.1" in results[0].detail
    assert "Very$ecret-42" not in results[0].detail
    monkeypatch.delenv("CRM_PASSWORD")
    [r] = deliver("sql", options(f"postgresql://crm@127.0.0.1:{port}/crm", password_env="CRM_PASSWORD"),
                  [item("K1", "A")], base_dir=tmp_path)
    assert r.status == FAILED and "password_env names CRM_PASSWORD, which is not set" in r.detail


def test_the_postgres_password_comes_from_the_environment(postgres_url, tmp_path, monkeypatch):
    """The server of the tests trusts every local user, so what is checked is that the password reaches the
    driver from TIERWISE_PG_PASSWORD (then PGPASSWORD) and is never in a message."""
    from tierwise.plugins.sql_writeback import SqlWriteOptions, database_url

    opts = SqlWriteOptions(**options(postgres_url.replace("postgresql+psycopg://", "postgresql://")))
    monkeypatch.delenv("TIERWISE_PG_PASSWORD", raising=False)
    monkeypatch.setenv("PGPASSWORD", "from-pgpassword")
    assert database_url(opts, tmp_path).password == "from-pgpassword"
    monkeypatch.setenv("TIERWISE_PG_PASSWORD", "from-tierwise")
    url = database_url(opts, tmp_path)
    assert url.password == "from-tierwise" and url.drivername == "postgresql+psycopg"
    assert "from-tierwise" not in url.render_as_string(hide_password=True)


def test_check_refuses_a_password_in_the_rule_file_and_unknown_fields(tmp_path):
    (tmp_path / "c.csv").write_text("id,a\n1,2\n", encoding="utf-8")
    rules = tmp_path / "r.tier"
    base = 'source c = csv("c.csv") key id\nindicator a = c.a weight 100%\ntier A when score >= 5\ntier B otherwise\n'
    rules.write_text(base + 'on tier A -> sql(url: "postgresql://crm:hunter22@db/crm", table: "t", key_column: "k")\n'
                            'on tier B -> sql(url: "sqlite:///crm.db", table: "t", key_column: "k", '
                            'columns: "tier=等级, scroe=评分")\n', encoding="utf-8")
    res = CliRunner().invoke(cli, ["check", str(rules)])
    assert res.exit_code == 1
    assert "r.tier:5:" in res.output and "a password in the rule file" in res.output
    assert "r.tier:6:" in res.output and "'scroe' is not something tierwise writes" in res.output
    assert "did you mean 'score'?" in res.output
    assert "Traceback" not in res.output
    rules.write_text(base + 'on tier A -> sql("sqlite:///crm.db", table: "t", key_column: "k", columns: "tier, score, '
                            'rated_at=评级时间, as_of=评级日期, run")\n', encoding="utf-8")
    assert CliRunner().invoke(cli, ["check", str(rules)]).exit_code == 0


def test_as_of_and_text_times_are_written_as_the_column_takes_them(tmp_path):
    path = tmp_path / "crm.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (k TEXT PRIMARY KEY, d DATE, at TEXT, why TEXT, was TEXT)"))
    store = store_at(tmp_path)
    record_run(store, "run-1", {"K1": "A"})
    deliver("sql", {"url": "sqlite:///crm.db", "table": "t", "key_column": "k",
                    "columns": "as_of=d, rated_at=at, reason=why, previous_tier=was"},
            [item("K1", "A", reason="enter A", previous="B")], base_dir=tmp_path, store=store)
    with engine.connect() as conn:
        [(k, d, at, why, was)] = list(conn.execute(sa.text("SELECT * FROM t")))
    assert (k, d, why, was) == ("K1", "2026-06-30", "enter A", "B")
    stored = store.run("run-1").finished_at.replace(tzinfo=timezone.utc)
    assert datetime.fromisoformat(at) == stored.replace(microsecond=0)
    engine.dispose()
    store.close()
