"""Commands for the decisions people make: ``override`` (request, approve, reject, revoke, list),
``review`` (list, resolve) and ``audit``."""
from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import click

from .history import out_option, store_options, write_rows
from .main import DATE
from .render import console, esc


def _ruleset(store: Any, name: str | None) -> tuple[str, list[str]]:
    """The ruleset meant (``--ruleset``, else the only one the store has runs of) and its tiers."""
    import json

    from .main import RuleErrors

    runs = [r for r in store.runs() if r.status == "complete"]
    names = list(dict.fromkeys(r.ruleset for r in runs))
    if name is None:
        if len(names) != 1:
            raise RuleErrors("say which ruleset with --ruleset NAME: the store has runs of "
                             + (", ".join(names) if names else "no ruleset yet (run it first)"))
        name = names[0]
    last = next((r for r in runs if r.ruleset == name), None)
    if last is None:
        raise RuleErrors(f"the store has no run of ruleset '{name}'" + (f"; it has: {', '.join(names)}" if names else ""))
    return name, [t for t in json.loads(last.tier_counts or "{}") if t]


def _fail(exc: Exception) -> None:
    from .main import RuleErrors

    raise RuleErrors(str(exc)) from None


@click.group()
def override() -> None:
    """Overrides (例外处理): set a customer's final tier by hand, once a second person approves.

    Order of precedence on every later run and re-rate: an approved, unexpired
    override, then trigger effects, then the computed tier.

    Example:

        tierwise override request KH00042 --tier A --reason "战略客户" --by 李经理
    """


@override.command("request")
@click.argument("customer")
@click.option("--tier", required=True, help="The final tier this customer should have.")
@click.option("--reason", required=True, help="Why (kept with the override and in the audit trail).")
@click.option("--by", "by", required=True, help="Who asks.")
@click.option("--until", type=DATE, metavar="DATE", help="Last day it applies (default: until revoked).")
@click.option("--ruleset", help="The ruleset it is for (default: the only one in the store).")
@store_options
def request_cmd(customer: str, tier: str, reason: str, by: str, until: Any, ruleset: str | None, store: Any) -> None:
    """Request an override; it applies once someone else approves it.

    Example:

        tierwise override request KH00043 --tier B --reason "新签框架协议" --by 李经理 --until 2030-12-31
    """
    from ..dsl.diagnostics import suggest
    from ..engine.store import decisions as D
    from .main import RuleErrors

    name, tiers = _ruleset(store, ruleset)
    if tiers and tier not in tiers:
        close = suggest(tier, tiers)
        raise RuleErrors(f"ruleset '{name}' has no tier '{tier}'; its tiers: {', '.join(tiers)}"
                         + (f" — did you mean '{close}'?" if close else ""))
    try:
        ov = D.request_override(store, name, customer.strip(), tier, reason, by, until)
    except D.DecisionError as exc:
        _fail(exc)
    console().print(f"override {esc(ov.id)} requested: {esc(ov.customer)} → tier {esc(ov.tier)}; it applies once "
                    f"someone other than {esc(ov.requested_by)} runs `tierwise override approve {esc(ov.id)} --by NAME`",
                    highlight=False)


EXAMPLES = {  # in the demo directory, after the two `override request` examples
    "approve": "tierwise override approve KH00042 --by 王总",
    "reject": "tierwise override reject KH00043 --by 王总 --note 依据不足",
    "revoke": "tierwise override revoke KH00042 --by 王总",
}


def _decision(verb: str) -> Any:
    @click.argument("override_id", metavar="ID|CUSTOMER")
    @click.option("--by", "by", required=True, help="Who decides.")
    @click.option("--note", help="What was decided, and why.")
    @store_options
    def command(override_id: str, by: str, note: str | None, store: Any) -> None:
        from ..engine.store import decisions as D

        fn = {"approve": D.approve_override, "reject": D.reject_override, "revoke": D.revoke_override}[verb]
        try:
            ov = fn(store, override_id, by, note)
        except D.DecisionError as exc:
            _fail(exc)
        console().print(f"override {esc(ov.id)} ({esc(ov.customer)} → tier {esc(ov.tier)}) {ov.status} by "
                        f"{esc(ov.decided_by)}", highlight=False)
        if verb == "approve" and (ov.until is None or ov.until >= date.today()):
            _takes_effect(store, ov, by)

    command.__doc__ = {
        "approve": "Approve an override (a different person than who requested it).",
        "reject": "Reject a requested override.",
        "revoke": "Revoke an override: later runs no longer apply it.",
    }[verb] + ("\n\n    Give the override's id (see `tierwise override list`), or the customer when they have\n"
               "    one override that can be " + {"approve": "approved", "reject": "rejected", "revoke": "revoked"}[verb]
               + ".\n\n    Example:\n\n        " + EXAMPLES[verb] + "\n")
    return override.command(verb)(command)


def _takes_effect(store: Any, ov: Any, by: str) -> None:
    """An approved override is the customer's final tier from now: recorded as a rating, its actions delivered."""
    from ..engine.override_rating import rate_override
    from ..engine.plugin_manager import default_registry
    from ..engine.settings import settings_for_delivery

    rated = rate_override(store, default_registry(), ov, by, settings_for_delivery)
    if rated is None:
        console().print(f"{esc(ov.customer)} has no rating yet: the override applies from the next run",
                        highlight=False)
        return
    d = rated.delivered.counts
    console().print(f"recorded: {esc(ov.customer)} {esc(rated.previous_tier or '—')} → {esc(rated.final_tier)} "
                    f"(run {rated.run_id[:8]}, reason override {esc(ov.id)}); actions: {d.get('delivered', 0)} "
                    f"delivered, {d.get('failed', 0)} failed, {d.get('pending', 0)} pending", highlight=False)
    for line in rated.delivered.log[:5]:
        console().print(esc(line), highlight=False)


for _verb in ("approve", "reject", "revoke"):
    _decision(_verb)


@override.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also rejected and revoked ones.")
@click.option("--customer", help="Only this customer's.")
@store_options
@out_option
def list_cmd(show_all: bool, customer: str | None, store: Any, out: Path | None) -> None:
    """List the overrides: requested and approved ones (--all: every one).

    Example:

        tierwise override list
    """
    from rich.table import Table

    from ..engine.store import decisions as D

    today = date.today()
    rows = []
    for ov in D.overrides(store, customer=customer):
        if not show_all and ov.status not in ("requested", "approved"):
            continue
        state = "expired" if ov.status == "approved" and ov.until is not None and ov.until < today else ov.status
        rows.append({"id": ov.id, "ruleset": ov.ruleset, "customer": ov.customer, "tier": ov.tier, "status": state,
                     "reason": ov.reason, "requested_by": ov.requested_by, "decided_by": ov.decided_by or "",
                     "until": ov.until.isoformat() if ov.until else ""})
    table = Table("id", "customer", "tier", "status", "until", "reason", "requested by", "decided by")
    for r in rows:
        table.add_row(*(esc(r[k]) for k in ("id", "customer", "tier", "status", "until", "reason", "requested_by",
                                            "decided_by")))
    console().print(table if rows else "no overrides")
    write_rows(rows, out)


@click.group()
def review() -> None:
    """The review list: customers a trigger's `review` effect put there.

    Example:

        tierwise review list
    """


@review.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also resolved items.")
@store_options
@out_option
def review_list(show_all: bool, store: Any, out: Path | None) -> None:
    """List open review items (--all: resolved ones too).

    Example:

        tierwise review list
    """
    from rich.table import Table

    from ..engine.store import decisions as D

    rows = [{"id": i.id, "customer": i.customer, "trigger": i.trigger, "run": i.run_id, "status": i.status,
             "resolved_by": i.resolved_by or "", "note": i.note or ""}
            for i in D.reviews(store, None if show_all else "open")]
    table = Table("id", "customer", "trigger", "run", "status", "resolved by", "note")
    for r in rows:
        table.add_row(esc(r["id"]), esc(r["customer"]), esc(r["trigger"]), esc(r["run"][:12]), r["status"],
                      esc(r["resolved_by"]), esc(r["note"]))
    console().print(table if rows else "the review list is empty")
    write_rows(rows, out)


@review.command("resolve")
@click.argument("item_id", metavar="ID|CUSTOMER")
@click.option("--by", "by", required=True, help="Who resolves it.")
@click.option("--note", required=True, help="What was decided.")
@store_options
def review_resolve(item_id: str, by: str, note: str, store: Any) -> None:
    """Resolve a review item with a note.

    Give the item's id (see `tierwise review list`), or the customer when they
    have one open item.

    Example:

        tierwise review resolve KH00007 --by 王总 --note "已电话回访，维持评级"
    """
    from ..engine.store import decisions as D

    try:
        item = D.resolve_review(store, item_id, by, note)
    except D.DecisionError as exc:
        _fail(exc)
    console().print(f"review item {esc(item.id)} ({esc(item.customer)}) resolved by {esc(item.resolved_by)}",
                    highlight=False)


@click.command()
@click.argument("customer", required=False)
@store_options
@out_option
def audit(customer: str | None, store: Any, out: Path | None) -> None:
    """The audit trail: every change to an override and the review list, oldest first.

    Example:

        tierwise audit KH00042
    """
    import json

    from rich.table import Table

    from ..engine.store import decisions as D

    rows = [{"at": e.at.strftime("%Y-%m-%d %H:%M:%S"), "actor": e.actor, "action": e.action,
             "customer": e.customer or "", "subject": e.subject,
             "detail": ", ".join(f"{k}: {v}" for k, v in json.loads(e.detail or "{}").items() if v is not None)}
            for e in D.audit_events(store, customer.strip() if customer else None)]
    table = Table("at (UTC)", "who", "what", "customer", "id", "detail")
    for r in rows:
        table.add_row(r["at"], esc(r["actor"]), esc(r["action"]), esc(r["customer"]), esc(r["subject"]),
                      esc(r["detail"]))
    console().print(table if rows else "no audit events")
    write_rows(rows, out)


COMMANDS = (override, review, audit)
