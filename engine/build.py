"""Compilation as passes over one IR. Entry points: ``compile_text`` (parse + compile), ``compile_ruleset``.

1. resolve (here and engine.compile): the AST's statements -> the Plan, names resolved to ``Ref``/``Col``
   nodes that keep their spans, plugin options validated; the dependency graph recorded once
   (``Plan.deps``, ``dependencies``). What it reports is what resolving finds: unknown names, names in
   the wrong place, plugin options, declarations that contradict each other (caps, ranges, examples).
2. engine.infer_types: the type of every column use written onto its node.
3. the checks that read only the Plan (``PLAN_CHECKS``: bands, weights, tiers, never-firing rules,
   named values, cycles, output names; then engine.type_checks: every type error).
"""
from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING, Any, Literal

from ..dsl import ast as A
from ..dsl.diagnostics import Diagnostics, suggest
from . import checks, dates, name_checks, type_checks
from .dates import date_hint, parse_date
from . import plan as P
from .compile import Compiler, Context, _string_bands, text_hash
from .infer_types import infer_types
from .name_checks import tier_hint
from .options import ENV_PLACEHOLDER, build_options
from .plugin_api import ActionHandler
from .plugin_manager import Registry

if TYPE_CHECKING:  # pragma: no cover
    from .settings import SettingsLookup

DEFAULT_POINTS = (1.0, 10.0)
Range = tuple[float, float]  # a points or score range: LOW..HIGH
# scheme://user:password@host — a password written into the rule file
URL_PASSWORD = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@]*:[^/\s@]+@")
SECRET_OPTIONS = re.compile(r"^(password|passwd|pwd|secret|token|api_?key|access_?key)$", re.IGNORECASE)
TYPO_RATIO = 0.75  # an example column this close to one the rules read is taken for a typo of it


#: the checks that read only the Plan, in the order they report
PLAN_CHECKS = (checks.check_bands, checks.check_weights, checks.check_tiers, checks.check_never_fires, name_checks.check_named_values,
               name_checks.check_cycles, name_checks.check_output_names)


def compile_ruleset(rs: A.Ruleset, registry: Registry, diags: Diagnostics,
                    settings: SettingsLookup | None = None) -> P.Plan | None:
    """``settings``: where the rule file's tierwise.toml is looked for when an action reads it (pools,
    channels); None: those actions' settings are not checked (a rule text without a file)."""
    c = Compiler(rs, registry, diags)
    c.check_duplicates()

    # settings
    mode: Literal["weighted", "additive"] = "weighted"
    if rs.scoring is not None:
        if rs.scoring.mode not in ("weighted", "additive"):
            close = suggest(rs.scoring.mode, ["weighted", "additive"])
            diags.error(f"unknown scoring '{rs.scoring.mode}'", rs.scoring.mode_span, expected="weighted or additive",
                        hint=f"did you mean '{close}'?" if close else None)
        else:
            mode = "additive" if rs.scoring.mode == "additive" else "weighted"
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
    if (mode == "weighted" and rs.score is not None and rs.score.low < rs.score.high
            and points_range[0] < points_range[1] and points_range[1] > 0):
        lowest = points_range[0] / points_range[1] * rs.score.high
        if lowest < rs.score.low - 1e-9:
            diags.warning(f"scores can fall below {checks.fmt(rs.score.low)}: score = composite / "
                          f"{checks.fmt(points_range[1])} × {checks.fmt(rs.score.high)} runs from "
                          f"{checks.fmt(lowest)} to {checks.fmt(rs.score.high)}", rs.score.span,
                          hint=f"write score {checks.fmt(lowest)}..{checks.fmt(rs.score.high)}, or raise the "
                               f"bottom of the points range")
    check_range = points_range if (mode == "weighted" or rs.points is not None) else None
    global_missing = _missing(rs.missing, check_range, diags) if rs.missing else P.MissingRule("error")
    if rs.missing is not None:
        _check_global_missing(rs, diags)

    # sources
    if not rs.sources:
        diags.error("no source: the ruleset reads no data", None,
                    expected='source NAME = csv("file.csv") key KEY_COLUMN')
    for expr in c.all_exprs():
        c.scan_usage(expr, None)
    # the first source is the population; another one no rule reads is a slip (said when nothing else is wrong:
    # a misspelt name that was meant to read it is an error already)
    unused = [s for s in rs.sources[1:] if s.name not in c.multi_row | c.single_row]
    # a source read through aggregates has several rows per customer; its columns used directly anywhere
    # else are errors (Compiler.column), never a silent switch of those aggregates to population-wide ones
    sources: list[P.SourcePlan] = []
    for s in rs.sources:
        cls = registry.connectors.get(s.connector)
        if cls is None:
            close = suggest(s.connector, list(registry.connectors))
            diags.error(f"no plugin provides connector '{s.connector}'", s.connector_span,
                        expected="one of: " + ", ".join(sorted(registry.connectors)),
                        hint=f"did you mean '{close}'?" if close else "install a plugin that provides it")
            continue
        _check_secrets(s, diags)
        opts, raw, env = build_options(cls, "connector", s.args, s.options, diags, s.span)
        # the plan keeps env("VAR") as a placeholder, never the value (a URL may carry a password):
        # a run reads the variable again when it opens the source
        raw = {k: ENV_PLACEHOLDER.format(env[k]) if k in env else v for k, v in raw.items()}
        sources.append(P.SourcePlan(s.name, s.connector, raw, env, s.key, multi_row=s.name in c.multi_row))

    # measures and indicators
    measures = {m.name: c.expr(m.expr, Context("measure", m.name)) for m in rs.measures}
    indicators = [_indicator(c, ind, mode, points_range, check_range, global_missing) for ind in rs.all_indicators()]
    for dim in rs.dimensions:
        if not dim.indicators:
            diags.error(f"dimension '{dim.name}' has no indicators", dim.name_span)
    dimensions = [P.DimensionPlan(d.name, d.weight.value if d.weight else None, [i.name for i in d.indicators],
                                  d.cap.value if d.cap else None, d.name_span, _written(d.weight))
                  for d in rs.dimensions]
    if mode == "weighted":
        capped: list[A.Dimension | A.Indicator] = [*rs.dimensions, *rs.all_indicators()]
        for node in capped:
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
                                (t.expect_low, t.expect_high) if t.expect_low is not None and t.expect_high is not None else None,
                                span=t.span, name_span=t.name_span, top_text=t.top.text if t.top else "",
                                top_span=t.top.span if t.top else None, expect_span=t.expect_span))
    labels = [P.LabelPlan(lb.name, c.expr(lb.condition, Context("label", lb.name), "bool"), lb.span, lb.name_span)
              for lb in rs.labels]
    segments = []
    for seg in rs.segments:
        cases = []
        otherwise = None
        for case in seg.cases:
            if otherwise is not None:
                diags.warning(f"case {case.value} can never be reached: '{otherwise} otherwise' above it takes "
                              f"everyone left", case.span, hint="cases are tried top to bottom; put otherwise last")
            elif case.condition is None:
                otherwise = case.value
            cond = c.expr(case.condition, Context("segment", seg.name), "bool") if case.condition else None
            cases.append((case.value, cond))
        segments.append(P.SegmentPlan(seg.name, cases, seg.span, seg.name_span, [case.span for case in seg.cases]))
    tier_names = [t.name for t in rs.tiers]
    triggers = []
    for trg in rs.triggers:
        cond = c.expr(trg.condition, Context("trigger", trg.name), "bool")
        effects = []
        for eff in trg.effects:
            if eff.effect == "cap" and eff.tier not in tier_names:
                _unknown_tier(eff.tier, eff.span, rs.tiers, diags)
            if eff.effect == "downgrade" and (eff.steps or 0) < 1:
                diags.error("downgrade takes a number of tiers, 1 or more", eff.span)
            elif eff.effect == "downgrade" and eff.steps is not None and not float(eff.steps).is_integer():
                diags.error(f"downgrade {checks.fmt(eff.steps)}: a whole number of tiers", eff.span,
                            expected="downgrade 1, downgrade 2, ...")
            effects.append(P.TriggerEffect(eff.effect, eff.tier, eff.steps, eff.span))
        triggers.append(P.TriggerPlan(trg.name, cond, effects, trg.span, trg.name_span))
    on_rules = [_on_rule(o, registry, rs.tiers, [t.name for t in rs.triggers], list(c.labels), diags, settings)
                for o in rs.on_rules]

    primary = rs.sources[0].name if rs.sources else ""
    plan = P.Plan(
        name=rs.header.name if rs.header else "", version=rs.header.version if rs.header else None,
        sources=sources, primary=primary, scoring=mode, points_range=points_range, score_range=score_range,
        base=(rs.scoring.base or 0.0) if rs.scoring else 0.0, total_cap=rs.cap.value if rs.cap else None,
        measures=measures, indicators=indicators, dimensions=dimensions, top_level=top_level, tiers=tiers,
        label_rules=labels, segments=segments, triggers=triggers, on_rules=on_rules, examples=[],
        spans=_declared(rs), points_check=check_range,
    )
    plan.deps = dependencies(plan)
    infer_types(plan, diags)
    plan.examples = [_example(ex, c, plan, rs.tiers, check_range, diags) for ex in rs.examples]
    for check in PLAN_CHECKS:
        check(plan, diags)
    type_checks.check_types(plan, registry, diags)
    for s in unused if not diags.errors else ():
        diags.warning(f"source '{s.name}' is never used by the rules", s.span,
                      hint=f"read it (e.g. count({s.name}) or {s.name}.COLUMN) or delete the line")
    return None if diags.errors else plan


def _declared(rs: A.Ruleset) -> dict[tuple[str, str], A.Span]:
    """Where each named value is declared (its name), keyed like ``Plan.deps``."""
    out: dict[tuple[str, str], A.Span] = {}
    for m in rs.measures:
        out.setdefault(("measure", m.name), m.name_span)
    for ind in rs.all_indicators():
        out.setdefault(("value", ind.name), ind.name_span)
        out.setdefault(("points", ind.name), ind.name_span)
    for d in rs.dimensions:
        out.setdefault(("dimension", d.name), d.name_span)
    for lb in rs.labels:
        out.setdefault(("label", lb.name), lb.name_span)
    for seg in rs.segments:
        out.setdefault(("segment", seg.name), seg.name_span)
    if rs.tiers:
        out[("tier", "")] = rs.tiers[0].name_span
    return out


def dependencies(plan: P.Plan) -> dict[tuple[str, str], frozenset[tuple[str, str]]]:
    """The dependency graph of the plan's named values (see ``Plan.deps``)."""
    graph: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for owner, e in plan.expressions():
        refs = graph.setdefault(("tier", "") if owner[0] == "tier" else owner, set())  # tiers are one value
        for n in P.walk(e):
            if isinstance(n, P.Ref) and n.kind != "as_of":
                if n.kind == "score" and owner[0] in ("measure", "value"):
                    continue  # an error of its own (Compiler.name): no circle reported on top of it
                refs.add((n.kind, n.name))
            elif isinstance(n, P.Change):
                refs.add(("value", n.indicator))
    for ind in plan.indicators:
        graph.setdefault(("points", ind.name), set()).add(("value", ind.name))
    for dim in plan.dimensions:
        graph.setdefault(("dimension", dim.name), set()).update(("points", i) for i in dim.indicators)
    graph[("score", "")] = {("dimension" if kind == "dimension" else "points", name)
                            for kind, name, _ in plan.top_level}
    if plan.tiers:
        graph.setdefault(("tier", ""), set()).add(("score", ""))
    # Ref("tier") and Ref("score") carry no name
    return {k: frozenset(v) for k, v in graph.items()}


def _missing(m: A.MissingPolicy, check_range: Range | None, diags: Diagnostics) -> P.MissingRule:
    if m.policy == "points" and m.points is not None and check_range is not None and not (
            check_range[0] - checks.EPS <= m.points <= check_range[1] + checks.EPS):
        diags.error(f"missing -> points {checks.fmt(m.points)} is outside the points range "
                    f"{checks.fmt(check_range[0])}..{checks.fmt(check_range[1])}", m.span)
    return P.MissingRule(m.policy, m.points)


def _indicator(c: Compiler, ind: A.Indicator, mode: str, points_range: Range, check_range: Range | None,
               global_missing: P.MissingRule) -> P.IndicatorPlan:
    d = c.d
    ctx = Context("indicator", ind.name)
    if ind.bands is not None and ind.scale is not None:
        d.error(f"indicator '{ind.name}' has both bands and a scale; choose one", ind.scale.span)
    text_bands = _string_bands(ind.bands) if ind.bands else False
    expr = c.expr(ind.expr, ctx, "string" if text_bands else "number")
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
    if ind.bands is not None:
        bands = [P.BandRule(b.op, tuple(v.value for v in b.values), b.points, _band_text(b),
                            tuple(_value_text(v) for v in b.values), b.span) for b in ind.bands]
    return P.IndicatorPlan(
        name=ind.name, expr=expr, value_type="string" if text_bands else "number",
        weight=ind.weight.value if ind.weight else None, dimension=ind.dimension, missing=missing,
        bands=bands, normalizer=normalizer, normalizer_options=norm_opts,
        cap=ind.cap.value if ind.cap else None,
        percent_compared=any(isinstance(v, A.Number) and v.percent for b in (ind.bands or []) for v in b.values),
        span=ind.span, name_span=ind.name_span, weight_written=_written(ind.weight),
    )


def _written(n: A.Number | None) -> P.Written | None:
    return None if n is None else P.Written(n.text, n.percent, n.span)


def _value_text(v: A.Number | A.String) -> str:
    return v.text if isinstance(v, A.Number) else f'"{v.value}"'


def _band_text(b: A.Band) -> str:
    def t(v: A.Number | A.String) -> str:
        return v.text if isinstance(v, A.Number) else f'"{v.value}"'
    pts = checks.fmt(b.points)
    if b.op == "range":
        return f"{t(b.values[0])}..{t(b.values[1])} -> {pts}"
    if b.op == "in":
        return f"in ({', '.join(t(v) for v in b.values)}) -> {pts}"
    if b.op == "else":
        return f"else -> {pts}"
    return f"{b.op} {t(b.values[0])} -> {pts}"


def _unknown_tier(name: str | None, span: A.Span | None, tiers: list[A.Tier], diags: Diagnostics) -> None:
    tier_names = [t.name for t in tiers]
    diags.error(f"unknown tier '{name}'", span, expected="one of: " + ", ".join(tier_names) if tier_names else
                "a tier declared with `tier NAME ...`", hint=tier_hint(name or "", tiers))


def _check_global_missing(rs: A.Ruleset, diags: Diagnostics) -> None:
    """`missing ->` on the line right after a standalone indicator, not indented: it reads like the
    indicator's own policy but is the global one (an indented line continues the indicator)."""
    m = rs.missing
    if m is None:
        return
    for ind in rs.indicators:
        if ind.span.end_line == m.span.line - 1:
            diags.warning(f"this `missing` applies to every indicator, not only '{ind.name}' above it", m.span,
                          hint=f"for '{ind.name}' alone indent the line under it; for all, put it before the "
                               f"indicators")


def _check_secrets(s: A.SourceDecl, diags: Diagnostics) -> None:
    """Secrets come from env("VAR"), never from the rule file (it is shared and versioned)."""
    values = [(None, a) for a in s.args] + [(o.name, o.value) for o in s.options]
    for option, value in values:
        if not isinstance(value, A.String):
            continue
        if URL_PASSWORD.match(value.value) or (option is not None and SECRET_OPTIONS.match(option)):
            diags.error('a password in the rule file: use env("VAR")', value.span,
                        expected='env("VAR") with the URL or password in an environment variable',
                        hint=f'e.g. {s.connector}(env("{s.name.upper()}_URL"), ...) and set {s.name.upper()}_URL '
                             f'where tierwise runs')


def _on_rule(o: A.OnRule, registry: Registry, tiers: list[A.Tier], triggers: list[str], labels: list[str],
             diags: Diagnostics, settings: SettingsLookup | None = None) -> P.OnRulePlan:
    if o.event in ("tier", "enter", "leave") and o.target not in {t.name for t in tiers}:
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
        if opts is not None and settings is not None and cls.needs_settings:
            _check_settings(cls, opts, call, settings, registry, diags)
        actions.append(P.ActionPlan(cls.name, opts, call.span))
    text = f"{o.event} {o.target}" if o.target else o.event
    return P.OnRulePlan(o.event, o.target, actions, text, o.span)


def _check_settings(cls: type[ActionHandler], opts: Any, call: A.ActionCall, lookup: SettingsLookup, registry: Registry,
                    diags: Diagnostics) -> None:
    """What the action names in tierwise.toml (a pool, a channel) is there; errors at the action's option."""
    from .settings import SETTINGS_FILE, SETTINGS_VARIABLE

    found = lookup.get()
    if lookup.error is not None:
        return  # the file's own errors are reported with it
    if found is None:
        folder = lookup.rule_file.parent
        diags.error(f"action '{cls.name}' reads {SETTINGS_FILE}, and there is none for this file", call.span,
                    expected=f"{SETTINGS_FILE} in {folder if str(folder) != '.' else 'this folder'} or a folder "
                             f"above it (or {SETTINGS_VARIABLE}=FILE)",
                    hint="pools of managers go in [managers.POOL], channels in [channels.NAME]")
        return
    for problem in cls.check_settings(opts, found, registry):
        diags.error(problem.message, _option_span(cls, call, problem.option), expected=problem.expected,
                    hint=problem.hint)


def _option_span(cls: type[ActionHandler], call: A.ActionCall, option: str | None) -> A.Span:
    """The span of the value ``option`` has in the call (named or positional), else the call's."""
    for opt in call.options:
        if opt.name == option:
            return getattr(opt.value, "span", None) or opt.span
    positional = list(getattr(cls, "positional", ()))
    if option in positional and positional.index(option) < len(call.args):
        return call.args[positional.index(option)].span
    return call.span


def typo_of(name: str, candidates: list[str]) -> str | None:
    """The candidate ``name`` is a typo of, if any: the same up to case, one character changed in a name
    of three or more (回款及时律 for 回款及时率), or a close match (difflib ratio >= 0.75). Looser than
    ``suggest``: 订单号 beside 订单状态 or 工单号 beside 工单类型 is another column, not a typo."""
    best, best_ratio = None, 0.0
    for c in candidates:
        if c.casefold() == name.casefold():
            return c
        if len(c) == len(name) >= 3 and sum(a != b for a, b in zip(c, name)) == 1:
            return c
        ratio = difflib.SequenceMatcher(None, name, c).ratio()
        if ratio > best_ratio:
            best, best_ratio = c, ratio
    return best if best_ratio >= TYPO_RATIO else None


def _used_columns(plan: P.Plan) -> dict[str, set[str]]:
    """The columns the rules read, per source (a source's key included)."""
    used: dict[str, set[str]] = {s.name: {s.key} for s in plan.sources}
    for node in plan.nodes():
        if isinstance(node, (P.Col, P.RowCol)):
            used.setdefault(node.source, set()).add(node.column)
    return used


def population_aggregates(plan: P.Plan, roots: list[tuple[str, str]]) -> list[str]:
    """The population aggregates (mean, median, percentile, ...) the expressions of ``roots`` use, directly
    or through the measures and indicators they name (``Plan.deps``), by function name."""
    direct: dict[tuple[str, str], set[str]] = {}
    for owner, e in plan.expressions():
        direct.setdefault(("tier", "") if owner[0] == "tier" else owner, set()).update(n.func for n in P.walk(e) if isinstance(n, P.PopAgg))
    found: set[str] = set()
    seen: set[tuple[str, str]] = set()
    todo = list(roots)
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        found |= direct.get(node, set())
        todo += [r for r in plan.deps.get(node, ()) if r[0] in ("measure", "value", "points")]
    return sorted(found)


def _example(ex: A.Example, c: Compiler, plan: P.Plan, tiers: list[A.Tier], check_range: Range | None,
             diags: Diagnostics) -> P.ExamplePlan:
    tier_names = {t.name for t in tiers}
    as_of = ex.as_of
    if as_of is not None:
        day = parse_date(as_of)
        if day is None:
            diags.error(f'as_of "{as_of}" is not a date', ex.as_of_span or ex.span,
                        expected=f'a date like "2026-06-30" (YYYY-MM-DD; {dates.ALSO})',
                        hint=date_hint(as_of))
        else:
            as_of = day.isoformat()
    points = {}
    for pv in ex.points:
        if pv.indicator not in c.indicators:
            close = suggest(pv.indicator, list(c.indicators))
            diags.error(f"unknown indicator '{pv.indicator}' in example", pv.span,
                        hint=f"did you mean '{close}'?" if close else None)
        elif check_range is not None and not (check_range[0] - checks.EPS <= pv.points <= check_range[1] + checks.EPS):
            diags.error(f"{checks.fmt(pv.points)} points is outside the points range "
                        f"{checks.fmt(check_range[0])}..{checks.fmt(check_range[1])}", pv.span,
                        expected=f"points between {checks.fmt(check_range[0])} and {checks.fmt(check_range[1])}")
        points[pv.indicator] = pv.points
    rows: dict[str, list[dict[str, Any]]] = {}
    used = _used_columns(plan)
    for row in ex.rows:
        if row.source not in c.sources:
            close = suggest(row.source, list(c.sources))
            diags.error(f"unknown source '{row.source}' in example", row.span,
                        hint=f"did you mean '{close}'?" if close else None)
        else:
            for f in row.fields:
                # a column the rules never read, very close to one they do: a typo that would test nothing (other
                # unread columns, like an order number given for readability, are fine)
                close = typo_of(f.column, sorted(used[row.source])) if f.column not in used[row.source] else None
                if close is not None:
                    diags.warning(f"the rules never read {row.source}.{f.column}: this value has no effect", f.span,
                                  expected="one of: " + ", ".join(sorted(used[row.source])),
                                  hint=f"did you mean '{close}'?")
        rows.setdefault(row.source, []).append({f.column: f.value.value for f in row.fields})
    if ex.rows:  # raw values: a normalizer fitted on this one customer says nothing about the run
        for name, ind in c.indicators.items():
            if ind.scale is not None and name not in points:
                diags.warning(f"'{name}' is scaled by {ind.scale.normalizer} on the run's population: in this "
                              f"one-customer example it scores as if everyone had its value", ex.span,
                              expected=f"its points given in the example, e.g. points {name} 8",
                              hint=f"add: points {name} N")
        expected = {("segment" if e.what == "segment" else "label", e.name or "") for e in ex.expectations
                    if e.what in ("label", "no_label", "segment")}
        scored = [("value", i.name) for i in plan.indicators] + [("tier", "")]
        population = population_aggregates(plan, [*scored, *sorted(expected)])
        if population:
            diags.warning(f"the rules use {', '.join(population)} over all customers: in a one-customer example "
                          f"each is this customer's own value", ex.span,
                          hint="test what is built on them on sample data with tierwise run")
    expectations = []
    segments = {s.name: [case.value for case in s.cases] for s in c.rs.segments}
    for e in ex.expectations:
        if e.what == "segment":
            _check_expected_segment(e, segments, diags)
        if e.what == "tier" and e.name not in tier_names:
            _unknown_tier(e.name, e.span, tiers, diags)
        if e.what in ("label", "no_label") and e.name not in c.labels:
            close = suggest(e.name or "", list(c.labels))
            diags.error(f"unknown label '{e.name}'", e.span, hint=f"did you mean '{close}'?" if close else None)
        if e.what == "score" and e.tolerance is not None and e.tolerance < 0:
            diags.error(f"negative tolerance ± {checks.fmt(e.tolerance)}", e.span,
                        expected="a tolerance of 0 or more: expect score 80 ± 0.5")
        expectations.append(P.Expectation(e.what, e.score, e.tolerance, e.name, e.value, e.span))
    if not ex.expectations:
        diags.error(f"example \"{ex.name}\" expects nothing", ex.span, expected="expect score S, tier X")
    return P.ExamplePlan(ex.name, as_of, points, rows, expectations, ex.span)


def _check_expected_segment(e: A.Expectation, segments: dict[str, list[str]], diags: Diagnostics) -> None:
    """`expect segment NAME VALUE`: a segment the rules declare, and one of its cases."""
    if e.name not in segments:
        close = suggest(e.name or "", list(segments))
        diags.error(f"unknown segment '{e.name}'", e.span,
                    expected="one of: " + ", ".join(segments) if segments else
                    "a segment declared with `segment NAME { CASE when ... }`",
                    hint=f"did you mean '{close}'?" if close else None)
    elif e.value not in segments[e.name]:
        cases = segments[e.name]
        close = suggest(e.value or "", cases)
        diags.error(f"segment {e.name} has no case '{e.value}'", e.span, expected="one of: " + ", ".join(cases),
                    hint=f"did you mean '{close}'?" if close else None)


def _deepest_statement(rs: A.Ruleset) -> A.Span | None:
    """The span of the statement whose expression nests deepest (counted without recursion)."""
    best, best_depth = None, -1
    statements = [*rs.measures, *rs.all_indicators(), *rs.tiers, *rs.labels, *rs.segments, *rs.triggers]
    for stmt in statements:
        stack, deepest = [(stmt, 0)], 0
        while stack:
            n, d = stack.pop()
            deepest = max(deepest, d)
            stack.extend((x, d + 1) for x in n.children())
        if deepest > best_depth:
            best, best_depth = stmt.span, deepest
    return best


def compile_text(text: str, filename: str, registry: Registry, settings: SettingsLookup | None = None
                 ) -> tuple[P.Plan | None, Diagnostics, A.Ruleset | None]:
    """Parse + compile. Syntax errors come back as diagnostics, never exceptions. ``settings``: the rule
    file's tierwise.toml, checked when an action reads it (its own errors stay in ``settings.error``)."""
    from ..dsl import RuleFileError, parse
    from ..dsl.parser import normalize_newlines, recursion_limit

    text = normalize_newlines(text)
    try:
        rs = parse(text, filename)
    except RuleFileError as exc:
        return None, exc.diagnostics, None
    diags = Diagnostics(filename, text)
    try:
        with recursion_limit():
            plan = compile_ruleset(rs, registry, diags, settings)
    except RecursionError:  # the parser refuses deep trees; this is the last line of defence
        diags.error("expression nested too deeply", _deepest_statement(rs),
                    hint="split it into measures: `measure part1 = ...`, then use part1 in the expression")
        return None, diags, rs
    if plan is not None:
        plan.text_hash = text_hash(text)
    return plan, diags, rs
