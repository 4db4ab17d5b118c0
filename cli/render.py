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


def print_issues(outcome) -> None:
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


def _num(x) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:,.4f}".rstrip("0").rstrip(".")
    return str(x)


def matching_band(ind, value):
    """The band (``BandRule``) that scored ``value``: the first that matches, else None."""
    from ..engine.expressions import tolerance

    if value is None:
        return None
    for b in ind.bands:
        if b.op == "else":
            return b
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
            return b
    return None


def which_band(ind, value) -> str:
    if value is None:
        return "missing"
    band = matching_band(ind, value)
    return band.text if band is not None else "no band matched"


def _dimension(plan, name: str):
    return next(d for d in plan.dimensions if d.name == name)


def no_score_because(plan, row: dict) -> list[str]:
    """The `missing -> error` indicators that left this customer without a score, each with why."""
    out = []
    for ind in plan.indicators:
        if ind.missing.policy == "error" and row.get(f"{ind.name}.points") is None:
            out.append(f"{ind.name} is missing" if row.get(ind.name) is None else f"{ind.name} matched no band")
    return out


def effective_weights(plan, row: dict) -> dict[str, float]:
    """Weight of each indicator (and dimension) in the score for this customer: with
    `missing -> exclude`, a missing item's weight is spread over the present ones. Only `exclude`
    re-spreads: a missing `missing -> error` indicator leaves the customer without a score instead."""
    out: dict[str, float] = {}
    top = [(k, n, w or 0.0) for k, n, w in plan.top_level]
    errors = {i.name for i in plan.indicators if i.missing.policy == "error"}

    def dropped(kind: str, name: str) -> bool:
        if kind == "indicator":
            return row.get(f"{name}.points") is None and plan.indicator(name).missing.policy == "exclude"
        inds = _dimension(plan, name).indicators
        # a dimension drops out when everything in it was excluded, not when a missing error-indicator voids it
        return (row.get(name) is None and any(plan.indicator(i).missing.policy == "exclude" for i in inds)
                and not any(i in errors and row.get(f"{i}.points") is None for i in inds))

    top_total = sum(w for k, n, w in top if not dropped(k, n)) or 1.0
    for kind, name, w in top:
        out[name] = 0.0 if dropped(kind, name) else w / top_total
        if kind == "dimension":
            inds = [plan.indicator(i) for i in _dimension(plan, name).indicators]
            inner = sum(i.weight or 0.0 for i in inds if not dropped("indicator", i.name)) or 1.0
            for i in inds:
                out[i.name] = 0.0 if dropped("indicator", i.name) else (i.weight or 0.0) / inner
    return out


def _rule_applied(plan, outcome, ind, value, points, missing: set[str]) -> str:
    if ind.bands:
        band = matching_band(ind, value)
        rule = "missing" if value is None else band.text if band is not None else "no band matched"
        raw = band.points if band is not None else None
    elif ind.normalizer:
        params = outcome.calibration.get(ind.name, {})
        rule = f"scale {ind.normalizer}(" + ", ".join(f"{k}={_num(v)}" for k, v in params.items()) + ")"
        raw = None
    else:
        rule, raw = "value is the points", value if isinstance(value, (int, float)) else None
    if ind.name in missing:
        p = ind.missing
        policy = f"missing -> {p.policy}" + (f" {_num(p.points)}" if p.points is not None else "")
        rule = policy if value is None else f"{rule}; {policy}"
    elif ind.cap is not None and points is not None:  # additive: the indicator's points stop at its cap
        if raw is not None and raw > ind.cap + 1e-9:
            rule += f"; cap {_num(ind.cap)}: {_num(raw)} → {_num(points)}"
        elif raw is None and abs(points - ind.cap) <= 1e-9:
            rule += f"; cap {_num(ind.cap)}"
    return rule


def scorecard(plan, outcome, row: dict) -> None:
    """One customer's scorecard. The contributions of the rows (base, indicators, caps) add up to the
    score; a dimension's subtotal row sums the rows above it."""
    additive = plan.scoring == "additive"
    scale = (plan.score_range[1] / plan.points_range[1]) if plan.score_range and not additive else 1.0
    table = Table(title=esc(f"{plan.key_column} {row[plan.key_column]} — as of {outcome.as_of}"))
    columns = ("dimension", "indicator", "value", "rule applied", "points", "weight", "contribution")
    for col in columns if not additive else [c for c in columns if c != "weight"]:
        table.add_column(col, justify="right" if col in ("points", "weight", "contribution", "value") else "left")
    eff = effective_weights(plan, row) if not additive else {}
    score = row.get("score")

    def weight_text(declared: float | None, effective: float) -> str:
        d = (declared or 0) * 100
        e = effective * 100
        return f"{d:g}%" if abs(d - e) < 1e-9 else f"{d:g}% → {e:.4g}%"  # → : re-spread by `missing -> exclude`

    def add(dimension: str, item: str, value: str, rule: str, points: str, weight: str, contrib: str, **kw) -> None:
        cells = [dimension, item, value, rule, points] + ([] if additive else [weight]) + [contrib]
        table.add_row(*cells, **kw)

    missing = set(filter(None, (row.get("missing") or "").split(",")))
    total: float | None = plan.base  # additive: the sum before the total cap
    if additive:
        add("—", "base", "", esc(f"scoring additive base {_num(plan.base)}"), "", "", _num(plan.base),
            end_section=True)
    for kind, name, weight in plan.top_level:
        inds = [plan.indicator(i) for i in (_dimension(plan, name).indicators if kind == "dimension" else [name])]
        section: float | None = 0.0  # additive: the dimension's sum before its cap
        for ind in inds:
            value, points = row.get(ind.name), row.get(f"{ind.name}.points")
            rule = _rule_applied(plan, outcome, ind, value, points, missing)
            if additive:
                # an excluded indicator adds nothing; a missing error-indicator leaves no score
                contrib = points if points is not None else 0.0 if ind.missing.policy == "exclude" else None
                section = None if section is None or contrib is None else section + contrib
                wtxt = ""
            else:
                w = eff.get(ind.name, 0.0) * (eff.get(ind.dimension, 0.0) if ind.dimension else 1.0)
                contrib = None if points is None else points * w * scale
                wtxt = weight_text(ind.weight, eff.get(ind.name, 0.0))
            add(esc(ind.dimension or "—"), esc(ind.name), esc(_num(value)), esc(rule), _num(points), wtxt,
                _num(contrib))
        if kind == "dimension":
            sub = row.get(name)
            if additive:
                cap = _dimension(plan, name).cap
                if cap is not None and sub is not None and section is not None and section - sub > 1e-9:
                    add(esc(name), "cap", "", esc(f"cap {_num(cap)}: {_num(section)} → {_num(sub)}"), "", "",
                        _num(sub - section))
                contrib, wtxt = sub, ""
            else:
                contrib = None if sub is None else sub * eff.get(name, 0.0) * scale
                wtxt = weight_text(weight, eff.get(name, 0.0))
            add(f"[bold]{esc(name)}[/bold]", "subtotal", "", "", _num(sub), wtxt, _num(contrib), end_section=True)
            section = sub
        total = None if total is None or section is None else total + section
    if additive and plan.total_cap is not None and score is not None and total is not None and total - score > 1e-9:
        add("—", "cap", "", esc(f"cap {_num(plan.total_cap)}: {_num(total)} → {_num(score)}"), "", "",
            _num(score - total))
    console().print(table)
    print_outcome(plan, row)


def print_outcome(plan, row: dict) -> None:
    """The lines under a scorecard: score and tier (with its label), or why there is no score;
    each segment's value; the labels; what the next tier up needs."""
    out = console()
    score, tier = row.get("score"), row.get("tier")
    label = next((t.label for t in plan.tiers if t.name == tier and t.label), None)
    tier_text = f"tier [bold]{esc(tier)}[/bold]" + (f" ({esc(label)})" if label else "")
    if score is None:
        because = no_score_because(plan, row)
        why = (", ".join(because) + " (missing -> error)") if because else "nothing to score (every indicator missing)"
        # a `when` tier that does not ask for the score can still hold a customer without one
        out.print(f"[bold]no score[/bold]: {esc(why)}" + (f"; {tier_text}" if tier is not None else ", so no tier"))
    else:
        out.print(f"score [bold]{_num(score)}[/bold]  " + (tier_text if tier is not None else
                                                          "tier — (no tier rule matched)"))
    for seg in plan.segments:
        value = row.get(seg.name)
        out.print(f"  {esc(seg.name)} = " + (esc(value) if value is not None else "— (no case matched)"))
    if row.get("labels"):
        out.print(f"labels: {esc(row['labels'])}")
    gap = next_tier_gap(plan, score, tier)
    if gap:
        out.print(esc(gap))


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
