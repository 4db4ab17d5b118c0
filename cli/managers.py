"""``tierwise managers``: the key-account managers ``assign_manager(pool)`` handed out, and their load."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .history import out_option, store_options, write_rows
from .render import console, esc, print_diagnostics


def settings_here(path: Path | None) -> Any:
    """The settings of --settings FILE, else TIERWISE_SETTINGS, else tierwise.toml found from the current
    folder up; None when there is none. A file with errors is shown, and the store's data still is."""
    from ..engine.settings import SettingsError, find_settings, read_settings

    found = path or find_settings(Path.cwd() / "_.tier")
    if found is None:
        return None
    try:
        return read_settings(found)
    except SettingsError as exc:
        print_diagnostics(exc.diagnostics)
        return None


@click.command()
@click.option("--pool", help="Only this pool.")
@click.option("--customers", "list_customers", is_flag=True, help="List each customer and their manager too.")
@click.option("--settings", "settings_path", type=click.Path(path_type=Path, dir_okay=False),
              help="The tierwise.toml whose pools to show (default: TIERWISE_SETTINGS, else the one found from "
                   "the current folder up): managers with no customers and capacities come from it.")
@store_options
@out_option
def managers(store: Any, out: Path | None, pool: str | None, list_customers: bool,
             settings_path: Path | None) -> None:
    """The managers of each pool: how many customers each holds now (against their capacity), and with
    --customers who they are. Assignments are made by `assign_manager(pool: NAME)` in a rule file.

    Example:

        tierwise managers --pool KA --customers
    """
    from rich.table import Table

    from ..engine.store.managers import assignments

    settings = settings_here(settings_path)
    pools = dict(settings.managers) if settings is not None else {}
    held = assignments(store, pool=pool)
    if pool is not None and pool not in pools and not held:
        from ..dsl.diagnostics import suggest
        from .main import RuleErrors

        known = sorted(set(pools) | {a.pool for a in assignments(store)})
        close = suggest(pool, known)
        raise RuleErrors(f"no pool '{pool}'" + (f" — did you mean '{close}'?" if close else
                                                 f" (pools: {', '.join(known)})" if known else ""))
    load: dict[tuple[str, str], int] = {}
    for a in held:
        load[(a.pool, a.manager)] = load.get((a.pool, a.manager), 0) + 1
    rows: list[dict[str, Any]] = []
    for name in sorted(set(pools) | {a.pool for a in held}):
        if pool is not None and name != pool:
            continue
        listed = list(pools[name].managers) if name in pools else []
        others = sorted({m for (p, m) in load if p == name} - set(listed))  # no longer in the pool's list
        for m in listed + others:
            cap = pools[name].capacity_of(m) if name in pools else None
            rows.append({"pool": name, "manager": m, "customers": load.get((name, m), 0), "capacity": cap,
                         "in_pool": m in listed})
    table = Table("pool", "manager", "customers", "capacity", title="managers")
    for r in rows:
        table.add_row(esc(r["pool"]), esc(r["manager"] + ("" if r["in_pool"] else " (not in the pool now)")),
                      str(r["customers"]), "—" if r["capacity"] is None else str(r["capacity"]))
    console().print(table if rows else "no pools of managers and no assignments yet")
    if list_customers:
        people = Table("customer", "pool", "manager", "since (UTC)", "ruleset", "run", title="assignments")
        for a in held:
            people.add_row(esc(a.customer), esc(a.pool), esc(a.manager), a.assigned_at.strftime("%Y-%m-%d %H:%M"),
                           esc(a.ruleset), esc(a.assigned_by_run[:12]))
        console().print(people if held else "no customer holds a manager")
        write_rows([{"customer": a.customer, "pool": a.pool, "manager": a.manager,
                     "assigned_at": a.assigned_at.isoformat(), "ruleset": a.ruleset, "run": a.assigned_by_run}
                    for a in held], out)
    else:
        write_rows(rows, out)


COMMANDS = (managers,)
