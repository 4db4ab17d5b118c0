"""``tierwise diff OLD.tier NEW.tier``: a parallel run of two ruleset versions (新旧标准并行)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .backend_options import backend_options
from .diff_files import SUFFIXES, summary_line, write_diff
from .main import source_options
from .render import console, err_console, esc


def _num(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "—"
    return f"{x:+.2f}" if signed else f"{x:.2f}"


def print_parallel_run(pr: Any, top: int) -> None:
    from rich.table import Table

    out = console()
    ch = pr.changes
    out.print(esc(summary_line(pr)), highlight=False)
    if pr.rules:
        out.print(f"rule changes ({len(pr.rules)}):", highlight=False)
        for c in pr.rules:
            out.print("  " + esc(c.text), highlight=False)
    else:
        out.print("no rule changes: the two rulesets rate alike", highlight=False)
    matrix = Table(title=esc(f"old tier × new tier: {ch.moved} of {ch.both} moved ({ch.moved_share * 100:.1f}%)"))
    matrix.add_column("old \\ new")
    for t in ch.tiers:
        matrix.add_column(esc(t or "no tier"), justify="right")
    for a in ch.tiers:
        matrix.add_row(esc(a or "no tier"), *(f"{ch.matrix.get((a, b), 0)} ({ch.share(a, b) * 100:.1f}%)"
                                              for b in ch.tiers))
    out.print(matrix)
    if ch.only_before or ch.only_after:
        out.print(f"rated by the old ruleset only: {ch.only_before}; by the new one only: {ch.only_after}",
                  highlight=False)
    shifts = Table("old tier", "customers", "mean shift", "median shift", title="score shift (new − old)")
    for s in ch.shifts:
        shifts.add_row(esc(s.tier or "no tier"), str(s.customers), _num(s.mean, True), _num(s.median, True))
    out.print(shifts)
    if pr.movers:
        movers = Table(esc(pr.old.key_column), "tier", "score", "why", title="moved customers")
        for m in pr.movers[:top]:
            movers.add_row(esc(m.customer), esc(f"{m.tier_before or '—'} → {m.tier_after or '—'}"),
                           f"{_num(m.score_before)} → {_num(m.score_after)}",
                           esc("\n".join(r.text for r in m.reasons) or "—"))
        out.print(movers)
        if len(pr.movers) > top:
            out.print(f"… {len(pr.movers) - top} more; --out FILE writes them all", highlight=False)
    err = err_console()
    for note in pr.notes:
        err.print(f"[yellow]note:[/yellow] {esc(note)}", highlight=False)
    seen = set()
    for side, issue in pr.issues:  # the same data: most issues are met by both runs; shown once
        text = issue.format()
        if text not in seen:
            seen.add(text)
            err.print(f"[yellow]data:[/yellow] {esc(text)}", highlight=False)


@click.command()
@backend_options
@click.argument("old_file", metavar="OLD.tier", type=click.Path(path_type=Path))
@click.argument("new_file", metavar="NEW.tier", type=click.Path(path_type=Path))
@source_options
@click.option("--out", type=click.Path(path_type=Path),
              help="Also write .csv (the moved customers), .xlsx (matrix, movers, rule changes) or .html.")
@click.option("--top", type=click.IntRange(min=0), default=20, show_default=True,
              help="How many moved customers to print (--out writes them all).")
def diff(old_file: Path, new_file: Path, overrides: dict[str, str], as_of: Any, out: Path | None, top: int) -> None:
    """Rate the same data with two versions of a ruleset and show who moves and why (新旧标准并行).

    Shows the rule changes (indicators, bands, weights, normalizers, tier cuts
    added, removed or changed), the migration matrix old tier × new tier with
    counts and shares, the share that moved, the score shift per old tier, and
    for each moved customer the indicators whose points changed, the band that
    scored each on both sides, and the rule that differs. Tiers are the
    computed ones (score and cuts); overrides and trigger effects need a rating
    history and are left out. Both rulesets read the same data: --source
    NAME=PATH applies to both, and each source both declare must otherwise
    name the same file. Records nothing and delivers no action. Exit code 0 (1 when a ruleset has errors or
    the data cannot be read).

    Example:

    \b
        tierwise diff relationship_rating.tier relationship_rating_2026.2.tier --as-of 2026-06-30 --out diff.xlsx
    """
    from ..engine.parallel_run import parallel_run
    from ..engine.plugin_api import DataError
    from .main import RuleErrors, load, refuse_overwriting_inputs, registry
    from .progress import progress_for

    if out is not None and out.suffix.lower() not in SUFFIXES:
        raise click.BadParameter(f"must end in {', '.join(SUFFIXES)}", param_hint="--out")
    old, new = load(old_file, show_warnings=False), load(new_file, show_warnings=False)
    for plan, file in ((old, old_file), (new, new_file)):
        refuse_overwriting_inputs(plan, file, {k: v for k, v in overrides.items()
                                               if k in {s.name for s in plan.sources}}, {"--out": out})
    try:
        pr = parallel_run(old, old_file, new, new_file, registry(), as_of, overrides,
                          progress=progress_for(err_console()))
    except DataError as exc:
        raise RuleErrors(str(exc)) from None
    print_parallel_run(pr, top)
    if out is not None:
        try:
            write_diff(pr, out)
        except OSError as exc:
            raise RuleErrors(f"cannot write {out}: {exc.strerror or exc}") from None
        console().print(f"wrote the diff ({len(pr.movers)} moved customer(s)) to {esc(out)}", highlight=False)


COMMANDS = (diff,)
