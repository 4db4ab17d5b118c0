"""Built-in connectors: csv, xlsx, parquet, json, sql (one module each, registered here).

Text sources (csv, xlsx) come in as text columns: the engine types each column by how the
rules use it and counts the cells that do not parse. Empty cells are NULL. Problems with a
file (encoding, ragged lines, duplicate column names, the wrong kind of file) are DataErrors
with one clear line. Heavy libraries are imported inside ``open``.
"""
from __future__ import annotations

from tierwise.engine.hookspecs import hookimpl
from tierwise.engine.plugin_api import Connector

from .connectors_csv import CsvConnector, CsvOptions
from .connectors_parquet_json import JsonConnector, JsonOptions, ParquetConnector, ParquetOptions
from .connectors_sql import SqlConnector, SqlOptions
from .connectors_xlsx import XlsxConnector, XlsxOptions
from .sql_secrets import mask_url

__all__ = ["CsvConnector", "CsvOptions", "JsonConnector", "JsonOptions", "ParquetConnector", "ParquetOptions",
           "SqlConnector", "SqlOptions", "XlsxConnector", "XlsxOptions", "mask_url"]


@hookimpl
def tierwise_register_connectors() -> list[type[Connector]]:
    return [CsvConnector, XlsxConnector, ParquetConnector, JsonConnector, SqlConnector]
