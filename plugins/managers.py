"""``assign_manager(pool)``: each customer entering the tier gets a key-account manager from a pool of
``tierwise.toml`` ([managers.POOL]), the one with the fewest active customers (ties: the pool's order),
and keeps them while they stay; a customer leaving the tier (an item whose reason starts with "leave")
gives the manager back. Recorded in the rating store (``manager_assignment``); `tierwise managers` and
`tierwise history CUSTOMER` show it."""
from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from tierwise.engine.plugin_api import (DELIVERED, FAILED, PENDING, ActionBatch, ActionHandler, DeliveryResult, PluginOptions,
                                        SettingsProblem, closest)

if TYPE_CHECKING:  # pragma: no cover
    from tierwise.engine.plugin_api import Registry, Settings, UnreadableSettings


class AssignManagerOptions(PluginOptions):
    pool: str = Field(description="a pool of managers in tierwise.toml: [managers.POOL]")


def pool_problem(pool: str, settings: Settings | UnreadableSettings | None) -> SettingsProblem | None:
    if settings is not None and pool in settings.managers:
        return None
    pools = sorted(settings.managers) if settings is not None else []
    where = settings.path.name if settings is not None and settings.path is not None else "tierwise.toml"
    close = closest(pool, pools)
    expected = ("one of: " + ", ".join(pools) if pools
                else f'[managers.{pool}] with managers = ["张三", "李四", ...] in {where}')
    return SettingsProblem(f"no pool of managers '{pool}' in {where}", option="pool", expected=expected,
                           hint=f"did you mean '{close}'?" if close else None)


class AssignManagerAction(ActionHandler):
    """Assigns a manager from a pool to each customer entering the tier; releases it when they leave."""

    held_while_in_tier = True

    name = "assign_manager"
    Options = AssignManagerOptions
    positional = ("pool",)
    needs_settings = True

    @classmethod
    def check_settings(cls, options: AssignManagerOptions, settings: Settings, registry: Registry | None
                       ) -> list[SettingsProblem]:
        problem = pool_problem(options.pool, settings)
        return [problem] if problem else []

    def deliver(self, batch: ActionBatch) -> list[DeliveryResult]:
        ctx = batch.context
        pool_name = batch.options.pool
        problem = pool_problem(pool_name, ctx.settings)

        def every(status: str, detail: str) -> list[DeliveryResult]:
            return [DeliveryResult(i.idempotency_key, status, detail) for i in batch.items]

        unreadable = ctx.unreadable_settings()
        if unreadable is not None:  # tierwise.toml has errors: not this delivery's fault
            return every(PENDING, unreadable.summary())
        if problem is not None:
            return every(FAILED, problem.message)
        assert ctx.settings is not None  # the pool was found in them
        if ctx.store is None:
            return every(FAILED, "assign_manager records assignments in the rating store, and this run has none")
        pool = ctx.settings.managers[pool_name]
        leaving = [i for i in batch.items if i.reason.startswith("leave")]
        entering = [i for i in batch.items if not i.reason.startswith("leave")]
        results: dict[str, DeliveryResult] = {}
        if leaving:
            released = {c: m for c, _, m in ctx.store.release_managers(
                batch.ruleset, [str(i.customer) for i in leaving], batch.run_id, pool_name)}
            for i in leaving:
                m = released.get(str(i.customer))
                results[i.idempotency_key] = DeliveryResult(i.idempotency_key, DELIVERED,
                                                            f"released {m}" if m else "held no manager of " + pool_name)
                if m:
                    batch.log(f"action=assign_manager customer={i.customer} pool={pool_name} released={m} "
                              f"key={i.idempotency_key}")
        if entering:
            done = ctx.store.assign_managers(batch.ruleset, pool_name, pool.managers, pool.capacity_of,
                                             [str(i.customer) for i in entering], batch.run_id)
            by_customer = {a.customer: a for a in done}
            for i in entering:
                a = by_customer[str(i.customer)]
                if a.manager is None:
                    results[i.idempotency_key] = DeliveryResult(
                        i.idempotency_key, PENDING, f"pool {pool_name} is full: every manager holds their capacity "
                                                    f"(raise capacity in tierwise.toml, then `tierwise actions retry`)")
                    continue
                results[i.idempotency_key] = DeliveryResult(i.idempotency_key, DELIVERED,
                                                            a.manager if a.new else f"keeps {a.manager}")
                if a.new:
                    batch.log(f"action=assign_manager customer={i.customer} pool={pool_name} manager={a.manager} "
                              f"key={i.idempotency_key}")
        return [results[i.idempotency_key] for i in batch.items]
