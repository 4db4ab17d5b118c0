"""The record step of a run: the run and every customer's rating into the rating store.

The ratings are read from the run's result (never recomputed) by DuckDB, which also writes each
rating's indicator values, points and segments as JSON objects (numbers in their shortest
round-trip form), and hands them over column-wise in batches: a million customers cost a few
seconds, not a Python loop over dicts.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import plan as P
from .columns import change_indicators
from .deliver import history_events
from .plugin_api import DataError
from .store.bulk import Columns

if TYPE_CHECKING:  # pragma: no cover
    from .calibration import Calibration
    from .store import Run, Store

READ_BATCH = 50_000
#: a rating's columns, in the order rating_batches gives them
RATING_COLUMNS = ("customer", "score", "computed_tier", "final_tier", "labels", "segments", "dimensions",
                  "indicator_values", "points", "reason")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def json_object_sql(columns: dict[str, str]) -> str:
    """DuckDB SQL of a text column: per row, the JSON object {name: value} of these columns (null ->
    null, NaN -> NaN, dates as text), keys in the given order."""
    if not columns:
        return "'{}'"
    fields = ", ".join(f"{_ident(name)} := {_ident(col)}" for name, col in columns.items())
    return f"CAST(to_json(struct_pack({fields})) AS VARCHAR)"


def rating_batches(plan: P.Plan, result_path: Path, reason: str = "periodic",
                   overrides: dict[str, tuple[str, str]] | None = None,
                   with_fired: bool = False) -> Iterator[list[list[Any]]]:
    """The store rows of a run's result (Parquet), in key order, in batches of columns (one list per
    name of RATING_COLUMNS; ``with_fired``: and last, per row, the names of the triggers that fired).
    The reason: ``override ID`` where an approved override set the final tier, else ``trigger
    NAME[, NAME]`` where triggers fired, else ``reason``."""
    import duckdb
    import pyarrow.parquet as pq

    names = set(pq.read_schema(result_path).names)
    key = plan.key_column
    values = {i.name: i.name for i in plan.indicators if i.name in names}
    points = {i.name: f"{i.name}.points" for i in plan.indicators if f"{i.name}.points" in names}
    segments = {s.name: s.name for s in plan.segments if s.name in names}
    dimensions = {d.name: d.name for d in plan.dimensions if d.name in names}
    # what is the same on every row (no labels, no segments, no triggers) is not read per row
    tier = _ident("tier") if "tier" in names else None
    exprs: dict[str, str | None] = {
        "customer": f"CAST({_ident(key)} AS VARCHAR)",
        "score": "CAST(score AS DOUBLE)" if "score" in names else None,
        "computed_tier": tier,
        "final_tier": _ident("final_tier") if "final_tier" in names else None,
        "labels": "coalesce(labels, '')" if "labels" in names else None,
        "segments": json_object_sql(segments) if segments else None,
        "dimensions": json_object_sql(dimensions) if dimensions else None,
        "indicator_values": json_object_sql(values) if values else None,
        "points": json_object_sql(points) if points else None,
        "triggers": "coalesce(triggers, '')" if "triggers" in names else None,
    }
    constant = {"score": None, "computed_tier": None, "labels": "", "segments": "{}", "dimensions": "{}",
                "indicator_values": "{}",
                "points": "{}", "triggers": ""}
    present = {name: e for name, e in exprs.items() if e is not None}
    read = list(present)
    overrides = overrides or {}
    con = duckdb.connect()
    try:
        con.execute("SET preserve_insertion_order = true")
        query = f"SELECT {', '.join(present[n] for n in read)} FROM read_parquet({_text(str(result_path))})"
        for batch in con.sql(query).to_arrow_reader(READ_BATCH):
            n = batch.num_rows
            got = {name: c.to_pylist() for name, c in zip(read, batch.columns)}
            cols = {name: got[name] if name in got else [constant.get(name)] * n for name in exprs}
            if "final_tier" not in got:
                cols["final_tier"] = cols["computed_tier"]
            fired = cols.pop("triggers")
            if overrides or ("triggers" in got and any(fired)):
                why = []
                for k, ft, fi in zip(cols["customer"], cols["final_tier"], fired):
                    applied = overrides.get(k)
                    why.append(f"override {applied[0]}" if applied is not None and ft == applied[1]
                               else f"trigger {fi}" if fi else reason)
            else:
                why = [reason] * n
            cols["reason"] = why
            out = [cols[name] for name in RATING_COLUMNS]
            if with_fired:
                out.append([fi.split(",") if fi else [] for fi in fired])
            yield out
    finally:
        con.close()


def rating_rows(plan: P.Plan, result_path: Path, reason: str = "periodic",
                overrides: dict[str, tuple[str, str]] | None = None) -> Iterator[dict[str, Any]]:
    """One store row (a dict of RATING_COLUMNS, and ``fired``: the triggers that fired) per customer of
    a run's result, in key order."""
    names = (*RATING_COLUMNS, "fired")
    for cols in rating_batches(plan, result_path, reason, overrides, with_fired=True):
        for row in zip(*cols):
            yield dict(zip(names, row))


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
    """A table (``ListTable``) key -> each named indicator's stored raw value (numbers only; anything else
    is missing) and ``tier``, the stored final tier, from (customer, indicator_values JSON[, final_tier])
    tuples."""
    from .arrow_arrays import ListTable

    keys: list[str] = []
    tiers: list[Any] = []
    cols: dict[str, list[Any]] = {n: [] for n in names}
    for customer, values_json, *rest in latest:
        values = json.loads(values_json or "{}")
        keys.append(customer)
        tiers.append(rest[0] if rest else None)
        for n in names:
            v = values.get(n)
            cols[n].append(float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None)
    return ListTable({plan.key_column: keys, **cols, "tier": tiers},
                     {plan.key_column: "text", **{n: "float" for n in cols}, "tier": "text"})


def previous_table(store: Any, plan: P.Plan, customers: list[str] | None = None) -> Any:
    """Each customer's last stored rating (the newest complete run that rated them, periodic or
    re-rate): the raw values of the indicators ``change()`` reads and the final tier (`on enter X`, ...).
    None: nothing to compare with."""
    names = change_indicators(plan)
    if not names and not history_events(plan):
        return None
    return previous_values(plan, store.latest_ratings(plan.name, customers,
                                                      columns=("customer", "indicator_values", "final_tier")), names)


def frozen_calibration(store: Store, plan: P.Plan, run_ref: str | None = None) -> tuple[Calibration, Run]:
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


def overrides_table(store: Any, plan: P.Plan, as_of: Any, customers: list[str] | None = None) -> tuple[Any, list[Any]]:
    """(a table (``ListTable``) key -> ``tier`` of the approved, unexpired overrides of this ruleset on
    ``as_of``, of ``customers`` when given — None when there are none; those overrides)."""
    from .arrow_arrays import ListTable
    from .store.decisions import active_overrides

    active = active_overrides(store, plan.name, as_of)
    if customers is not None:
        wanted = set(customers)
        active = [o for o in active if o.customer in wanted]
    if not active:
        return None, active
    return ListTable({plan.key_column: [o.customer for o in active], "tier": [o.tier for o in active]},
                     {plan.key_column: "text", "tier": "text"}), active


@dataclass
class Recording:
    """Where and how a run records itself: the store, the rule text as run, and who started it."""

    store: Store
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

    def frozen_calibration(self, plan: P.Plan, run_ref: str | None = None) -> tuple[Calibration, Run]:
        return frozen_calibration(self.store, plan, run_ref)

    def overrides_table(self, plan: P.Plan, as_of: Any) -> Any:
        """The approved, unexpired overrides of this ruleset on ``as_of`` (None: there are none); which
        were applied is kept for the ratings' reasons."""
        table, active = overrides_table(self.store, plan, as_of)
        self.applied = {o.customer: (o.id, o.tier) for o in active}
        return table

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
    caused, in one transaction (nothing is visible until it commits). The ratings go to the store
    column-wise, as the result holds them (the bulk path: no dict per row). ``summary``: the run's
    summary as the store keeps it (engine.report.summary_json)."""
    from .outbox import queue
    from .store.decisions import open_reviews

    counts: dict[str, int] = {}
    for t in distribution:  # customers without a score and those without a tier are both "" here
        counts[t.tier or ""] = counts.get(t.tier or "", 0) + t.count
    review = {t.name for t in plan.triggers if any(e.effect == "review" for e in t.effects)}
    pairs: list[tuple[str, str]] = []

    def batches() -> Iterator[list[list[Any]]]:
        for cols in rating_batches(plan, result_path, rec.reason, rec.applied, with_fired=bool(review)):
            if review:
                fired = cols.pop()
                pairs.extend((k, t) for k, names in zip(cols[0], fired) for t in names if t in review)
            yield cols

    return rec.store.record(rec.run_record(plan, run_id, as_of, calibration, counts, summary),
                            Columns(list(RATING_COLUMNS), batches()),
                            then=lambda conn: (open_reviews(conn, run_id, pairs), queue(conn, deliveries)))


def record_failure(rec: Recording, plan: P.Plan, run_id: str, as_of: Any, error: str) -> None:
    rec.store.record_failure(rec.run_record(plan, run_id, as_of, None, {}), error)
