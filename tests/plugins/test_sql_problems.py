"""The sql connector: awkward column types (SQLite affinity, PostgreSQL uuid/jsonb/numeric/arrays),
SQLite paths relative to the rule file, and passwords kept out of every message."""
import datetime as dt
import sqlite3
import uuid

import pytest
import sqlalchemy as sa

from tierwise.engine.fetch import fetch_rows
from tierwise.engine.plugin_api import DataError
from tierwise.plugins.connectors import SqlConnector, SqlOptions
from tierwise.plugins.sql_secrets import mask_url, normalize_url, scrub

from connector_helpers import rule_file, run_rules


def read(ctx, **options):
    return SqlConnector().open(SqlOptions(**options), ctx)


def error(ctx, **options) -> str:
    with pytest.raises(DataError) as err:
        read(ctx, **options)
    return str(err.value)


@pytest.fixture
def crm(tmp_path):
    """A SQLite file whose REAL and DATE columns hold text, as SQLite allows."""
    with sqlite3.connect(tmp_path / "crm.db") as conn:
        conn.execute("create table customers (客户编号 text, 收入 real, 签约 date, 级别 numeric)")
        conn.executemany("insert into customers values (?, ?, ?, ?)",
                         [("K1", 5e6, "2019-01-01", 1), ("K2", "abc", "not a date", "1.5"), ("K3", 2.5, None, None)])
    return tmp_path / "crm.db"


def test_sqlite_columns_with_mixed_values_come_through_as_text(ctx, crm):
    table = read(ctx, url="sqlite:///crm.db", table="customers")
    assert [tuple(r.values()) for r in fetch_rows(table)] == [
        ("K1", "5000000", "2019-01-01", 1.0), ("K2", "abc", "not a date", 1.5), ("K3", "2.5", None, None)]


def test_a_bad_sqlite_cell_is_counted_by_the_engine_not_fatal(tmp_path, crm):
    rules = rule_file(tmp_path, 'source c = sql("sqlite:///crm.db", table: "customers") key 客户编号', "c.收入")
    result = run_rules(rules)
    assert result.exit_code == 0, result.output
    assert "1 row(s): not a number (treated as missing) in c.收入 — e.g. K2: 'abc'" in result.stderr


def test_a_relative_sqlite_path_is_relative_to_the_rule_file_and_must_exist(ctx, crm, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the current directory must not matter
    assert len(fetch_rows(read(ctx, url="sqlite:///crm.db", table="customers"))) == 3
    assert error(ctx, url="sqlite:///crn.db", table="customers") == \
        f"file not found: {tmp_path / 'crn.db'} — did you mean 'crm.db'?"
    assert not (tmp_path / "crn.db").exists() and not (elsewhere / "crn.db").exists()
    (tmp_path / "notes.db").write_text("not a database", encoding="utf-8")
    assert error(ctx, url="sqlite:///notes.db", table="t") == "notes.db is not a SQLite database"


def test_query_results_need_distinct_names_and_keep_colons(ctx, crm):
    assert error(ctx, url="sqlite:///crm.db", query="select 客户编号, 客户编号 from customers").startswith(
        "column 客户编号 appears twice in the query's result (columns 1 and 2) — give them different names with AS")
    got = fetch_rows(read(ctx, url="sqlite:///crm.db", query="select '10:30' as t, 客户编号 from customers limit 1"))
    assert got == [{"t": "10:30", "客户编号": "K1"}]


def test_a_missing_table_suggests_one(ctx, crm):
    assert error(ctx, url="sqlite:///crm.db", table="customer") == \
        "no table 'customer' in sqlite:///crm.db — did you mean 'customers'?"


@pytest.mark.parametrize("url, shown", [
    ("postgresql+psycopg://u:s3cret-pw@127.0.0.1:1/x", "postgresql+psycopg://u:***@127.0.0.1:1/x"),
    ("postgresql+psycopg://:s3cret-pw@127.0.0.1:1/x", "postgresql+psycopg://:***@127.0.0.1:1/x"),
    ("postgresql+psycopg://u:s3cret@pw@127.0.0.1:1/x", "postgresql+psycopg://u:***@127.0.0.1:1/x"),
    ("postgresql+psycopg://u@127.0.0.1:1/x?password=s3cret-pw", "postgresql+psycopg://u@127.0.0.1:1/x?password=***"),
    ("postgresql+psycopg://u:s3cret%40pw@127.0.0.1:1/x", "postgresql+psycopg://u:***@127.0.0.1:1/x"),
])
def test_an_unreachable_postgresql_never_shows_the_password(ctx, url, shown):
    msg = error(ctx, url=url, table="t")
    assert msg.startswith(f"reading {shown} failed: ") and "Connection refused" in msg
    for part in ("s3cret", "pw@", "%40"):
        assert part not in msg


def test_libpq_strings_and_bad_urls_never_show_the_password(ctx):
    msg = error(ctx, url="host=127.0.0.1 port=1 password='s3cret pw' dbname=x", table="t")
    assert "is a libpq connection string, not a URL" in msg and "s3cret" not in msg
    for url in ("postgres://u:s3cret@127.0.0.1:1/x", "postgresql+psycopg://u:s3cret@127.0.0.1:port/x",
                "nosuchdb+driver://u:s3cret@h/x"):
        msg = error(ctx, url=url, table="t")
        assert "s3cret" not in msg and "***" in msg


def test_masking_and_scrubbing_rules():
    assert mask_url("sqlite:///crm.db") == "sqlite:///crm.db"
    assert mask_url("host=db user=u password=p@ss sslmode=require") == "host=db user=u password=*** sslmode=require"
    assert normalize_url("postgresql://u:p@ss@db:5432/x") == "postgresql://u:p%40ss@db:5432/x"
    assert normalize_url("postgresql://u:pw@db/x?application_name=a@b") == "postgresql://u:pw@db/x?application_name=a@b"
    url = "postgresql://u:p@ss-word@db/x"
    driver_text = 'could not connect to server "ss-word@db" with password p@ss-word via postgresql://u:p@ss-word@db/x'
    cleaned = scrub(driver_text, url)
    assert "p@ss-word" not in cleaned and "postgresql://u:***@db/x" in cleaned
    assert scrub("role abc: token=abc", "postgresql://u:abc@db/x") == "role ***: token=***"


@pytest.fixture
def pg_table(postgres_url):
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("drop table if exists 客户")
        conn.exec_driver_sql(
            "create table 客户 (id uuid primary key, extra jsonb, 金额 numeric(12,2), 大数 numeric, "
            "标签 text[], 签约 timestamptz, 日期 date, 时长 interval, ip inet)")
        conn.exec_driver_sql(
            "insert into 客户 values "
            "('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"x\": 1}', 1200.50, 123456789012345678901234567890, "
            "'{大客户,华南}', '2026-05-01 10:00+08', '2026-05-01', '1 day', '10.0.0.1'), "
            "('b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\"12%%\"', null, 1.5, null, null, null, null, null)")
    engine.dispose()
    return postgres_url


def test_postgresql_awkward_types_come_through(ctx, pg_table):
    table = read(ctx, url=pg_table, table="客户", batch_size=1)
    rows = fetch_rows(table.drop("签约"))
    assert rows[0]["id"] == str(uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"))
    assert [r["extra"] for r in rows] == ['{"x": 1}', "12%"]
    assert rows[0]["金额"] == 1200.5 and rows[1]["金额"] is None
    assert [r["大数"] for r in rows] == ["123456789012345678901234567890", "1.5"]
    assert rows[0]["标签"] == '["大客户", "华南"]' and rows[0]["日期"] == dt.date(2026, 5, 1)
    signed = dt.datetime(2026, 5, 1, 2, 0, tzinfo=dt.timezone.utc)  # an instant, kept with its zone
    assert table.schema()["签约"].timezone == "UTC"
    assert fetch_rows(table.select(s=table["签约"].epoch_seconds()))[0]["s"] == signed.timestamp()
    assert rows[0]["时长"] == "1 day, 0:00:00" and rows[0]["ip"] == "10.0.0.1"


def test_a_postgresql_uuid_key_and_jsonb_values_rate_in_a_run(tmp_path, pg_table, monkeypatch):
    monkeypatch.setenv("TIERWISE_TEST_PG", pg_table)
    rules = rule_file(tmp_path, 'source c = sql(env("TIERWISE_TEST_PG"), table: "客户") key id', "c.extra")
    result = run_rules(rules, "--out", str(tmp_path / "out.csv"))
    assert result.exit_code == 0, result.output
    assert "1 row(s): not a number (treated as missing) in c.extra" in result.stderr
    out = (tmp_path / "out.csv").read_text(encoding="utf-8-sig")
    assert '"b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",1,"B",0.12' in out
