"""Shared test helpers, and a throwaway PostgreSQL server for the tests that need one (skipped where
the PostgreSQL server programs are not installed — except in CI, where .ci/run installs them and sets
TIERWISE_REQUIRE_POSTGRES=1, so a missing server fails)."""
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def shared_example(name: str) -> Path:
    """A rule file of shared/examples: the workspace's own copy when the clone sits beside it,
    else the copy kept in tests/shared_examples (a clone on its own, e.g. in /tmp)."""
    beside = ROOT.parent / "shared" / "examples" / name
    return beside if beside.exists() else ROOT / "tests" / "shared_examples" / name


def _pg_program(name: str) -> str | None:
    installed = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))  # Debian keeps them off PATH
    return shutil.which(name) or (installed[-1] if installed else None)


def _unavailable(reason: str):
    if os.environ.get("TIERWISE_REQUIRE_POSTGRES"):
        pytest.fail(f"PostgreSQL is required here (TIERWISE_REQUIRE_POSTGRES): {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url():
    """A URL of a PostgreSQL server started for this test session (as user postgres when run as root)."""
    initdb, pg_ctl = _pg_program("initdb"), _pg_program("pg_ctl")
    if not initdb or not pg_ctl:
        _unavailable("PostgreSQL server programs (initdb, pg_ctl) are not installed")
    base = Path(tempfile.mkdtemp(prefix="tierwise-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            _unavailable("running as root and there is no postgres user to start PostgreSQL as")
        prefix = [shutil.which("runuser") or "runuser", "-u", "postgres", "--"]
        os.chown(base, user.pw_uid, user.pw_gid)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = base / "data"
    try:
        subprocess.run(prefix + [initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"],
                       check=True, capture_output=True)
        subprocess.run(prefix + [pg_ctl, "-D", str(data), "-l", str(base / "log"), "-w", "-o",
                                 f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                       check=True, capture_output=True)
    except (subprocess.CalledProcessError, OSError) as exc:
        shutil.rmtree(base, ignore_errors=True)
        _unavailable(f"could not start PostgreSQL: {exc}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(prefix + [pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def spark_backend():
    """One Spark session (local[2]) for the whole test session: it takes ~10 s to start. Skipped where
    PySpark or Java is missing — except in CI (TIERWISE_REQUIRE_SPARK=1, set by .ci/run)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        if os.environ.get("TIERWISE_REQUIRE_SPARK"):
            pytest.fail("Spark is required here (TIERWISE_REQUIRE_SPARK): pip install '.[spark]'")
        pytest.skip("PySpark is not installed (pip install '.[spark]')")
    from tierwise.engine.backends.spark import java_home

    if java_home() is None:
        if os.environ.get("TIERWISE_REQUIRE_SPARK"):
            pytest.fail("Spark is required here (TIERWISE_REQUIRE_SPARK): no Java (set JAVA_HOME)")
        pytest.skip("no Java for Spark (set JAVA_HOME)")
    from tierwise.engine.backends import open_backend

    backend = open_backend("spark")
    yield backend
    backend.close()
