"""The write step: results as .csv (UTF-8 with BOM, so Excel shows Chinese), .parquet or .xlsx.

CSV and xlsx get clean numbers (engine.numbers: no float noise); Parquet keeps the full doubles.
A run's .xlsx is the ratings workbook (engine.workbook); headers follow engine.headers.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .headers import header_names, language_for
from .numbers import clean_table
from .plugin_api import DataError
from .workbook import XLSX_MAX_ROWS, write_table_workbook  # noqa: F401  (XLSX_MAX_ROWS re-exported)

SUFFIXES = (".csv", ".parquet", ".xlsx")


def check_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"cannot write {path.name}: the output must end in .csv, .parquet or .xlsx")
    return suffix


def write_output(table: Any, path: Path, kinds: dict[str, str] | None = None) -> None:
    """Write a table as .csv (UTF-8 with BOM, so Excel shows Chinese), .parquet or .xlsx (one sheet)."""
    suffix = check_suffix(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, path)
    elif suffix == ".csv":
        import pyarrow.csv as pacsv

        with open(path, "wb") as fh:
            fh.write(b"\xef\xbb\xbf")
            pacsv.write_csv(clean_table(table), fh)
    else:
        write_table_workbook(table, path, kinds)


def renamed(table: Any, names: list[str]) -> Any:
    return table if names == table.column_names else table.rename_columns(names)


def write_results(outcome: Any, path: Path, headers: str | None = None) -> None:
    """A run's results (engine.run.RunOutcome): .xlsx as the ratings workbook (ratings, summary, data
    quality); .csv and .parquet as the result table. ``headers``: en|zh (default: the ruleset's
    language in .xlsx, the machine names in .csv and .parquet)."""
    suffix = check_suffix(path)
    language = language_for(outcome.plan, path, headers)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".xlsx":
        from .workbook import write_ratings_workbook

        write_ratings_workbook(outcome, path, language)
        return
    table = outcome.table
    write_output(renamed(table, header_names(outcome.plan, table.column_names, language)), path)


def scorecard_table(plan: Any, card: Any, language: str) -> Any:
    """A scorecard's lines as a table (the .csv / .parquet form of ``explain --out``)."""
    import pyarrow as pa

    names = ["dimension", "kind", "name", "value", "rule", "points", "declared_weight", "weight", "share",
             "contribution"]
    rows = [{"dimension": ln.dimension, "kind": ln.kind, "name": ln.name,
             "value": None if ln.value is None else str(ln.value), "rule": ln.rule, "points": ln.points,
             "declared_weight": ln.declared_weight, "weight": ln.weight, "share": ln.share,
             "contribution": ln.contribution} for ln in card.lines]
    rows.append({"kind": "total", "name": "score", "contribution": card.score,
                 "rule": " ".join(filter(None, [card.tier, card.tier_label]))})
    schema = pa.schema([(n, pa.float64() if n in ("points", "declared_weight", "weight", "share", "contribution")
                         else pa.string()) for n in names])
    table = pa.Table.from_pylist(rows, schema=schema)
    if language == "zh":
        zh = {"dimension": "维度", "kind": "类别", "name": "指标", "value": "指标值", "rule": "评分规则",
              "points": "得分", "declared_weight": "规定权重", "weight": "权重", "share": "占总分权重",
              "contribution": "得分贡献"}
        table = table.rename_columns([zh[n] for n in names])
    return table


def write_scorecard(plan: Any, card: Any, path: Path, headers: str | None = None) -> None:
    """``explain --out``: .xlsx as the rating form with formulas (engine.scorecard_workbook); .csv and
    .parquet as the scorecard's lines."""
    suffix = check_suffix(path)
    language = language_for(plan, path, headers)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".xlsx":
        from .scorecard_workbook import write_scorecard_workbook

        write_scorecard_workbook(plan, card, path, language)
    else:
        write_output(scorecard_table(plan, card, language), path)
