"""Building action batches the way the outbox hands them over: real options models, real stores, real files."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from tierwise.engine.plugin_api import ActionBatch, ActionContext, ActionItem
from tierwise.engine.plugin_manager import default_registry
from tierwise.engine.store import RunRecord, Store


def handler(name: str):
    return default_registry().actions[name]()


def item(customer: str, tier: str | None, score: float | None = None, reason: str = "tier A",
         previous: str | None = None, run: str = "run-1", action: str = "act") -> ActionItem:
    return ActionItem(customer, tier, score, reason, f"{run}:on.{action}:{customer}", previous_tier=previous)


def batch(name: str, options: dict[str, Any], items: list[ActionItem], run: str = "run-1", ruleset: str = "R",
          log: list[str] | None = None, **context: Any) -> ActionBatch:
    cls = default_registry().actions[name]
    lines = log if log is not None else []
    return ActionBatch(run, ruleset, name, cls.Options(**options), items, lines.append, ActionContext(**context))


def deliver(name: str, options: dict[str, Any], items: list[ActionItem], **kw: Any):
    b = batch(name, options, items, **kw)
    results = handler(name).deliver(b)
    assert [r.idempotency_key for r in results] == [i.idempotency_key for i in items]
    return results


def store_at(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'tierwise.db'}")


def record_run(store: Store, run_id: str, ratings: dict[str, str | None], minutes: int = 0, ruleset: str = "R",
               as_of: date = date(2026, 6, 30)) -> None:
    """A complete run of ``ruleset`` that rated these customers into these final tiers."""
    rec = RunRecord(id=run_id, kind="periodic", ruleset=ruleset, version=None, text_hash="h", rule_text="",
                    rule_file="r.tier", as_of=as_of, started_by="me",
                    started_at=datetime(2026, 7, 1, tzinfo=timezone.utc) + timedelta(minutes=minutes))
    store.record(rec, [{"customer": c, "final_tier": t, "computed_tier": t, "score": 90.0 if t == "A" else 50.0,
                        "points": json.dumps({})} for c, t in ratings.items()])
