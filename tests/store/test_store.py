"""The rating store on SQLite and PostgreSQL: runs and ratings recorded atomically, read back, migrated."""
from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from datetime import date

import pytest
import sqlalchemy as sa

from tierwise.engine.store import RunRecord, Store
from tierwise.engine.store.store import StoreError


def record(run_id: str, ruleset: str = "客户评级", kind: str = "periodic") -> RunRecord:
    return RunRecord(id=run_id, kind=kind, ruleset=ruleset, version="2026.1", text_hash="h" * 64,
                     rule_text='ruleset "客户评级"\n', rule_file="/rules/r.tier", as_of=date(2026, 6, 30),
                     started_by="张三", calibration={"回款及时率": {"min": 0.1, "max": 0.9}},
                     sources=[{"name": "customers", "location": "c.csv", "size": 10, "sha256": "ab"}],
                     tier_counts={"A": 1, "B": 1})


def ratings(n: int, tier: str = "A") -> list[dict]:
    return [{"customer": f"KH{i:05d}", "score": 90.0 - i % 7, "computed_tier": tier, "final_tier": tier,
             "labels": "大单客户", "segments": '{"RFM分群": "重要价值"}', "indicator_values": '{"年交易额": 5000000}',
             "points": '{"年交易额": 10}', "reason": "periodic"} for i in range(n)]


def test_a_run_and_its_ratings_read_back(store_url):
    store = Store.open(store_url)
    assert store.record(record("run-1"), ratings(3)) == 3
    assert store.record(record("run-2"), ratings(2, "B")) == 2
    assert [r.id for r in store.runs()] == ["run-2", "run-1"]  # newest first
    run = store.run("run-1")
    assert (run.status, run.rows, run.started_by, run.as_of, run.rule_text) == (
        "complete", 3, "张三", date(2026, 6, 30), 'ruleset "客户评级"\n')
    assert run.finished_at >= run.started_at
    assert store.run("run") is None  # ambiguous prefix
    assert store.last_run("客户评级").id == "run-2"
    assert [(r.id, g.final_tier) for r, g in store.history("KH00001")] == [("run-1", "A"), ("run-2", "B")]
    assert [g.customer for g in store.ratings("run-1")] == ["KH00000", "KH00001", "KH00002"]
    store.close()


def test_a_failing_run_leaves_nothing_of_its_ratings(store_url):
    store = Store.open(store_url)

    def broken():
        yield from ratings(25_000)  # more than one batch is written before the failure
        raise RuntimeError("source vanished")

    with pytest.raises(RuntimeError):
        store.record(record("run-x"), broken())
    assert store.runs() == [] and store.history("KH00001") == []
    store.record_failure(record("run-x"), "source vanished")
    [failed] = store.runs()
    assert (failed.status, failed.error, failed.rows) == ("failed", "source vanished", 0)
    assert store.last_run("客户评级") is None  # a failed run is no basis for a later one
    store.close()


CHILD = textwrap.dedent("""
    import sys, time
    from datetime import date
    from tierwise.engine.store import RunRecord, Store
    store = Store.open(sys.argv[1])
    run = RunRecord(id="killed", kind="periodic", ruleset="客户评级", version=None, text_hash="h", rule_text="",
                    rule_file="r.tier", as_of=date(2026, 6, 30), started_by="张三")
    rows = ({"customer": f"KH{i:05d}", "score": 1.0, "final_tier": "A"} for i in range(100_000))
    def said(n):
        print(n, flush=True)
        if n >= 40_000:
            time.sleep(60)  # killed here, half-way through the run's ratings
    store.record(run, rows, on_batch=said)
""")


def test_a_run_killed_half_way_leaves_nothing_and_the_next_run_works(store_url):
    Store.open(store_url).close()
    child = subprocess.Popen([sys.executable, "-c", CHILD, store_url], stdout=subprocess.PIPE, text=True)
    for line in child.stdout:
        if int(line) >= 40_000:
            break
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL
    store = Store.open(store_url)
    assert store.runs() == [] and store.history("KH00001") == []
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM rating")).scalar() == 0
    assert store.record(record("next"), ratings(10)) == 10
    assert [r.id for r in store.runs()] == ["next"]
    store.close()


def test_the_migrations_build_exactly_the_models_schema(store_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from tierwise.engine.store.models import SQLModel

    store = Store.open(store_url)
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []
    store.close()


def test_a_store_that_cannot_be_opened_is_one_message_without_the_password(postgres_url):
    url = postgres_url.replace("postgres@", "postgres:s3cret@").rsplit("/", 1)[0] + "/no_such_db"
    with pytest.raises(StoreError) as err:
        Store.open(url)
    assert "no_such_db" in str(err.value) and "s3cret" not in str(err.value)


def test_head_names_the_newest_migration():
    """Store.open skips Alembic when the schema is at HEAD: HEAD must be the migrations' head."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from tierwise.engine.store.store import HEAD, MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(cfg).get_heads() == [HEAD]
