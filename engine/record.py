"""The record step of a run: the run and every customer's rating into the rating store.

The ratings are read from the run's result (never recomputed). Each rating's indicator values,
points and segments are JSON objects built column-wise with Arrow (numbers in their shortest
round-trip form), so a million customers cost a few seconds, not a Python loop over dicts.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import plan as P
from .columns import change_indicators
from .deliver import history_events
from .plugin_api import DataError

READ_BATCH = 50_000


def json_objects(columns: dict[str, Any], n: int) -> Any:
    """A string array: per row, the JSON object {name: value} of these Arrow columns (null -> null)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not columns:
        return pa.array(["{}"] * n, pa.string())
    parts: list[Any] = []
    for i, (name, col) in enumerate(columns.items()):
        key = ("{" if i == 0 else ", ") + json.dumps(name, ensure_ascii=False) + ": "
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            text = pa.array([None if v is None else json.dumps(v, ensure_ascii=False) for v in col.to_pylist()],
                            pa.string())
        elif pa.types.is_boolean(col.type):
            text = pc.if_else(col, "true", "false")
        elif pa.types.is_temporal(col.type):
            text = pc.binary_join_element_wise('"', pc.cast(col, pa.string()), '"', "")
        else:
            text = pc.cast(col, pa.string())
        parts += [pa.scalar(key, pa.string()), pc.fill_null(text, "null")]
    parts.append(pa.scalar("}", pa.string()))
    return pc.binary_join_element_wise(*parts, "")


def rating_rows(plan: P.Plan, result_path: Path, reason: str = "periodic",
                overrides: dict[str, tuple[str, str]] | None = None) -> Iterator[dict[str, Any]]:
    """One store row per customer of a run's result (Parquet), in key order. The reason: ``override ID``
    where an approved override set the final tier, else ``trigger NAME[, NAME]`` where triggers fired,
    else ``reason``."""
    import pyarrow.parquet as pq

    f = pq.ParquetFile(result_path)
    names = set(f.schema_arrow.names)
    key = plan.key_column
    indicators = [i.name for i in plan.indicators if i.name in names]
    points = [i.name for i in plan.indicators if f"{i.name}.points" in names]
    segments = [s.name for s in plan.segments if s.name in names]
    dimensions = [d.name for d in plan.dimensions if d.name in names]
    wanted = list(dict.fromkeys(c for c in (key, "score", "tier", "final_tier", "labels", "triggers", *indicators,
                                            *(f"{p}.points" for p in points), *segments, *dimensions)
                                if c in names))
    overrides = overrides or {}
    for batch in f.iter_batches(READ_BATCH, columns=wanted):
        n = batch.num_rows
        col = {name: batch.column(i) for i, name in enumerate(batch.schema.names)}
        values = json_objects({i: col[i] for i in indicators}, n).to_pylist()
        pts = json_objects({p: col[f"{p}.points"] for p in points}, n).to_pylist()
        segs = json_objects({s: col[s] for s in segments}, n).to_pylist()
        dims = json_objects({d: col[d] for d in dimensions}, n).to_pylist()
        tiers = col["tier"].to_pylist() if "tier" in col else [None] * n
        final = col["final_tier"].to_pylist() if "final_tier" in col else tiers
        labels = col["labels"].to_pylist() if "labels" in col else [""] * n
        scores = col["score"].to_pylist() if "score" in col else [None] * n
        fired = col["triggers"].to_pylist() if "triggers" in col else [""] * n
        for k, s, t, ft, lb, v, p, sg, dm, fi in zip(col[key].to_pylist(), scores, tiers, final, labels, values,
                                                     pts, segs, dims, fired):
            applied = overrides.get(k)
            why = (f"override {applied[0]}" if applied is not None and ft == applied[1]
                   else f"trigger {fi}" if fi else reason)
            yield {"customer": k, "score": s, "computed_tier": t, "final_tier": ft, "labels": lb or "",
                   "segments": sg, "dimensions": dm, "indicator_values": v, "points": p, "reason": why,
                   "fired": fi.split(",") if fi else []}


def source_facts(plan: P.Plan, base_dir: Path, overrides: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Each source's location (a URL without its password), size and SHA-256 (files only)."""
    out = []
    for sp in plan.sources:
        location = (overrides or {}).get(sp.name, sp.options.get(getattr(sp, "location_option", "path"),
                                                                  sp.options.get("path", "")))
        fact: dict[str, Any] = {"name": sp.name, "connector": sp.connector, "location": str(location)}
        if isinstance(location, str) and "://" in location:
            from .store.store import safe_url

            fact["location"] = safe_url(location) if "://" in location else location
        elif isinstance(location, str) and location:
            path = Path(location).expanduser()
            path = path if path.is_absolute() else base_dir / path
            files = sorted(path.parent.glob(path.name)) if any(ch in path.name for ch in "*?[") else [path]
            files = [p for p in files if p.is_file()]
            fact["location"] = str(path)
            fact["size"] = sum(p.stat().st_size for p in files)
            fact["sha256"] = _sha256(files)
        out.append(fact)
    return out


def _sha256(files: list[Path]) -> str:
    h = hashlib.sha256()
    for p in files:
        with open(p, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


def previous_values(plan: P.Plan, latest: list[tuple[Any, ...]], names: list[str]) -> Any:
    """An Arrow table key -> each named indicator's stored raw value (numbers only; anything else is
    missing) and ``tier``, the stored final tier, from (customer, indicator_values JSON[, final_tier])
    tuples."""
    import pyarrow as pa

    keys, tiers, cols = [], [], {n: [] for n in names}
    for customer, values_json, *rest in latest:
        values = json.loads(values_json or "{}")
        keys.append(customer)
        tiers.append(rest[0] if rest else None)
        for n in names:
            v = values.get(n)
            cols[n].append(float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None)
    return pa.table({plan.key_column: pa.array(keys, pa.string()),
                     **{n: pa.array(v, pa.float64()) for n, v in cols.items()},
                     "tier": pa.array(tiers, pa.string())})


def previous_table(store: Any, plan: P.Plan, customers: list[str] | None = None) -> Any:
    """Each customer's last stored rating (the newest complete run that rated them, periodic or
    re-rate): the raw values of the indicators ``change()`` reads and the final tier (`on enter X`, ...).
    None: nothing to compare with."""
    names = change_indicators(plan)
    if not names and not history_events(plan):
        return None
    return previous_values(plan, store.latest_ratings(plan.name, customers,
                                                      columns=("customer", "indicator_values", "final_tier")), names)


def frozen_calibration(store: Any, plan: P.Plan, run_ref: str | None = None) -> tuple[Any, Any]:
    """(Calibration, Run): that of run ``run_ref`` (an id or its start), else of the last complete
    full run of this ruleset. A DataError when there is none."""
    from .calibration import Calibration

    if run_ref is not None:
        found = store.run(run_ref.strip())
        if found is None:
            raise DataError(f"no run '{run_ref}' in the rating store (or several start so): see `tierwise runs`")
        if found.status != "complete":
            raise DataError(f"run {found.id[:8]} {found.status}: its calibration cannot be used")
        if found.ruleset != plan.name:
            raise DataError(f"run {found.id[:8]} rated ruleset '{found.ruleset}', not '{plan.name}'")
    else:
        found = store.last_run(plan.name, kind="periodic")
        if found is None:
            raise DataError(f"no full run of '{plan.name}' in the rating store yet: `tierwise run` rates the "
                            f"whole population and records the calibration that re-rating uses")
    try:
        return Calibration.from_json(found.calibration or "{}"), found
    except ValueError as exc:
        raise DataError(f"run {found.id[:8]}: its stored calibration is unreadable: {exc}") from None


@dataclass
class Recording:
    """Where and how a run records itself: the store, the rule text as run, and who started it."""

    store: Any  # engine.store.Store
    rule_text: str
    rule_file: str
    started_by: str
    kind: str = "periodic"
    reason: str = "periodic"
    sources: list[dict[str, Any]] = field(default_factory=list)
    started_at: Any = None
    applied: dict[str, tuple[str, str]] = field(default_factory=dict)  # customer -> (override id, tier)

    def previous_table(self, plan: P.Plan, customers: list[str] | None = None) -> Any:
        return previous_table(self.store, plan, customers)

    def frozen_calibration(self, plan: P.Plan, run_ref: str | None = None) -> tuple[Any, Any]:
        return frozen_calibration(self.store, plan, run_ref)

    def overrides_table(self, plan: P.Plan, as_of: Any) -> Any:
        """The approved, unexpired overrides of this ruleset on ``as_of`` (None: there are none)."""
        import pyarrow as pa

        from .store.decisions import active_overrides

        active = active_overrides(self.store, plan.name, as_of)
        self.applied = {o.customer: (o.id, o.tier) for o in active}
        if not active:
            return None
        return pa.table({plan.key_column: pa.array([o.customer for o in active], pa.string()),
                         "tier": pa.array([o.tier for o in active], pa.string())})

    def run_record(self, plan: P.Plan, run_id: str, as_of: Any, calibration: Any,
                   tier_counts: dict[str, int], summary: dict[str, Any] | None = None) -> Any:
        from .store import RunRecord
        from .store.store import now

        return RunRecord(id=run_id, kind=self.kind, ruleset=plan.name, version=plan.version,
                         text_hash=plan.text_hash, rule_text=self.rule_text, rule_file=self.rule_file, as_of=as_of,
                         started_by=self.started_by, calibration=calibration.to_dict() if calibration else {},
                         sources=self.sources, started_at=self.started_at or now(), tier_counts=tier_counts,
                         summary=summary)


def record_step(rec: Recording, plan: P.Plan, run_id: str, as_of: Any, calibration: Any, distribution: Any,
                result_path: Path, deliveries: Any = (), summary: dict[str, Any] | None = None) -> int:
    """The run, its ratings, the review items its triggers open and the outbox rows of the actions it
    caused, in one transaction (nothing is visible until it commits). ``summary``: the run's summary as
    the store keeps it (engine.report.summary_json)."""
    from .outbox import queue
    from .store.decisions import open_reviews

    counts: dict[str, int] = {}
    for t in distribution:  # customers without a score and those without a tier are both "" here
        counts[t.tier or ""] = counts.get(t.tier or "", 0) + t.count
    review = {t.name for t in plan.triggers if any(e.effect == "review" for e in t.effects)}
    pairs: list[tuple[str, str]] = []

    def rows() -> Iterator[dict[str, Any]]:
        for row in rating_rows(plan, result_path, rec.reason, rec.applied):
            if review and row["fired"]:
                pairs.extend((row["customer"], t) for t in row["fired"] if t in review)
            del row["fired"]
            yield row

    return rec.store.record(rec.run_record(plan, run_id, as_of, calibration, counts, summary), rows(),
                            then=lambda conn: (open_reviews(conn, run_id, pairs), queue(conn, deliveries)))


def record_failure(rec: Recording, plan: P.Plan, run_id: str, as_of: Any, error: str) -> None:
    rec.store.record_failure(rec.run_record(plan, run_id, as_of, None, {}), error)
