"""Commands that read the rating history: ``runs``, ``history CUSTOMER``, ``changes [RUN_A RUN_B]``."""
from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .render import console, esc

OUT_HELP = "Also write the table to .csv or .xlsx."


def out_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--out FILE: the printed table into .csv or .xlsx too."""

    def check(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
        if value is not None and value.suffix.lower() not in (".csv", ".xlsx"):
            raise click.BadParameter("must end in .csv or .xlsx", ctx, param)
        return value

    return click.option("--out", type=click.Path(path_type=Path), callback=check, help=OUT_HELP)(fn)


def store_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--db URL (default: TIERWISE_DB, else tierwise.db in the current directory): the store, opened."""

    @click.option("--db", "db", metavar="URL",
                  help="The rating store: a SQLAlchemy URL (sqlite:///tierwise.db, postgresql://USER@HOST/DB; "
                       "the password comes from the environment). Default: TIERWISE_DB, else ./tierwise.db.")
    @functools.wraps(fn)
    def wrapper(*args: Any, db: str | None, **kwargs: Any) -> Any:
        from ..engine.store import Store, default_url
        from ..engine.store.store import StoreError
        from .main import RuleErrors

        url = db or default_url(None)
        if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
            raise RuleErrors(f"no rating store at {url[len('sqlite:///'):]}: `tierwise run` records runs there "
                             f"(or give --db URL / set TIERWISE_DB)")
        try:
            store = Store.open(url)
        except StoreError as exc:
            raise RuleErrors(str(exc)) from None
        try:
            return fn(*args, store=store, **kwargs)
        finally:
            store.close()

    return wrapper


def write_rows(rows: list[dict[str, Any]], path: Path | None, sheet: str = "history") -> None:
    """The rows of a printed table into .csv/.xlsx (as a run's output is written)."""
    if path is None:
        return
    import pyarrow as pa

    from ..engine.output import write_output

    write_output(pa.Table.from_pylist(rows), path)
    console().print(f"wrote {len(rows)} row(s) to {esc(path)}", highlight=False)


def _shift(x: float | None) -> str:
    return "—" if x is None else f"{x:+.2f}"


def _num(x: float | None) -> str:
    return "—" if x is None else f"{x:.4g}"


@click.command()
@store_options
@out_option
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="How many runs to show.")
def runs(store: Any, out: Path | None, limit: int) -> None:
    """List the recorded runs, newest first: id, ruleset, as-of, who, status, customers per tier.

    Example:

        tierwise runs
    """
    from rich.table import Table

    rows = []
    for r in store.runs(limit=limit):
        rows.append({"run": r.id, "kind": r.kind, "ruleset": r.ruleset, "version": r.version or "",
                     "as_of": r.as_of.isoformat(), "started": r.started_at.strftime("%Y-%m-%d %H:%M:%S"),
                     "by": r.started_by, "status": r.status, "customers": r.rows,
                     "tiers": " ".join(f"{t or '—'}:{n}" for t, n in json.loads(r.tier_counts or "{}").items())})
    table = Table(*["run", "kind", "ruleset", "as of", "started (UTC)", "by", "status", "customers", "tiers"])
    for row in rows:
        table.add_row(esc(row["run"][:12]), row["kind"], esc(f"{row['ruleset']} {row['version']}".strip()),
                      row["as_of"], row["started"], esc(row["by"]), row["status"], str(row["customers"]),
                      esc(row["tiers"]))
    console().print(table if rows else "no runs recorded yet")
    write_rows(rows, out)


@click.command()
@click.argument("customer")
@store_options
@out_option
def history(customer: str, store: Any, out: Path | None) -> None:
    """One customer's ratings over time: score, computed and final tier, and why each was rated.

    Example:

        tierwise history KH00042
    """
    from rich.table import Table

    from ..engine.store.managers import assignments

    rated = store.history(customer.strip())
    rows = [{"run": run.id, "as_of": run.as_of.isoformat(), "ruleset": run.ruleset, "score": g.score,
             "computed_tier": g.computed_tier, "final_tier": g.final_tier, "reason": g.reason}
            for run, g in rated]
    if not rows:
        from .main import RuleErrors

        raise RuleErrors(f"no ratings of customer '{customer}' in the store")
    held = assignments(store, customer=customer.strip(), active_only=False)
    if held:  # the manager each rating left the customer with (assign_manager)
        for row, (run, _) in zip(rows, rated):
            row["manager"] = _manager_after(run, held, {r.id: r.started_at for r, _ in rated})
    columns = ["as of", "run", "ruleset", "score", "computed tier", "final tier", "reason"]
    table = Table(*columns, *(["manager"] if held else []), title=esc(f"customer {customer.strip()}"))
    for row in rows:
        table.add_row(row["as_of"], esc(row["run"][:12]), esc(row["ruleset"]), _num(row["score"]),
                      esc(row["computed_tier"] or "—"), esc(row["final_tier"] or "—"), esc(row["reason"]),
                      *([esc(row["manager"] or "—")] if held else []))
    console().print(table)
    for a in held:
        if a.released_at is None:
            console().print(f"manager: {esc(a.manager)} (pool {esc(a.pool)}, {esc(a.ruleset)}, since "
                            f"{a.assigned_at:%Y-%m-%d %H:%M} UTC)", highlight=False)
    write_rows(rows, out)


def _manager_after(run: Any, held: list[Any], started: dict[str, Any]) -> str | None:
    """The manager(s) the customer held after ``run``: assigned by it or an earlier run of its ruleset,
    and not released by it or an earlier one."""
    def at(run_id: str | None, fallback: Any) -> Any:
        t = started.get(run_id) if run_id else None
        return t if t is not None else fallback

    names = []
    for a in held:
        if a.ruleset != run.ruleset:
            continue
        start = at(a.assigned_by_run, a.assigned_at)
        end = at(a.released_by_run, a.released_at) if (a.released_by_run or a.released_at) else None
        if _naive(start) <= _naive(run.started_at) and (end is None or _naive(run.started_at) < _naive(end)):
            names.append(f"{a.manager} ({a.pool})")
    return ", ".join(names) or None


def _naive(t: Any) -> Any:
    """Times compared as UTC (SQLite gives them back without the zone)."""
    from datetime import timezone

    return t.astimezone(timezone.utc).replace(tzinfo=None) if getattr(t, "tzinfo", None) is not None else t


@click.command()
@click.argument("run_ids", nargs=-1, metavar="[RUN_A RUN_B]")
@store_options
@out_option
@click.option("--top", type=click.IntRange(min=0), default=20, show_default=True,
              help="How many movers to print (--out writes them all).")
def changes(run_ids: tuple[str, ...], store: Any, out: Path | None, top: int) -> None:
    """What changed between two runs (default: the last two full runs): the tier migration matrix with counts
    and shares, the customers that moved, and the indicators whose points changed most.

    Example:

        tierwise changes
    """
    from rich.table import Table

    from ..engine.changes import compare_runs
    from .main import RuleErrors

    if len(run_ids) not in (0, 2):
        raise click.UsageError("give two run ids (RUN_A RUN_B), or none for the last two runs")
    if run_ids:
        found = [store.run(r) for r in run_ids]
        for ref, r in zip(run_ids, found):
            if r is None:
                raise RuleErrors(f"no run '{ref}' (or more than one starts so): see `tierwise runs`")
        before, after = found
    else:
        last = [r for r in store.runs() if r.status == "complete" and r.kind == "periodic"][:2]
        if len(last) < 2:
            raise RuleErrors("changes needs two recorded full runs; the store has "
                             f"{len(last)} complete full run(s) (give RUN_A RUN_B to compare others)")
        after, before = last
    ch = compare_runs(store, before, after)
    matrix = Table(title=esc(f"{before.id[:12]} ({before.as_of}) → {after.id[:12]} ({after.as_of}): "
                             f"{ch.moved} of {ch.both} customers moved"))
    matrix.add_column("from \\ to")
    for t in ch.tiers:
        matrix.add_column(esc(t or "no tier"), justify="right")
    for a in ch.tiers:
        matrix.add_row(esc(a or "no tier"), *(f"{ch.matrix.get((a, b), 0)} ({ch.share(a, b) * 100:.1f}%)"
                                              for b in ch.tiers))
    console().print(matrix)
    if ch.only_before or ch.only_after:
        console().print(f"only in {esc(before.id[:12])}: {ch.only_before}; only in {esc(after.id[:12])}: "
                        f"{ch.only_after}", highlight=False)
    if ch.shifts:
        shifts = Table("tier before", "customers", "mean shift", "median shift", title="score shift (after − before)")
        for s in ch.shifts:
            shifts.add_row(esc(s.tier or "no tier"), str(s.customers), _shift(s.mean), _shift(s.median))
        console().print(shifts)
    movers = Table("customer", "tier", "score", "points that changed most", title="movers")
    for m in ch.movers[:top]:
        movers.add_row(esc(m.customer), esc(f"{m.tier_before or '—'} → {m.tier_after or '—'}"),
                       f"{_num(m.score_before)} → {_num(m.score_after)}",
                       esc(", ".join(f"{c.indicator} {_num(c.before)} → {_num(c.after)}" for c in m.changes)))
    if ch.movers:
        console().print(movers)
        if len(ch.movers) > top:
            console().print(f"… {len(ch.movers) - top} more; --out FILE writes them all", highlight=False)
    rows = [{"customer": m.customer, "tier_before": m.tier_before, "tier_after": m.tier_after,
             "score_before": m.score_before, "score_after": m.score_after,
             "changed_points": "; ".join(f"{c.indicator} {_num(c.before)} -> {_num(c.after)}" for c in m.changes)}
            for m in ch.movers]
    write_rows(rows, out)


COMMANDS = (runs, history, changes)
