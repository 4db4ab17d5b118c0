"""``export(path)``: the customers an ``on`` line selected, into a .csv (UTF-8 with BOM) or .xlsx file.

The file holds one run: each customer's key, tier, previous tier, score and reason, with the run and
the delivery's idempotency key. A delivery of the run the file holds merges into it by idempotency key
(a batch delivered twice leaves each customer once); a delivery of a newer run replaces the file; one of
an older run (a late retry) leaves the newer file alone. The path is relative to the rule file's folder.
"""
from __future__ import annotations

import contextlib
import csv
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from tierwise.engine.plugin_api import (DELIVERED, FAILED, PENDING, ActionBatch, ActionHandler, DeliveryResult, PluginOptions,
                                        write_table)

COLUMNS = ("customer", "tier", "previous_tier", "score", "reason", "run", "idempotency_key")


class ExportOptions(PluginOptions):
    path: str = Field(description="a .csv or .xlsx file, relative to the rule file's folder")

    @field_validator("path")
    @classmethod
    def _suffix(cls, path: str) -> str:
        if Path(path).suffix.lower() not in (".csv", ".xlsx"):
            raise ValueError("a file ending in .csv or .xlsx")
        return path


class ExportError(Exception):
    """The file cannot be written for good (it is not an export tierwise wrote)."""


def target_of(path: str, base_dir: Path | None) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else (base_dir or Path.cwd()) / p


def read_export(path: Path) -> list[dict[str, Any]] | None:
    """The rows of an export tierwise wrote (None: no file). ExportError: a file of something else."""
    if not path.exists():
        return None
    if path.suffix.lower() == ".csv":
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            rows: list[dict[str, Any]] = [dict(zip(header or [], r)) for r in reader]
        rows = [{**r, "score": float(r["score"]) if r.get("score") not in (None, "") else None,
                 **{c: r.get(c) or None for c in ("tier", "previous_tier")}} for r in rows]
    else:
        from openpyxl import load_workbook

        try:
            wb = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:
            raise ExportError(f"{path.name} exists and is not an Excel file tierwise can read ({exc}): "
                              f"not overwritten") from None
        try:
            values = list(wb.worksheets[0].iter_rows(values_only=True)) if wb.worksheets else []
        finally:
            wb.close()
        header = [str(h) for h in values[0]] if values else None
        rows = [dict(zip(header or [], r)) for r in values[1:]]
    if header is None or not {"run", "idempotency_key"} <= set(header):
        raise ExportError(f"{path.name} exists and is not an export of tierwise (no run and idempotency_key "
                          f"columns): not overwritten — move it away or export to another file")
    return rows


def write_export(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write the file whole (a temporary file beside it, then renamed over it)."""
    import pyarrow as pa

    schema = pa.schema([(c, pa.float64() if c == "score" else pa.string()) for c in COLUMNS])
    table = pa.Table.from_pylist([{c: r.get(c) for c in COLUMNS} for r in rows], schema=schema)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """One export into this folder at a time (an flock on the folder; where there is none, no lock)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def newer_run(store: Any, run_a: str, run_b: str) -> bool:
    """Whether run_a started after run_b (as the store knows them; False when it cannot tell)."""
    if store is None:
        return False
    a, b = store.run(run_a), store.run(run_b)
    return a is not None and b is not None and (a.started_at, a.id) > (b.started_at, b.id)


def export(batch: ActionBatch, path: Path) -> list[DeliveryResult]:
    """Merge the batch into the export at ``path``; one result per item."""
    def every(status: str, detail: str) -> list[DeliveryResult]:
        return [DeliveryResult(i.idempotency_key, status, detail) for i in batch.items]

    rows: list[dict[str, Any]] = [{"customer": str(i.customer), "tier": i.tier, "previous_tier": i.previous_tier, "score": i.score,
             "reason": i.reason, "run": batch.run_id, "idempotency_key": i.idempotency_key} for i in batch.items]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with locked(path.parent):
            existing = read_export(path) or []
            held = {str(r.get("run")) for r in existing} - {batch.run_id}
            if held and any(newer_run(batch.context.store, run, batch.run_id) for run in held):
                return every(DELIVERED, f"superseded: {path.name} holds a newer run's export")
            merged = {str(r["idempotency_key"]): r for r in existing if not held}
            merged.update({r["idempotency_key"]: r for r in rows})
            write_export(path, sorted(merged.values(), key=lambda r: (str(r["customer"]), str(r["reason"]))))
    except ExportError as exc:
        return every(FAILED, str(exc))
    except OSError as exc:  # a folder that refuses, a file open in Excel: worth another try
        return every(PENDING, f"cannot write {path}: {exc.strerror or exc}")
    except Exception as exc:  # the writer's own refusal (too many rows for a sheet, ...)
        return every(FAILED, f"cannot write {path.name}: {exc}")
    batch.log(f"action=export path={path} customers={len(rows)} run={batch.run_id}")
    return every(DELIVERED, str(path))


class ExportAction(ActionHandler):
    """Writes the selected customers (key, tier, previous tier, score, reason) to a .csv or .xlsx file."""

    name = "export"
    Options = ExportOptions
    positional = ("path",)
    batch_size = 1_000_000  # the file is rewritten per call: the whole run in one call where the outbox can

    def deliver(self, batch: ActionBatch) -> list[DeliveryResult]:
        return export(batch, target_of(batch.options.path, batch.context.base_dir))
