"""An approved override takes effect at once: the customer's last rating, with the override's tier as
its final tier, is recorded as a rating of its own (a run of kind ``override``, reason ``override ID``),
and the `on` lines of the rules that rating was made with decide the actions it causes (entering or
leaving a tier, an upgrade, a downgrade) — queued in the outbox in the same transaction, delivered
after the commit. Nothing is re-computed: score, points and labels are the stored rating's.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .deliver import Delivered
from .outbox import context_from_run, deliver_pending, queue
from .plugin_manager import Registry
from .store.store import RunRecord, now

RATING_COLUMNS = ("customer", "score", "computed_tier", "final_tier", "labels", "segments", "dimensions", "indicator_values",
                  "points", "reason")


@dataclass
class OverrideRating:
    run_id: str
    previous_tier: str | None
    final_tier: str
    delivered: Delivered


def rate_override(store: Any, registry: Registry, override: Any, by: str,
                  settings_for: Any = None) -> OverrideRating | None:
    """Record the approved ``override`` as the customer's newest rating and deliver the actions it
    causes. None when the customer has no stored rating yet (the override applies from the next run)."""
    import pyarrow as pa

    from .backends import open_backend
    from .build import compile_text
    from .deliver import decide
    from .run import new_run_id

    latest = store.latest_ratings(override.ruleset, [override.customer], columns=RATING_COLUMNS)
    if not latest:
        return None
    row = dict(zip((*RATING_COLUMNS, "run_id"), latest[0]))
    basis = store.run(row["run_id"])
    plan, _, _ = compile_text(basis.rule_text, basis.rule_file, registry)
    run_id = new_run_id()
    record = RunRecord(id=run_id, kind="override", ruleset=basis.ruleset, version=basis.version,
                       text_hash=basis.text_hash, rule_text=basis.rule_text, rule_file=basis.rule_file,
                       as_of=basis.as_of, started_by=by, calibration=json.loads(basis.calibration or "{}"),
                       sources=json.loads(basis.sources or "[]"), started_at=now(),
                       tier_counts={override.tier: 1})
    rating = {c: row[c] for c in RATING_COLUMNS}
    rating.update(final_tier=override.tier, reason=f"override {override.id}")
    deliveries: list[Any] = []
    if plan is not None and plan.on_rules:
        be = open_backend("duckdb")
        try:
            table = be.from_arrow(pa.table({
                plan.key_column: pa.array([row["customer"]], pa.string()),
                "score": pa.array([row["score"]], pa.float64()), "tier": pa.array([row["computed_tier"]], pa.string()),
                "final_tier": pa.array([override.tier], pa.string()),
                "previous_tier": pa.array([row["final_tier"]], pa.string()),
                "labels": pa.array([row["labels"] or ""], pa.string()), "triggers": pa.array([""], pa.string())}),
                f"tierwise_override_{run_id[:8]}")
            deliveries = list(decide(plan, table, run_id, be, registry))
        finally:
            be.close()
    store.record(record, [rating], then=lambda conn: queue(conn, deliveries))
    done = deliver_pending(store, registry, run_id, context_from_run(store, settings_for))
    return OverrideRating(run_id, row["final_tier"], override.tier, done)
