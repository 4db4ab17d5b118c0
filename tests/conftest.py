"""Shared test helpers, and a throwaway PostgreSQL server for the tests that need one (skipped where
the PostgreSQL server programs are not installed — except in CI, where .ci/run installs them and sets
TIERWISE_REQUIRE_POSTGRES=1, so a missing server fails)."""
import contextlib
import os

import pytest
from pg_server import PostgresUnavailable, postgres_server

from example_paths import ROOT, shared_example  # noqa: F401  (re-exported for the tests' fixtures)


def _unavailable(reason: str):
    if os.environ.get("TIERWISE_REQUIRE_POSTGRES"):
        pytest.fail(f"PostgreSQL is required here (TIERWISE_REQUIRE_POSTGRES): {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url():
    """A URL of a PostgreSQL server started for this test session (tests/pg_server.py)."""
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(postgres_server())
        except PostgresUnavailable as exc:
            _unavailable(str(exc))
        yield url


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
