"""Terminal rendering with rich: diagnostics, tier distribution, data issues, scorecards."""
from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # pragma: no cover
    from ..dsl.diagnostics import Diagnostics
    from ..engine.explain import Line, Scorecard
    from ..engine.run import RunOutcome


@lru_cache(maxsize=1)
def console() -> Console:
    # piped output (files, CI, tests) gets wide tables instead of wrapped cells
    # emoji=False: rich would turn `:100:` in `FILE:100:3:` into an emoji; user text is escaped with esc()
    probe = Console()
    return Console(highlight=False, emoji=False, soft_wrap=True, width=None if probe.is_terminal else 200)


@lru_cache(maxsize=1)
def err_console() -> Console:
    return Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)


def print_diagnostics(diags: Diagnostics) -> None:
    out = err_console()
    for d in diags.sorted():
        text = d.format(diags.filename, diags.text)
        color = "red" if d.severity == "error" else "yellow"
        first, _, rest = text.partition("\n")
        out.print(f"[{color}]{esc(first)}[/{color}]" + ("\n" + esc(rest) if rest else ""))


def esc(s: object) -> str:
    """User text (names, values, paths, messages) as rich markup that prints as written."""
    from rich.markup import escape

    return escape(str(s))


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def print_distribution(outcome: RunOutcome) -> None:
    plan = outcome.plan
    title = " ".join(filter(None, [plan.name or "ruleset", plan.version]))
    table = Table(title=esc(f"{title} — {outcome.rows} customers, as of {outcome.as_of}"))
    for col in ("tier", "label", "count", "share", "expected", "within"):
        table.add_column(col, justify="right" if col in ("count", "share") else "left")
    for t in outcome.distribution:
        within = t.within
        mark = "" if within is None else ("[green]yes[/green]" if within else "[red]no[/red]")
        expected = f"{_pct(t.expect[0])}..{_pct(t.expect[1])}" if t.expect else ""
        table.add_row(esc(t.tier or "—"), esc(t.label or ""), str(t.count), _pct(t.share), expected, mark)
    console().print(table)


def print_issues(outcome: RunOutcome) -> None:
    out = err_console()
    for w in outcome.warnings:
        out.print(f"[yellow]warning:[/yellow] {esc(w)}")
    for issue in outcome.issues:
        out.print(f"[yellow]data:[/yellow] {esc(issue.format())}")
    if outcome.missing_counts:
        rules = {i.name: i.missing for i in outcome.plan.indicators}

        def policy(name: str) -> str:
            m = rules[name]
            return f"scored {m.points:g}" if m.policy == "points" else {"exclude": "excluded"}.get(m.policy, "no score")

        parts = ", ".join(f"{k} {v} ({policy(k)})" for k, v in outcome.missing_counts.items())
        out.print(f"missing values: {esc(parts)}")


def scorecard(card: Scorecard) -> None:
    """Print a scorecard (engine.explain.Scorecard): the lines, then the score, tier, segments, labels."""
    from ..engine.explain import number_text as num

    table = Table(title=esc(f"{card.key_column} {card.key} — as of {card.as_of}"))
    columns = ("dimension", "indicator", "value", "rule applied", "points", "weight", "contribution")
    for col in columns if not card.additive else [c for c in columns if c != "weight"]:
        table.add_column(col, justify="right" if col in ("points", "weight", "contribution", "value") else "left")

    def weight_text(line: Line) -> str:
        if line.kind not in ("indicator", "subtotal") or line.weight is None:
            return ""
        d = (line.declared_weight or 0) * 100
        e = line.weight * 100
        return f"{d:g}%" if abs(d - e) < 1e-9 else f"{d:g}% → {e:.4g}%"  # → : re-spread by `missing -> exclude`

    for n, line in enumerate(card.lines):
        last_of_section = line.kind in ("base", "subtotal")
        dimension = f"[bold]{esc(line.dimension)}[/bold]" if line.kind == "subtotal" else esc(line.dimension or "—")
        value = esc(num(line.value)) if line.kind == "indicator" else ""
        points = num(line.points) if line.kind in ("indicator", "subtotal") else ""
        cells = [dimension, esc(line.name), value, esc(line.rule), points]
        if not card.additive:
            cells.append(weight_text(line))
        cells.append(num(line.contribution))
        table.add_row(*cells, end_section=last_of_section)
    console().print(table)
    print_outcome(card)


def print_outcome(card: Scorecard) -> None:
    """The lines under a scorecard: score and tier (with its label), or why there is no score;
    each segment's value; the labels; what the next tier up needs."""
    from ..engine.explain import number_text as num

    out = console()
    tier_text = f"tier [bold]{esc(card.tier)}[/bold]" + (f" ({esc(card.tier_label)})" if card.tier_label else "")
    if card.score is None:
        why = card.no_score_reason or "no score"
        # a `when` tier that does not ask for the score can still hold a customer without one
        out.print(f"[bold]no score[/bold]: {esc(why)}" + (f"; {tier_text}" if card.tier is not None else ", so no tier"))
    else:
        out.print(f"score [bold]{num(card.score)}[/bold]  " + (tier_text if card.tier is not None else
                                                             "tier — (no tier rule matched)"))
    for name, value in card.segments:
        out.print(f"  {esc(name)} = " + (esc(value) if value is not None else "— (no case matched)"))
    if card.labels:
        out.print(f"labels: {esc(','.join(card.labels))}")
    if card.final_tier != card.tier:
        out.print(f"final tier [bold]{esc(card.final_tier or '—')}[/bold] (computed {esc(card.tier or '—')}: "
                  f"an approved override or a trigger's effect)")
    for t in card.triggers:
        mark = "[red]fired[/red]" if t.fired else "not fired"
        out.print(f"trigger {esc(t.name)}: {mark} (-> {esc(t.effects)})", highlight=False)
        for c in t.comparisons:
            if c.last is None:
                out.print(f"  change({esc(c.indicator)}): no last stored value (fresh {esc(num(c.fresh))}), "
                          f"so missing", highlight=False)
            else:
                change = "missing (last value 0)" if c.change is None else f"{c.change * 100:+.1f}%"
                out.print(f"  change({esc(c.indicator)}): last {esc(num(c.last))} → fresh {esc(num(c.fresh))}: "
                          f"{change}", highlight=False)
    if card.next_tier:
        out.print(esc(card.next_tier))
