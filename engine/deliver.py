"""The deliver step: the `on tier X` / `on label X` lines, each action handler given its batch
(history-based events — enter, leave, upgrade, downgrade, trigger — need the rating store)."""
from __future__ import annotations

from typing import Any

from . import plan as P
from .plugin_api import ActionBatch, ActionItem
from .plugin_manager import Registry

#: result columns the deliver step reads (besides the key)
COLUMNS = ("tier", "score")


def columns_needed(plan: P.Plan) -> list[str]:
    return list(COLUMNS) + (["labels"] if any(r.event == "label" for r in plan.on_rules) and plan.labels else [])


def deliver(plan: P.Plan, registry: Registry, result: Any, run_id: str, backend: Any) -> list[str]:
    """Hand each `on` line's customers to its action handlers; the lines they logged."""
    log: list[str] = []
    for rule in plan.on_rules:
        if rule.event == "tier":
            sel = result.filter(result["tier"] == rule.target)
        elif rule.event == "label" and "labels" in result.columns:
            sel = result.filter(result["labels"].split(",").contains(rule.target))
        else:
            continue
        rows = backend.fetch_rows(sel.select(k=sel[plan.key_column], tier=sel["tier"], score=sel["score"]))
        for action in rule.actions:
            handler = registry.actions[action.action]()
            items = [ActionItem(r["k"], r["tier"], r["score"], rule.text,
                                f"{run_id}:{r['k']}:{action.action}:{rule.text}") for r in rows]
            handler.deliver(ActionBatch(run_id, plan.name, action.action, action.options, items, log.append))
    return log
