"""Spark (PySpark): for data that outgrows one machine (``--backend spark``; ``pip install 'tierwise[spark]'``).

Local mode (``local[2]``) unless the usual Spark settings name a cluster: ``SPARK_MASTER``,
spark-defaults.conf (``SPARK_CONF_DIR``), or ``--spark-conf spark.master=...``; every
``--spark-conf KEY=VALUE`` is passed to the session. Java 17 must be installed (``JAVA_HOME``,
else the ``java`` on PATH). One session per process: it takes seconds to start, so every
backend of a process shares it. The driver's memory is ``TIERWISE_MEMORY_LIMIT`` (unless
``spark.driver.memory`` is given) and Spark spills into ``TIERWISE_SPILL_DIR`` (``spark.local.dir``).

Sources: Parquet files Spark reads itself; the rest is read by the connectors on a DuckDB
staging connection and handed over as Parquet. Rows are numbered in file order at read time
(``monotonically_increasing_id``), so the first row of a duplicate key is the same as on DuckDB.
"""
from __future__ import annotations

import itertools
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .base import ROW_ORDER, Backend, Limits, PortableBuiltins, out_of_memory_message, typed_table_name

DEFAULT_MASTER = "local[2]"
_names = itertools.count()
_session: Any = None


def java_home() -> str | None:
    """JAVA_HOME, else the folder above the real path of ``java``'s bin/."""
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    java = shutil.which("java")
    return str(Path(java).resolve().parent.parent) if java else None


def session(conf: dict[str, str], limits: Limits) -> Any:
    """The process's Spark session (started on first use with ``conf``)."""
    global _session
    from ..plugin_api import DataError

    if _session is not None:
        for key, value in conf.items():  # runtime settings apply to the running session
            try:
                _session.conf.set(key, value)
            except Exception:  # a static setting (spark.master, spark.driver.memory): fixed at start
                pass
        return _session
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise DataError("--backend spark needs PySpark: pip install 'tierwise[spark]'") from None
    home = java_home()
    if home is None:
        raise DataError("--backend spark needs Java 17: install it, or set JAVA_HOME")
    os.environ["JAVA_HOME"] = home
    limits.spill_dir.mkdir(parents=True, exist_ok=True)
    settings = {
        "spark.ui.enabled": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.ansi.enabled": "false",  # x / 0 is NULL, as on DuckDB
        # TIERWISE_MEMORY_LIMIT when given; else at most 4 GB (a JVM heap of 75% of the machine starves the rest)
        "spark.driver.memory": f"{max(1024, limits.memory // 2 ** 20 if limits.explicit else min(limits.memory, 4 * 2 ** 30) // 2 ** 20)}m",
        "spark.local.dir": str(limits.spill_dir),
        "spark.sql.shuffle.partitions": "4",
        "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
    }
    settings.update(conf)
    builder = SparkSession.builder.appName("tierwise")
    if "spark.master" not in conf:
        builder = builder.master(os.environ.get("SPARK_MASTER") or default_master())
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        _session = builder.getOrCreate()
    except Exception as exc:
        raise DataError(f"cannot start Spark: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc}") from None
    _session.sparkContext.setLogLevel("ERROR")
    return _session


def default_master() -> str:
    """spark.master of spark-defaults.conf when there is one, else local mode."""
    conf_dir = os.environ.get("SPARK_CONF_DIR")
    if conf_dir and (Path(conf_dir) / "spark-defaults.conf").is_file():
        for line in (Path(conf_dir) / "spark-defaults.conf").read_text().splitlines():
            parts = line.split(None, 1)
            if len(parts) == 2 and parts[0] == "spark.master":
                return parts[1].strip()
    return DEFAULT_MASTER


class SparkBackend(PortableBuiltins, Backend):
    name = "spark"

    def __init__(self, spark: Any, limits: Limits):
        import ibis

        from .ibis_compilers import load_lazily

        load_lazily()
        self.spark = spark
        self.con = ibis.pyspark.connect(spark)
        self.limits = limits
        self._staging: Any = None
        self._scratch = Path(tempfile.mkdtemp(prefix="tierwise-spark-", dir=limits.spill_dir))
        self._views: list[str] = []
        self.con._tierwise_backend = self

    @classmethod
    def connect(cls, conf: dict[str, str]) -> "SparkBackend":
        limits = Limits.from_environment()
        return cls(session(conf, limits), limits)

    # ---- sources ------------------------------------------------------------------------------------
    @property
    def staging(self) -> Any:
        if self._staging is None:
            from .duckdb import connect_duckdb

            self._staging = connect_duckdb(self.limits)
        return self._staging

    def owns(self, table: Any) -> bool:
        try:
            return table._find_backend() is self.con
        except Exception:
            return False

    def _view(self, df: Any, name: str) -> Any:
        """``df`` numbered in order (ROW_ORDER) as the temporary view ``name``; its Ibis table."""
        from pyspark.sql import functions as F

        if ROW_ORDER not in df.columns:
            df = df.withColumn(ROW_ORDER, F.monotonically_increasing_id())
        view = f"tierwise_{re.sub(r'[^A-Za-z0-9_]', '_', name)}_{next(_names)}"
        df.createOrReplaceTempView(view)
        self._views.append(view)
        return self.con.table(view)

    def adopt(self, table: Any, name: str) -> Any:
        if self.owns(table):
            return table
        path = self._scratch / f"{name}_{next(_names)}.parquet"
        staging = self.staging
        select = []
        for col, dtype in table.schema().items():
            q = '"' + col.replace('"', '""') + '"'
            plain = dtype.is_string() or dtype.is_numeric() or dtype.is_boolean() or dtype.is_temporal()
            select.append(q if plain and not dtype.is_null() else f"CAST({q} AS VARCHAR) AS {q}")
        staging._run_pre_execute_hooks(table)
        query = f"SELECT {', '.join(select)} FROM ({staging.compile(table)})"
        with self.running():
            staging.raw_sql(f"COPY ({query}) TO '{str(path).replace(chr(39), chr(39) * 2)}' (FORMAT parquet)")
        return self._view(self.spark.read.parquet(str(path)), name)

    def _readable(self, path: Any) -> str:
        """A path Spark reads: Spark skips a file or folder whose name starts with ``.`` or ``_`` as hidden
        even when it is named explicitly (UNABLE_TO_INFER_SCHEMA) — such as the run's ``.OUT.partial``
        beside ``--out`` — so that one is read through a symbolic link with a plain name in the scratch
        folder."""
        path = Path(path)
        if not path.name.startswith((".", "_")):
            return str(path)
        link = self._scratch / f"read_{next(_names)}_{path.name.lstrip('._') or 'data'}"
        link.symlink_to(path.resolve())
        return str(link)

    def read_native(self, kind: str, **what: Any) -> Any | None:
        if kind == "parquet":
            return self._view(self.spark.read.parquet(*(self._readable(f) for f in what["files"])), "parquet")
        return None

    def prepared(self, table: Any, source: str) -> Any:
        """Typed sources computed once (Catalyst re-plans the parsing of text cells in every query)."""
        return self.materialise(table, typed_table_name(source))

    def held_typed(self, table: Any, source: str) -> Any:
        return table  # prepared: materialised already

    # ---- running ------------------------------------------------------------------------------------
    def out_of_memory(self, exc: BaseException) -> bool:
        text = str(exc)
        return "java.lang.OutOfMemoryError" in text or "No space left on device" in text

    def memory_message(self) -> str:
        return out_of_memory_message(self.limits, "Spark", f"spark.driver.memory, spilling to {self.limits.spill_dir}")

    def fetch_tuples(self, expr: Any) -> tuple[list[str], list[tuple[Any, ...]]]:
        with self.running():
            self.con._run_pre_execute_hooks(expr)
            df = self.spark.sql(self.con.compile(expr))
            return list(df.columns), [tuple(r) for r in df.collect()]

    def materialise(self, expr: Any, name: str) -> Any:
        with self.running():
            self.con._run_pre_execute_hooks(expr)
            df = self.spark.sql(self.con.compile(expr)).localCheckpoint()
        df.createOrReplaceTempView(name)
        self._views.append(name)
        return self.con.table(name)

    def write_parquet(self, expr: Any, path: Path) -> None:
        """One Parquet file (Spark writes a folder of parts: one part, moved to ``path``)."""
        folder = self._scratch / f"out_{next(_names)}"
        with self.running():
            self.con._run_pre_execute_hooks(expr)
            self.spark.sql(self.con.compile(expr)).coalesce(1).write.parquet(str(folder))
        (part,) = folder.glob("part-*.parquet")
        shutil.move(str(part), str(path))
        shutil.rmtree(folder, ignore_errors=True)

    def read_parquet(self, path: Path, name: str) -> Any:
        df = self.spark.read.parquet(self._readable(path))
        df.createOrReplaceTempView(name)
        self._views.append(name)
        return self.con.table(name)

    def from_arrow(self, table: Any, name: str) -> Any:
        return self.adopt(self.staging.create_table(name, table, temp=True), name)

    def close(self) -> None:
        """Drops this backend's views; the session stays for the process's next backend."""
        for view in self._views:
            self.spark.catalog.dropTempView(view)
        self._views.clear()
        if self._staging is not None:
            self._staging.disconnect()
            self._staging = None
        shutil.rmtree(self._scratch, ignore_errors=True)

    # ---- built-ins ------------------------------------------------------------------------------------
    def local_timestamp(self, zone: str, ts: Any) -> Any:
        from .portable import spark_from_utc

        return spark_from_utc(ts, zone)
