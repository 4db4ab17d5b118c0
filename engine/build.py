"""Statement-level compilation: AST -> Plan (+ diagnostics). Entry point: ``compile_ruleset``."""
from __future__ import annotations

from ..dsl import ast as A
from ..dsl.diagnostics import Diagnostics, suggest
from . import checks
from . import plan as P
from .compile import Compiler, Context, _string_bands, text_hash
from .options import ENV_PLACEHOLDER, build_options
from .plugin_manager import Registry

DEFAULT_POINTS = (1.0, 10.0)


def compile_ruleset(rs: A.Ruleset, registry: Registry, diags: Diagnostics) -> P.Plan | None:
    c = Compiler(rs, registry, diags)
    c.check_duplicates()

    # settings
    mode = "weighted"
    if rs.scoring is not None:
        if rs.scoring.mode not in ("weighted", "additive"):
            close = suggest(rs.scoring.mode, ["weighted", "additive"])
            diags.error(f"unknown scoring '{rs.scoring.mode}'", rs.scoring.mode_span, expected="weighted or additive",
                        hint=f"did you mean '{close}'?" if close else None)
        else:
            mode = rs.scoring.mode
    if rs.scoring is not None and rs.scoring.base is not None and mode != "additive":
        diags.error("'base' belongs to additive scoring", rs.scoring.span, expected="scoring additive base N")
    if rs.cap is not None and mode != "additive":
        diags.error("a total cap belongs to additive scoring", rs.cap.span)
    points_range = DEFAULT_POINTS if rs.points is None else (rs.points.low, rs.points.high)
    for decl in (rs.points, rs.score):
        if decl is not None and not decl.low < decl.high:
            diags.error(f"invalid {decl.which} range {checks.fmt(decl.low)}..{checks.fmt(decl.high)}", decl.span,
                        expected=f"{decl.which} LOW..HIGH with LOW below HIGH")
    if rs.points is not None and mode == "weighted" and rs.points.high <= 0:
        diags.error("the top of the points range must be above 0", rs.points.span)
    score_range = None if rs.score is None else (rs.score.low, rs.score.high)
    check_range = points_range if (mode == "weighted" or rs.points is not None) else None
    global_missing = _missing(rs.missing, check_range, diags) if rs.missing else P.MissingRule("error")

    # sources
    if not rs.sources:
        diags.error("no source: the ruleset reads no data", None,
                    expected='source NAME = csv("file.csv") key KEY_COLUMN')
    for expr in c.all_exprs():
        c.scan_usage(expr, False)
    both = c.multi_row & c.single_row
    if both:
        c.multi_row -= both  # columns used directly: one row per customer (duplicates are reported at run time)
    sources: list[P.SourcePlan] = []
    for s in rs.sources:
        cls = registry.connectors.get(s.connector)
        if cls is None:
            close = suggest(s.connector, list(registry.connectors))
            diags.error(f"no plugin provides connector '{s.connector}'", s.connector_span,
                        expected="one of: " + ", ".join(sorted(registry.connectors)),
                        hint=f"did you mean '{close}'?" if close else "install a plugin that provides it")
            continue
        opts, raw, env = build_options(cls, "connector", s.args, s.options, diags, s.span)
        # the plan keeps env("VAR") as a placeholder, never the value (a URL may carry a password):
        # a run reads the variable again when it opens the source
        raw = {k: ENV_PLACEHOLDER.format(env[k]) if k in env else v for k, v in raw.items()}
        sources.append(P.SourcePlan(s.name, s.connector, raw, env, s.key, multi_row=s.name in c.multi_row))

    # measures and indicators
    measures = {m.name: c.expr(m.expr, Context("measure", m.name)) for m in rs.measures}
    indicators = [_indicator(c, ind, mode, points_range, check_range, global_missing) for ind in rs.all_indicators()]
    checks.check_weights(rs, mode == "additive", diags)
    for dim in rs.dimensions:
        if not dim.indicators:
            diags.error(f"dimension '{dim.name}' has no indicators", dim.name_span)
    dimensions = [P.DimensionPlan(d.name, d.weight.value if d.weight else None, [i.name for i in d.indicators],
                                  d.cap.value if d.cap else None) for d in rs.dimensions]
    if mode == "weighted":
        for node in [*rs.dimensions, *rs.all_indicators()]:
            if node.cap is not None:
                diags.error("caps belong to additive scoring", node.cap.span)
    top_level = [("dimension", d.name, d.weight.value if d.weight else None) for d in rs.dimensions]
    top_level += [("indicator", i.name, i.weight.value if i.weight else None) for i in rs.indicators]
    if not indicators:
        diags.error("no indicators: nothing to score", None, expected="indicator NAME = EXPR weight W { ... }")

    # classification
    tiers = []
    for t in rs.tiers:
        cond = c.expr(t.condition, Context("tier", t.name), "bool") if t.condition is not None else None
        tiers.append(P.TierPlan(t.name, t.label, t.rule, cond, t.top.value if t.top else None,
                                bool(t.top and t.top.percent),
                                (t.expect_low, t.expect_high) if t.expect_low is not None else None))
    labels = {lb.name: c.expr(lb.condition, Context("label", lb.name), "bool") for lb in rs.labels}
    segments = []
    for seg in rs.segments:
        cases = []
        for case in seg.cases:
            cond = c.expr(case.condition, Context("segment", seg.name), "bool") if case.condition else None
            cases.append((case.value, cond))
        segments.append(P.SegmentPlan(seg.name, cases))
    tier_names = [t.name for t in rs.tiers]
    triggers = []
    for trg in rs.triggers:
        cond = c.expr(trg.condition, Context("trigger", trg.name), "bool")
        effects = []
        for eff in trg.effects:
            if eff.effect == "cap" and eff.tier not in tier_names:
                _unknown_tier(eff.tier, eff.span, tier_names, diags)
            if eff.effect == "downgrade" and (eff.steps or 0) < 1:
                diags.error("downgrade takes a number of tiers, 1 or more", eff.span)
            effects.append({"effect": eff.effect, "tier": eff.tier, "steps": eff.steps})
        triggers.append(P.TriggerPlan(trg.name, cond, effects))
    on_rules = [_on_rule(o, registry, tier_names, [t.name for t in rs.triggers], list(c.labels), diags)
                for o in rs.on_rules]

    primary = rs.sources[0].name if rs.sources else ""
    plan = P.Plan(
        name=rs.header.name if rs.header else "", version=rs.header.version if rs.header else None,
        sources=sources, primary=primary, scoring=mode, points_range=points_range, score_range=score_range,
        base=(rs.scoring.base or 0.0) if rs.scoring else 0.0, total_cap=rs.cap.value if rs.cap else None,
        measures=measures, indicators=indicators, dimensions=dimensions, top_level=top_level, tiers=tiers,
        labels=labels, segments=segments, triggers=triggers, on_rules=on_rules,
        examples=[_example(ex, c, tier_names, diags) for ex in rs.examples],
        column_types=dict(c.column_types),
    )
    checks.check_tiers(rs, plan, diags)
    conditions = [(f"tier {t.name}", tp.condition, t.span) for t, tp in zip(rs.tiers, tiers) if tp.condition]
    conditions += [(f"label {lb.name}", labels[lb.name], lb.span) for lb in rs.labels]
    conditions += [(f"trigger {t.name}", tp.condition, t.span) for t, tp in zip(rs.triggers, triggers)]
    checks.check_never_fires(plan, conditions, diags)
    _check_cycles(c, rs, diags)
    return None if diags.errors else plan


def _missing(m: A.MissingPolicy, check_range, diags: Diagnostics) -> P.MissingRule:
    if m.policy == "points" and check_range is not None and not (
            check_range[0] - checks.EPS <= m.points <= check_range[1] + checks.EPS):
        diags.error(f"missing -> points {checks.fmt(m.points)} is outside the points range "
                    f"{checks.fmt(check_range[0])}..{checks.fmt(check_range[1])}", m.span)
    return P.MissingRule(m.policy, m.points)


def _indicator(c: Compiler, ind: A.Indicator, mode: str, points_range, check_range,
               global_missing: P.MissingRule) -> P.IndicatorPlan:
    d = c.d
    ctx = Context("indicator", ind.name)
    if ind.bands is not None and ind.scale is not None:
        d.error(f"indicator '{ind.name}' has both bands and a scale; choose one", ind.scale.span)
    text_bands = bool(ind.bands) and _string_bands(ind.bands)
    expr = c.expr(ind.expr, ctx, "string" if text_bands else "number")
    if ind.bands is not None:
        checks.check_bands(ind, check_range, d)
    normalizer = None
    norm_opts = None
    if ind.scale is not None:
        cls = c.reg.normalizers.get(ind.scale.normalizer)
        if cls is None:
            close = suggest(ind.scale.normalizer, list(c.reg.normalizers))
            d.error(f"no plugin provides normalizer '{ind.scale.normalizer}'", ind.scale.span,
                    expected="one of: " + ", ".join(sorted(c.reg.normalizers)),
                    hint=f"did you mean '{close}'?" if close else None)
        else:
            normalizer = cls.name
            norm_opts, _, _ = build_options(cls, "normalizer", ind.scale.args, ind.scale.options, d, ind.scale.span)
    missing = _missing(ind.missing, check_range, d) if ind.missing else global_missing
    bands = None
    if ind.bands:
        bands = [P.BandRule(b.op, tuple(v.value for v in b.values), b.points, _band_text(b)) for b in ind.bands]
    return P.IndicatorPlan(
        name=ind.name, expr=expr, value_type="string" if text_bands else "number",
        weight=ind.weight.value if ind.weight else None, dimension=ind.dimension, missing=missing,
        bands=bands, normalizer=normalizer, normalizer_options=norm_opts,
        cap=ind.cap.value if ind.cap else None,
        percent_compared=any(isinstance(v, A.Number) and v.percent for b in (ind.bands or []) for v in b.values),
        span=ind.span,
    )


def _band_text(b: A.Band) -> str:
    def t(v):
        return v.text if isinstance(v, A.Number) else f'"{v.value}"'
    pts = checks.fmt(b.points)
    if b.op == "range":
        return f"{t(b.values[0])}..{t(b.values[1])} -> {pts}"
    if b.op == "in":
        return f"in ({', '.join(t(v) for v in b.values)}) -> {pts}"
    if b.op == "else":
        return f"else -> {pts}"
    return f"{b.op} {t(b.values[0])} -> {pts}"


def _unknown_tier(name, span, tier_names, diags):
    close = suggest(name or "", tier_names)
    diags.error(f"unknown tier '{name}'", span, expected="one of: " + ", ".join(tier_names) if tier_names else
                "a tier declared with `tier NAME ...`", hint=f"did you mean '{close}'?" if close else None)


def _on_rule(o: A.OnRule, registry: Registry, tiers, triggers, labels, diags: Diagnostics) -> P.OnRulePlan:
    if o.event in ("tier", "enter", "leave") and o.target not in tiers:
        _unknown_tier(o.target, o.target_span, tiers, diags)
    if o.event == "trigger" and o.target not in triggers:
        close = suggest(o.target or "", triggers)
        diags.error(f"unknown trigger '{o.target}'", o.target_span, hint=f"did you mean '{close}'?" if close else None)
    if o.event == "label" and o.target not in labels:
        close = suggest(o.target or "", labels)
        diags.error(f"unknown label '{o.target}'", o.target_span, hint=f"did you mean '{close}'?" if close else None)
    actions = []
    for call in o.actions:
        cls = registry.actions.get(call.action)
        if cls is None:
            close = suggest(call.action, list(registry.actions))
            diags.error(f"no plugin provides action '{call.action}'", call.span,
                        expected="one of: " + ", ".join(sorted(registry.actions)),
                        hint=f"did you mean '{close}'?" if close else "install a plugin that provides it")
            continue
        opts, _, _ = build_options(cls, "action", call.args, call.options, diags, call.span)
        actions.append(P.ActionPlan(cls.name, opts))
    text = f"{o.event} {o.target}" if o.target else o.event
    return P.OnRulePlan(o.event, o.target, actions, text)


def _example(ex: A.Example, c: Compiler, tier_names, diags: Diagnostics) -> P.ExamplePlan:
    points = {}
    for pv in ex.points:
        if pv.indicator not in c.indicators:
            close = suggest(pv.indicator, list(c.indicators))
            diags.error(f"unknown indicator '{pv.indicator}' in example", pv.span,
                        hint=f"did you mean '{close}'?" if close else None)
        points[pv.indicator] = pv.points
    rows: dict[str, list[dict]] = {}
    for row in ex.rows:
        if row.source not in c.sources:
            close = suggest(row.source, list(c.sources))
            diags.error(f"unknown source '{row.source}' in example", row.span,
                        hint=f"did you mean '{close}'?" if close else None)
        rows.setdefault(row.source, []).append({f.column: f.value.value for f in row.fields})
    expectations = []
    for e in ex.expectations:
        if e.what == "tier" and e.name not in tier_names:
            _unknown_tier(e.name, e.span, tier_names, diags)
        if e.what in ("label", "no_label") and e.name not in c.labels:
            diags.error(f"unknown label '{e.name}'", e.span)
        expectations.append(e.model_dump(exclude={"span"}))
    if not ex.expectations:
        diags.error(f"example \"{ex.name}\" expects nothing", ex.span, expected="expect score S, tier X")
    return P.ExamplePlan(ex.name, ex.as_of, points, rows, expectations, ex.span)


def _check_cycles(c: Compiler, rs: A.Ruleset, diags: Diagnostics) -> None:
    """Measures and indicators may refer to each other, but not in a circle."""
    graph: dict[str, set[str]] = {}
    spans: dict[str, A.Span] = {}
    for m in rs.measures:
        ctx = Context("measure", m.name)
        Compiler(rs, c.reg, Diagnostics("", None)).expr(m.expr, ctx)
        graph[m.name] = {n for _, n in ctx.deps}
        spans[m.name] = m.name_span
    for ind in rs.all_indicators():
        ctx = Context("indicator", ind.name)
        Compiler(rs, c.reg, Diagnostics("", None)).expr(ind.expr, ctx)
        graph[ind.name] = {n for _, n in ctx.deps}
        spans[ind.name] = ind.name_span
    state: dict[str, int] = {}

    def visit(n: str, path: list[str]) -> None:
        if state.get(n) == 2 or n not in graph:
            return
        if state.get(n) == 1:
            cycle = path[path.index(n):] + [n]
            diags.error("circular definition: " + " -> ".join(cycle), spans[n])
            return
        state[n] = 1
        for m in sorted(graph[n]):
            visit(m, path + [n])
        state[n] = 2

    for n in graph:
        visit(n, [])


def compile_text(text: str, filename: str, registry: Registry) -> tuple[P.Plan | None, Diagnostics, A.Ruleset | None]:
    """Parse + compile. Syntax errors come back as diagnostics, never exceptions."""
    from ..dsl import RuleFileError, parse

    try:
        rs = parse(text, filename)
    except RuleFileError as exc:
        return None, exc.diagnostics, None
    diags = Diagnostics(filename, text)
    plan = compile_ruleset(rs, registry, diags)
    if plan is not None:
        plan.text_hash = text_hash(text)
    return plan, diags, rs
