"""Terminal rendering with rich: diagnostics, tier distribution, data issues, scorecards."""
from __future__ import annotations

from functools import lru_cache

from rich.console import Console
from rich.table import Table


@lru_cache(maxsize=1)
def console() -> Console:
    # piped output (files, CI, tests) gets wide tables instead of wrapped cells
    # emoji=False: rich would turn `:100:` in `FILE:100:3:` into an emoji; user text is escaped with esc()
    probe = Console()
    return Console(highlight=False, emoji=False, soft_wrap=True, width=None if probe.is_terminal else 200)


@lru_cache(maxsize=1)
def err_console() -> Console:
    return Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)


def print_diagnostics(diags) -> None:
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


def print_distribution(outcome) -> None:
    plan = outcome.plan
    table = Table(title=esc(f"{plan.name or 'ruleset'} {plan.version or ''} — {outcome.rows} customers, "
                            f"as of {outcome.as_of}"))
    for col in ("tier", "label", "count", "share", "expected", "within"):
        table.add_column(col, justify="right" if col in ("count", "share") else "left")
    for t in outcome.distribution:
        within = t.within
        mark = "" if within is None else ("[green]yes[/green]" if within else "[red]no[/red]")
        expected = f"{_pct(t.expect[0])}..{_pct(t.expect[1])}" if t.expect else ""
        table.add_row(esc(t.tier or "—"), esc(t.label or ""), str(t.count), _pct(t.share), expected, mark)
    console().print(table)


def print_issues(outcome) -> None:
    out = err_console()
    for w in outcome.warnings:
        out.print(f"[yellow]data warning:[/yellow] {esc(w)}")
    for issue in outcome.issues:
        out.print(f"[yellow]data:[/yellow] {esc(issue.format())}")
    if outcome.missing_counts:
        rules = {i.name: i.missing for i in outcome.plan.indicators}

        def policy(name: str) -> str:
            m = rules[name]
            return f"scored {m.points:g}" if m.policy == "points" else {"exclude": "excluded"}.get(m.policy, "no score")

        parts = ", ".join(f"{k} {v} ({policy(k)})" for k, v in outcome.missing_counts.items())
        out.print(f"missing values: {esc(parts)}")


def _num(x) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:,.4f}".rstrip("0").rstrip(".")
    return str(x)


def which_band(ind, value) -> str:
    from ..engine.expressions import tolerance

    if value is None:
        return "missing"
    for b in ind.bands:
        if b.op == "else":
            return b.text
        v = b.values
        if isinstance(value, str) or (v and isinstance(v[0], str)):
            ok = (b.op == "==" and value == v[0]) or (b.op == "!=" and value != v[0]) or (b.op == "in" and value in v)
        elif b.op == "range":
            ok = value >= v[0] - tolerance(v[0]) and value < v[1] - tolerance(v[1])
        elif b.op == "in":
            ok = any(abs(value - x) <= tolerance(x) for x in v)
        else:
            c, e = float(v[0]), tolerance(float(v[0]))
            ok = {">=": value >= c - e, ">": value > c + e, "<=": value <= c + e, "<": value < c - e,
                  "==": abs(value - c) <= e, "!=": abs(value - c) > e}[b.op]
        if ok:
            return b.text
    return "no band matched"


def effective_weights(plan, row: dict) -> dict[str, float]:
    """Weight of each indicator (and dimension) in the score for this customer: with
    `missing -> exclude`, a missing item's weight is spread over the present ones."""
    out: dict[str, float] = {}
    top = [(k, n, w or 0.0) for k, n, w in plan.top_level]

    def present(kind: str, name: str) -> bool:
        return row.get(name if kind == "dimension" else f"{name}.points") is not None

    top_total = sum(w for k, n, w in top if present(k, n)) or 1.0
    for kind, name, w in top:
        share = w / top_total if present(kind, name) else 0.0
        out[name] = share
        if kind == "dimension":
            inds = [plan.indicator(i) for i in next(d for d in plan.dimensions if d.name == name).indicators]
            inner = sum(i.weight or 0.0 for i in inds if present("indicator", i.name)) or 1.0
            for i in inds:
                out[i.name] = (i.weight or 0.0) / inner if present("indicator", i.name) else 0.0
    return out


def scorecard(plan, outcome, row: dict) -> None:
    scale = (plan.score_range[1] / plan.points_range[1]) if plan.score_range and plan.scoring == "weighted" else 1.0
    table = Table(title=esc(f"{plan.key_column} {row[plan.key_column]} — as of {outcome.as_of}"))
    for col in ("dimension", "indicator", "value", "rule applied", "points", "weight", "contribution"):
        table.add_column(col, justify="right" if col in ("points", "weight", "contribution", "value") else "left")
    eff = effective_weights(plan, row) if plan.scoring == "weighted" else {}

    def weight_text(declared: float | None, effective: float) -> str:
        d = (declared or 0) * 100
        e = effective * 100
        return f"{d:g}%" if abs(d - e) < 1e-9 else f"{d:g}% → {e:.4g}%"  # → : re-spread by `missing -> exclude`

    missing = set(filter(None, (row.get("missing") or "").split(",")))
    for kind, name, weight in plan.top_level:
        inds = [plan.indicator(i) for i in (next(d for d in plan.dimensions if d.name == name).indicators
                                             if kind == "dimension" else [name])]
        for ind in inds:
            value, points = row.get(ind.name), row.get(f"{ind.name}.points")
            if ind.bands:
                rule = which_band(ind, value)
            elif ind.normalizer:
                params = outcome.calibration.get(ind.name, {})
                rule = f"scale {ind.normalizer}(" + ", ".join(f"{k}={_num(v)}" for k, v in params.items()) + ")"
            else:
                rule = "value is the points"
            if ind.name in missing:
                p = ind.missing
                rule = f"missing -> {p.policy}" + (f" {_num(p.points)}" if p.points is not None else "")
            if plan.scoring == "weighted":
                w = eff.get(ind.name, 0.0) * (eff.get(ind.dimension, 0.0) if ind.dimension else 1.0)
                contrib = None if points is None else points * w * scale
                wtxt = weight_text(ind.weight, eff.get(ind.name, 0.0))
            else:
                contrib, wtxt = points, ""
            table.add_row(esc(ind.dimension or "—"), esc(ind.name), esc(_num(value)), esc(rule), _num(points),
                          wtxt, _num(contrib))
        if kind == "dimension":
            sub = row.get(name)
            if plan.scoring == "weighted":
                contrib = None if sub is None else sub * eff.get(name, 0.0) * scale
                wtxt = weight_text(weight, eff.get(name, 0.0))
            else:
                contrib, wtxt = sub, ""
            table.add_row(f"[bold]{esc(name)}[/bold]", "subtotal", "", "", _num(sub), wtxt, _num(contrib),
                          end_section=True)
    console().print(table)
    score, tier = row.get("score"), row.get("tier")
    console().print(f"score [bold]{_num(score)}[/bold]  tier [bold]{esc(str(tier))}[/bold]"
                    + (f"  labels: {esc(row['labels'])}" if row.get("labels") else ""))
    gap = next_tier_gap(plan, score, tier)
    if gap:
        console().print(esc(gap))


def next_tier_gap(plan, score, tier) -> str | None:
    """What a customer lacks for the next tier up: points for a `score >= c` tier, else its rule."""
    from ..engine import plan as P

    if score is None:
        return None
    names = [t.name for t in plan.tiers]
    if tier not in names:
        return None
    idx = names.index(tier)
    if idx == 0:
        return "already in the top tier"
    nxt = plan.tiers[idx - 1]
    c = nxt.condition
    if nxt.rule == "top":
        return f"tier {nxt.name} is the top {nxt.top * 100:g}% by score" if nxt.top_percent else \
            f"tier {nxt.name} is the top {nxt.top:g} by score"
    if isinstance(c, P.Cmp) and c.left == P.Ref("score") and isinstance(c.right, P.Lit) and c.op in (">=", ">"):
        need = max(float(c.right.value) - score, 0.0)
        amount = f"{need:.4g} more points" + (" and a little more" if c.op == ">" else "")
        return f"{amount} to reach tier {nxt.name} (score {c.op} {c.right.value:g})"
    return f"tier {nxt.name} has its own rule (not a score cut): see the rule file"
