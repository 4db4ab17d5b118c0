"""Fixtures for the connector tests: a DuckDB connector context (the PostgreSQL server is
tests/conftest.py's ``postgres_url``)."""
from __future__ import annotations

import ibis
import pytest

from tierwise.engine.plugin_api import ConnectorContext


@pytest.fixture
def ctx(tmp_path):
    return ConnectorContext(con=ibis.duckdb.connect(), base_dir=tmp_path, temp_dir=tmp_path / "tmp")
