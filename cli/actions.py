"""``tierwise actions list|retry|show``: the action outbox of the rating store."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from .history import out_option, store_options, write_rows
from .render import console, esc


@click.group()
def actions() -> None:
    """The deliveries the runs' `on` lines caused (the outbox): each delivered, failed
    (for good, with the receiver's answer) or pending.

    Example:

        tierwise actions list --pending
    """


def _row(r: Any) -> dict[str, Any]:
    return {"key": r.key, "run": r.run_id, "customer": r.customer, "action": r.action, "rule": r.rule,
            "tier": r.tier, "previous_tier": r.previous_tier, "score": r.score, "status": r.status,
            "attempts": r.attempts, "detail": r.detail or "", "updated": r.updated_at.strftime("%Y-%m-%d %H:%M:%S")}


@actions.command("list")
@store_options
@out_option
@click.option("--pending", "status", flag_value="pending", help="Only the deliveries still to make.")
@click.option("--failed", "status", flag_value="failed", help="Only the deliveries refused for good.")
@click.option("--delivered", "status", flag_value="delivered", help="Only the deliveries made.")
@click.option("--run", "run_id", metavar="RUN_ID", help="Only this run's (an id or its start).")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="How many to print.")
def list_command(store: Any, out: Path | None, status: str | None, run_id: str | None, limit: int) -> None:
    """List deliveries, newest run first: key, customer, action, the `on` line, status, attempts.

    Example:

        tierwise actions list --failed --out failed.csv
    """
    from rich.table import Table

    from ..engine.outbox import counts, items

    rows = [_row(r) for r in items(store, status, run_id)]
    table = Table("key", "customer", "action", "on", "tier", "status", "attempts", "answer")
    for row in rows[:limit]:
        colour = {"delivered": "green", "failed": "red"}.get(row["status"], "yellow")
        table.add_row(esc(row["key"][:8] + "…" + row["key"][36:]), esc(row["customer"]), esc(row["action"]),
                      esc(row["rule"]), esc(f"{row['previous_tier'] or '—'} → {row['tier'] or '—'}"),
                      f"[{colour}]{row['status']}[/{colour}]", str(row["attempts"]), esc(row["detail"][:60]))
    console().print(table if rows else "no deliveries" + (f" {status}" if status else ""))
    if len(rows) > limit:
        console().print(f"… {len(rows) - limit} more; --out FILE writes them all", highlight=False)
    total = counts(store)
    console().print(", ".join(f"{n} {s}" for s, n in sorted(total.items())) or "the outbox is empty",
                    highlight=False)
    write_rows(rows, out, sheet="actions")


@actions.command("retry")
@store_options
@click.option("--run", "run_id", metavar="RUN_ID", help="Only this run's pending deliveries.")
def retry(store: Any, run_id: str | None) -> None:
    """Deliver what is pending (never what was delivered or failed for good).

    Each delivery carries the idempotency key it was first sent with, so a
    receiver that saw it before (a crash between sending and recording) can
    drop it. Exit code 1 when deliveries are still pending afterwards.

    Example:

        tierwise actions retry
    """
    import sys

    from ..engine.outbox import context_from_run, deliver_pending
    from ..engine.plugin_manager import default_registry
    from ..engine.settings import settings_for_delivery

    if run_id is not None:
        found = store.run(run_id)
        if found is None:
            from .main import RuleErrors

            raise RuleErrors(f"no run '{run_id}' (or more than one starts so): see `tierwise runs`")
        run_id = found.id
    done = deliver_pending(store, default_registry(), run_id, context_from_run(store, settings_for_delivery))
    for line in done.log[:5]:
        console().print(esc(line), highlight=False)
    console().print(f"retried {done.total} deliveries: {done.counts.get('delivered', 0)} delivered, "
                    f"{done.counts.get('failed', 0)} failed, {done.counts.get('pending', 0)} still pending",
                    highlight=False)
    if done.counts.get("pending"):
        sys.exit(1)


@actions.command("show")
@click.argument("key", metavar="KEY|CUSTOMER")
@store_options
def show(key: str, store: Any) -> None:
    """One delivery: what it was for, its options, how it ended and the receiver's answer.

    Give the delivery's key (see `tierwise actions list`), or a customer: their
    deliveries of the newest run that owed them any.

    Example:

        tierwise actions show KH00042
    """
    from ..engine.outbox import item, latest_for_customer

    r = item(store, key.strip())
    found = [r] if r is not None else latest_for_customer(store, key.strip())
    if not found:
        from .main import RuleErrors

        raise RuleErrors(f"no delivery '{key}' in the outbox, and no customer of that name has one "
                         f"(see `tierwise actions list`)")
    for n, r in enumerate(found):
        if n:
            console().print("")
        _show(r)


def _show(r: Any) -> None:
    from ..engine.outbox import options_of

    row = _row(r)
    for name in ("key", "run", "customer", "action", "rule", "previous_tier", "tier", "score", "status",
                 "attempts", "updated"):
        console().print(f"{name:14} {esc(str(row[name]) if row[name] is not None else '—')}", highlight=False)
    console().print(f"{'options':14} {esc(json.dumps(options_of(r), ensure_ascii=False))}", highlight=False)
    if row["detail"]:
        console().print(f"{'answer':14} {esc(row['detail'])}", highlight=False)


COMMANDS = (actions,)
