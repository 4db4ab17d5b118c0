"""Deciding which actions a run owes, and handing deliveries to their handlers.

Deciding reads the run's result: each `on` line selects customers by the final tier (`on tier X`),
its change against the customer's last stored rating (`enter X`, `leave X`, `upgrade`, `downgrade`:
a first rating enters its tier), the triggers that fired (`on trigger NAME`) or the labels (`on label
NAME`). Every (run, customer, action) becomes one delivery with a stable idempotency key. With a rating
store the deliveries go through its outbox (engine/outbox.py); without one they are handed over at once.
"""
from __future__ import annotations

import gc
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from . import plan as P
from .plugin_api import DELIVERED, FAILED, PENDING, ActionBatch, ActionContext, ActionItem, DeliveryResult
from .plugin_manager import Registry

if TYPE_CHECKING:  # pragma: no cover
    from .backends import Backend

HISTORY_EVENTS = ("enter", "leave", "upgrade", "downgrade")


@dataclass
class Delivered:
    """What one delivery pass did: counts by how the deliveries ended, and the log lines handlers wrote."""

    counts: dict[str, int] = field(default_factory=lambda: {DELIVERED: 0, FAILED: 0, PENDING: 0})
    log: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())



@contextmanager
def collector_held() -> Iterator[None]:
    """Hold Python's cyclic garbage collector while a run builds its deliveries and hands them over.
    They hold no reference cycles (reference counting frees them), but every pass of the collector
    walks all the objects still alive: at 300k deliveries that is a third of the time of deciding
    and handing them over. Whatever a handler leaves in cycles is collected once it is on again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def history_events(plan: P.Plan) -> bool:
    """Whether an `on` line compares with the last rating (enter, leave, upgrade, downgrade)."""
    return any(r.event in HISTORY_EVENTS for r in plan.on_rules)


def columns_needed(plan: P.Plan) -> list[str]:
    """The result columns deciding reads (besides the key)."""
    if not plan.on_rules:
        return []
    from .evaluate import tier_effect_triggers

    # the final tier is the tier unless a trigger moves it (or an override: run_columns adds it then)
    out = ["score", "tier", *(["final_tier"] if tier_effect_triggers(plan) else [])]
    if history_events(plan):
        out.append("previous_tier")
    if any(r.event == "label" for r in plan.on_rules) and plan.labels:
        out.append("labels")
    if any(r.event == "trigger" for r in plan.on_rules) and plan.triggers:
        out.append("triggers")
    return out


class Delivery(NamedTuple):
    """One (run, customer, action) a run owes. A tuple: a run may owe hundreds of thousands (a frozen
    dataclass costs twice as much to make)."""

    key: str  # the idempotency key: "{run id}:{line}.{action}:{customer}"
    run_id: str
    customer: str
    action: str
    rule: str  # the `on` line's event as written: "enter A", "downgrade", "trigger 重大投诉"
    options: str  # the handler's options, JSON
    tier: str | None
    previous_tier: str | None
    score: float | None

    def item(self) -> ActionItem:
        return ActionItem(self.customer, self.tier, self.score, self.rule, self.key, self.previous_tier)


def final_tier(t: Any) -> Any:
    """The final tier of result ``t``: its ``final_tier``, or its ``tier`` where nothing can make them
    differ (no trigger moves a tier, no override: ``columns_needed`` leaves it out then)."""
    return t["final_tier"] if "final_tier" in t.columns else t["tier"]


def selection(plan: P.Plan, rule: P.OnRulePlan, t: Any) -> Any:
    """The rows of result ``t`` an `on` line selects (an Ibis boolean over its columns)."""
    import ibis

    final = final_tier(t)
    prev = t["previous_tier"] if "previous_tier" in t.columns else ibis.null("string")
    order = {tp.name: i for i, tp in enumerate(plan.tiers)}  # 0: the best tier

    def rank(col: Any) -> Any:
        return col.cases(*order.items(), else_=ibis.null("int64"))

    if rule.event == "tier":
        return final == rule.target
    if rule.event == "enter":
        return (final == rule.target) & (prev.isnull() | (prev != rule.target))
    if rule.event == "leave":
        return (prev == rule.target) & (final.isnull() | (final != rule.target))
    if rule.event == "upgrade":
        return rank(final) < rank(prev)
    if rule.event == "downgrade":
        return rank(final) > rank(prev)
    if rule.event == "label":
        return t["labels"].split(",").contains(rule.target) if "labels" in t.columns else ibis.literal(False)
    if rule.event == "trigger":
        return t["triggers"].split(",").contains(rule.target) if "triggers" in t.columns else ibis.literal(False)
    raise ValueError(f"unknown event {rule.event}")  # pragma: no cover - the compiler knows the events


def decide(plan: P.Plan, result: Any, run_id: str, backend: Any, registry: Registry | None = None
           ) -> Iterator[Delivery]:
    """Every delivery the run owes, line by line, action by action, customer by customer (key order).
    An `on enter X` action whose handler holds something while the customer is in X (``registry``
    says: ``held_while_in_tier``) also gets the customers leaving X, with the reason ``leave X``."""
    for n, rule in enumerate(plan.on_rules, start=1):
        if not rule.actions:
            continue
        rows = _selected(plan, rule, result, backend)
        leaving: list[tuple[Any, ...]] | None = None
        for m, action in enumerate(rule.actions, start=1):
            options = action.options.model_dump_json() if hasattr(action.options, "model_dump_json") else "{}"
            prefix, name, text = f"{run_id}:{n}.{m}:", action.action, rule.text
            for k, tier, score, prev in rows:
                yield Delivery(prefix + str(k), run_id, k, name, text, options, tier, prev, score)
            cls = registry.actions.get(action.action) if registry is not None else None
            if rule.event == "enter" and cls is not None and getattr(cls, "held_while_in_tier", False):
                leave = P.OnRulePlan("leave", rule.target, rule.actions, f"leave {rule.target}", rule.span)
                if leaving is None:
                    leaving = _selected(plan, leave, result, backend)
                for k, tier, score, prev in leaving:  # never entering and leaving X in one rating: keys stay unique
                    yield Delivery(prefix + str(k), run_id, k, name, leave.text, options, tier, prev, score)


def _selected(plan: P.Plan, rule: P.OnRulePlan, result: Any, backend: Backend) -> list[tuple[Any, ...]]:
    """(key, final tier, score, previous tier) of the customers ``rule`` selects, in key order."""
    import ibis

    sel = result.filter(selection(plan, rule, result))
    prev = sel["previous_tier"] if "previous_tier" in sel.columns else ibis.null("string")
    return backend.fetch_tuples(sel.select(k=sel[plan.key_column], tier=final_tier(sel), score=sel["score"],
                                           prev=prev).order_by("k"))[1]


def handle(registry: Registry, action: str, options_json: str, deliveries: list[Delivery], run_id: str,
           ruleset: str, context: ActionContext, log: Callable[[str], None],
           each: Callable[[list[DeliveryResult]], None] | None = None) -> list[DeliveryResult]:
    """Hand deliveries (of one action, one set of options) to the handler, in its batch size (the
    option ``batch``, else the handler's ``batch_size``); ``each`` gets every batch's results as they
    come back. A handler that raises leaves its batch pending with the error (a retry sends it again)."""
    cls = registry.actions.get(action)
    if cls is None:
        return [DeliveryResult(d.key, PENDING, f"no plugin provides action '{action}' (installed: "
                               f"{', '.join(sorted(registry.actions))})") for d in deliveries]
    options = cls.Options.model_validate(json.loads(options_json or "{}"))
    size = int(getattr(options, "batch", None) or cls.batch_size)
    out: list[DeliveryResult] = []
    for i in range(0, len(deliveries), size):
        chunk = deliveries[i:i + size]
        try:
            results = cls().deliver(ActionBatch(run_id, ruleset, action, options, [d.item() for d in chunk], log,
                                                context))
        except Exception as exc:  # a handler's own failure: nothing delivered, tried again later
            results = [DeliveryResult(d.key, PENDING, f"{action} failed: {type(exc).__name__}: {exc}") for d in chunk]
        done = results if _in_order(results, chunk) else _matched(results, chunk, action)
        if each is not None:
            each(done)
        out += done
    return out


def _in_order(results: list[DeliveryResult], chunk: list[Delivery]) -> bool:
    """Whether a handler answered every delivery, in the order given (the usual case: no matching)."""
    return len(results) == len(chunk) and all(r.idempotency_key == d.key for r, d in zip(results, chunk))


def _matched(results: list[DeliveryResult], chunk: list[Delivery], action: str) -> list[DeliveryResult]:
    """Each delivery's result by its key; pending for one the handler gave no result for."""
    known = {r.idempotency_key: r for r in results}
    return [known.get(d.key) or DeliveryResult(d.key, PENDING, f"{action} gave no result for it") for d in chunk]


def grouped(deliveries: Iterable[Delivery]) -> dict[tuple[str, str, str], list[Delivery]]:
    """Deliveries by (run, action, options), in order."""
    out: dict[tuple[str, str, str], list[Delivery]] = {}
    for d in deliveries:
        out.setdefault((d.run_id, d.action, d.options), []).append(d)
    return out


def deliver_now(plan: P.Plan, registry: Registry, deliveries: Iterable[Delivery], context: ActionContext,
                log: Callable[[str], None]) -> list[DeliveryResult]:
    """Without a rating store: hand every delivery over at once (nothing is kept to retry)."""
    out: list[DeliveryResult] = []
    for (run_id, action, options), ds in grouped(deliveries).items():
        out += handle(registry, action, options, ds, run_id, plan.name, context, log)
    return out
