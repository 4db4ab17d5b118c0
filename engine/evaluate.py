"""Evaluate a Plan over source tables: one Ibis expression, built, never run.

``evaluate(plan, tables, as_of, calibration, previous, overrides)`` gives the result table of a
rating: type the referenced columns -> population of keys -> per-customer aggregates of
multi-row sources -> one chain of ``mutate`` levels computing measures, indicator values,
points, matched bands, effective weights, dimension scores, score, tier, labels, segments,
triggers and the final tier. Normalizers take their parameters from the ``Calibration`` (see
``fit``); without one they are fitted inside the query. Counting bad data is ``quality``'s job.
"""
from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from datetime import date
from typing import AbstractSet, Any, Iterable

from ..dsl.diagnostics import suggest
from . import columns as C
from . import plan as P
from . import scoring as S
from .aggregates import ZERO_WHEN_NO_ROWS, source_aggregates
from .calibration import Calibration
from .coerce import finite
from .columns import change_indicators
from .expressions import ExprBuilder, ibis_coalesce
from .plugin_api import DataError
from .prepare import (KEY, UNKNOWN_KEYS, KeyFacts, PreparedSources, all_exprs, census_keyed, col_name, column_type,  # noqa: F401  (re-exported)
                      first_per_key, prepare_source, source_columns, text_key, trim_key, typed_columns, walk)
from .scoring import band_condition, cap_at, ref_name  # noqa: F401  (re-exported)

OUTPUT_DECIMALS = 10  # scores, points and dimension scores in the output are rounded to this many decimals
LAST = "last"  # internal prefix of the previous rating's values: last__年交易额
PREVIOUS_TIER = "last__tier__"  # the previous rating's final tier (the `tier` column of ``previous``)
OVERRIDE = "__override_tier"


@dataclass
class Evaluation:
    """The result query: one row per customer, ``columns`` in order, the key first."""

    table: Any
    columns: list[str]
    key_column: str


def _deps(e: P.Expr | None) -> set[str]:
    out: set[str] = set()
    if e is None:
        return out
    for node in walk(e):
        if isinstance(node, P.Ref) and node.kind != "as_of":
            out.add(ref_name(node.kind, node.name))
        elif isinstance(node, P.Change):
            out.add(ref_name("value", node.indicator))
    return out


def tier_effect_triggers(plan: P.Plan) -> list[P.TriggerPlan]:
    """Triggers that move the final tier when they fire (`cap tier at X`, `downgrade N`)."""
    return [tr for tr in plan.triggers if any(e.effect in ("cap", "downgrade") for e in tr.effects)]


def left_join(base: Any, other: Any) -> Any:
    """``base`` with ``other``'s columns, by key (Ibis keeps the right table's key as KEY_right: dropped)."""
    return base.left_join(other, KEY).drop(f"{KEY}_right")


def _key_of(table: Any, key_column: str, what: str, backend: Any) -> Any:
    """The key column (as trimmed text) of the previous ratings or the tier overrides."""
    columns = list(table.columns)
    if key_column not in columns:
        close = suggest(key_column, columns)
        raise DataError(f"the {what} have no key column '{key_column}'"
                        + (f" — did you mean '{close}'?" if close else ""))
    raw = text_key(table, key_column)
    key = trim_key(raw, backend) if table[key_column].type().is_string() else raw
    return key


class _Evaluator:
    def __init__(self, plan: P.Plan, registry: Any, as_of: date, calibration: Calibration | None,
                 points: dict[str, float] | None, backend: Any, sources: PreparedSources | None = None):
        self.plan = plan
        self.reg = registry
        self.as_of = as_of
        self.calibration = calibration
        self.override = points or {}
        self.backend = backend
        self.sources = sources  # the sources typed and keyed, shared by the bases built (and by other steps)

    def prepared(self, sp: P.SourcePlan, tables: dict[str, Any], facts: dict[str, KeyFacts]) -> Any:
        """The source typed and keyed (``prepare_source``), built once per evaluation (or per rating, when
        the steps share their ``PreparedSources``): the customers asked for and the population beside them
        read the same expression."""
        if self.sources is None:
            self.sources = PreparedSources(self.plan, tables, facts, self.backend)
        return self.sources.over(tables, facts).get(sp)

    # ---- the base table: one row per customer with the typed columns and aggregates -------------
    def base(self, tables: dict[str, Any], facts: dict[str, KeyFacts], wanted: set[str],
             only: list[str] | None, previous: Any, overrides: Any) -> Any:
        import ibis

        plan = self.plan
        prepared = {}
        for sp in plan.sources:
            t = self.prepared(sp, tables, facts)
            if only is not None:  # the customers asked for, before anything is aggregated or joined
                t = t.filter(t[KEY].isin(only))
            prepared[sp.name] = t
        primary = next(s for s in plan.sources if s.name == plan.primary)
        base = prepared[primary.name]
        if primary.multi_row:
            base = base.select(KEY).distinct()
        exprs = [e for n in wanted for e in self._node_exprs(n)]
        cols = {(n.source, n.column) for e in exprs for n in walk(e) if isinstance(n, P.Col)}
        aggs = {n.id: n for e in exprs for n in walk(e) if isinstance(n, P.Agg)}
        by_source: dict[str, list[P.Agg]] = {}
        for a in aggs.values():
            by_source.setdefault(a.source, []).append(a)
        for src, items in by_source.items():
            census = facts.get(src, UNKNOWN_KEYS).census
            if census is not None:  # computed by quality's scan of the source: read, not aggregated again
                agg = census_keyed(census).select(KEY, *[a.id for a in items])
                if only is not None:
                    agg = agg.filter(agg[KEY].isin(only))
            else:
                t = prepared[src]
                agg = t.group_by(KEY).aggregate(**source_aggregates(t, items, self.reg, self.as_of))
            base = left_join(base, agg)
            fills = {a.id: ibis.coalesce(base[a.id], 0) for a in items if a.func in ZERO_WHEN_NO_ROWS}
            if fills:
                base = base.mutate(**fills)
        # one-row-per-customer sources other than the primary, when a wanted value reads them
        for sp in plan.sources:
            if sp.name != primary.name and not sp.multi_row and any(s == sp.name for s, _ in cols):
                base = left_join(base, prepared[sp.name])
        if previous is not None:
            base = left_join(base, self._previous(previous, only))
        if overrides is not None:
            base = left_join(base, self._overrides(overrides, only))
        return base

    def _previous(self, previous: Any, only: list[str] | None) -> Any:
        names = change_indicators(self.plan)
        columns = list(previous.columns)
        for n in names:
            if n not in columns:
                close = suggest(n, columns)
                raise DataError(f"the previous ratings have no value of '{n}' (change({n}) reads it)"
                                + (f" — did you mean '{close}'?" if close else ""))
        key = _key_of(previous, self.plan.key_column, "previous ratings", self.backend)
        last_tier = {PREVIOUS_TIER: previous["tier"].cast("string")} if "tier" in columns else {}
        t = previous.select(**{KEY: key}, **{ref_name(LAST, n): previous[n].cast("float64") for n in names},
                            **last_tier)
        if only is not None:
            t = t.filter(t[KEY].isin(only))
        return first_per_key(t.filter(t[KEY].notnull()))

    def _overrides(self, overrides: Any, only: list[str] | None) -> Any:
        columns = list(overrides.columns)
        if "tier" not in columns:
            raise DataError("the tier overrides have no column 'tier'")
        key = _key_of(overrides, self.plan.key_column, "tier overrides", self.backend)
        t = overrides.select(**{KEY: key, OVERRIDE: overrides["tier"].cast("string")})
        if only is not None:
            t = t.filter(t[KEY].isin(only))
        return first_per_key(t.filter(t[KEY].notnull() & t[OVERRIDE].notnull()))

    # ---- named values in dependency levels ------------------------------------------------------
    def _node_exprs(self, name: str) -> list[P.Expr]:
        """The IR expressions a node reads columns and aggregates through."""
        plan = self.plan
        kind, _, rest = name.partition("__")
        if kind == "measure":
            return [plan.measures[rest]]
        if kind == "value":
            return [plan.indicator(rest).expr]
        if kind == "tier":
            return [t.condition for t in plan.tiers if t.condition is not None]
        if kind == "label":
            return [plan.labels[rest]]
        if kind == "segment":
            return [c for s in plan.segments if s.name == rest for _, c in s.cases if c is not None]
        if kind == "trigger":
            return [t.condition for t in plan.triggers if t.name == rest]
        return []

    def nodes(self, overrides: bool) -> dict[str, tuple[set[str], Any]]:
        """name -> (dependencies, function(builder, table) -> ibis expression)."""
        plan = self.plan
        nodes: dict[str, tuple[set[str], Any]] = {}
        for name, e in plan.measures.items():
            nodes[ref_name("measure", name)] = (_deps(e), lambda b, t, e=e: b(e))
        for ind in plan.indicators:
            value, points = ref_name("value", ind.name), ref_name("points", ind.name)
            nodes[value] = (_deps(ind.expr), lambda b, t, ind=ind: self._value(b, ind))
            nodes[points] = ({value}, lambda b, t, ind=ind: self._points(t, ind))
            nodes[ref_name("band", ind.name)] = ({value}, lambda b, t, ind=ind: self._band(t, ind))
        for dim in plan.dimensions:
            nodes[ref_name("dimension", dim.name)] = ({ref_name("points", i) for i in dim.indicators},
                                                      lambda b, t, dim=dim: S.dimension_score(plan, t, dim))
        if plan.scoring == "weighted":
            for name in [n for _, n, _ in plan.top_level] + [i.name for i in plan.indicators if i.dimension]:
                nodes[ref_name("weight", name)] = (S.weight_deps(plan),
                                                   lambda b, t, name=name: S.effective_weights(plan, t)[name])
        top_deps = {ref_name("dimension" if k == "dimension" else "points", n) for k, n, _ in plan.top_level}
        errs = {ref_name("points", i.name) for i in plan.indicators if i.missing.policy == "error"}
        nodes["score"] = (top_deps | errs, lambda b, t: S.score(plan, t))
        tier_deps = ({"score"} | set().union(*[_deps(tp.condition) for tp in plan.tiers])) if plan.tiers else set()
        nodes["tier"] = (tier_deps, lambda b, t: S.tier(plan, b, t))
        effect_triggers = {ref_name("trigger", tr.name) for tr in tier_effect_triggers(plan)}
        nodes["final_tier"] = ({"tier"} | effect_triggers, lambda b, t: self._final_tier(t, overrides))
        reason_deps = {"score"} | {ref_name(k, i.name) for i in plan.indicators if i.missing.policy == "error"
                                   for k in ("value", "points")}
        nodes["reason"] = (reason_deps, lambda b, t: S.no_score_reason(plan, t))
        for name, e in plan.labels.items():
            nodes[ref_name("label", name)] = (_deps(e), lambda b, t, e=e: ibis_coalesce(b(e), False))
        for seg in plan.segments:
            deps = set().union(*[_deps(c) for _, c in seg.cases])
            nodes[ref_name("segment", seg.name)] = (deps, lambda b, t, seg=seg: S.segment(b, seg))
        for trig in plan.triggers:
            nodes[ref_name("trigger", trig.name)] = (_deps(trig.condition),
                                                     lambda b, t, e=trig.condition: ibis_coalesce(b(e), False))
        return nodes

    def levels(self, base: Any, nodes: dict[str, tuple[set[str], Any]], wanted: set[str],
               only: list[str] | None = None, previous: bool = False, population: AbstractSet[str] = frozenset()) -> Any:
        """``base`` with the ``wanted`` nodes (and what they need) computed, level by level. With
        ``only``, the rows are cut down to those customers right after the last level holding a
        ``population`` node (one that reads other customers' rows)."""
        level = self._depths(nodes, wanted)
        order = sorted(set(level.values()))
        cut = max((level[n] for n in population if n in level), default=None)
        if only is None or cut is None:
            return self._mutate(base, nodes, level, order, previous)
        t = self._mutate(base, nodes, level, [lv for lv in order if lv <= cut], previous)
        t = t.filter(t[KEY].isin(only))
        return self._mutate(t, nodes, level, [lv for lv in order if lv > cut], previous)

    def _depths(self, nodes: dict[str, tuple[set[str], Any]], wanted: set[str]) -> dict[str, int]:
        level: dict[str, int] = {}

        def depth(n: str, stack: tuple[str, ...] = ()) -> int:
            if n in level:
                return level[n]
            if n in stack:
                raise DataError("circular definition: " + " -> ".join(stack + (n,)))
            deps = nodes[n][0] if n in nodes else set()
            level[n] = 1 + max((depth(d, stack + (n,)) for d in deps if d in nodes), default=-1)
            return level[n]

        for n in wanted:
            if n in nodes:
                depth(n)
        return level

    def _mutate(self, t: Any, nodes: dict[str, tuple[set[str], Any]], level: dict[str, int], lvs: list[int], previous: bool) -> Any:
        for lv in lvs:
            names = [n for n in nodes if level.get(n) == lv and n not in t.columns]
            if names:
                builder = self._builder(t, previous)
                t = t.mutate(**{n: nodes[n][1](builder, t) for n in names})
        return t

    def _builder(self, t: Any, previous: bool) -> ExprBuilder:
        change = (lambda e: self._change(t, e)) if previous else None
        return ExprBuilder(lambda c: t[col_name(c.source, c.column)], lambda r: t[ref_name(r.kind, r.name)],
                           lambda a: t[a.id], self.reg.functions, self.as_of, change)

    @staticmethod
    def _change(t: Any, e: P.Change) -> Any:
        """(value - last) / last; missing without a last rating or when the last value was 0."""
        import ibis

        v, last = t[ref_name("value", e.indicator)], t[ref_name(LAST, e.indicator)]
        return ibis.cases((last.isnull() | (last == 0), ibis.null("float64")), else_=(v - last) / last)

    def _value(self, b: ExprBuilder, ind: P.IndicatorPlan) -> Any:
        v = b(ind.expr)
        if ind.value_type != "number":
            return v
        v = v.cast("float64")
        return finite(v) if self._guarded(ind) else v

    def _guarded(self, ind: P.IndicatorPlan) -> bool:
        """Whether a number value needs NaN and ±inf made missing: it reads arithmetic or a function not
        declared finite (typed columns are finite already). The guard repeats the value's expression in
        the SQL, so it is left off where nothing can need it."""
        return ind.value_type == "number" and any(
            isinstance(n, P.Arith) or (isinstance(n, P.Func) and not self.reg.functions[n.name].finite)
            for n in walk(ind.expr))

    def missing_where(self, t: Any, ind: P.IndicatorPlan) -> Any | None:
        """An Ibis boolean over ``t`` (the source columns) holding exactly where ``ind``'s value is missing,
        read off its columns without computing it — a column, or columns through strict functions
        (``years_between(c.since, as_of)`` is missing where ``c.since`` is) — else None."""
        import ibis

        def where(e: P.Expr) -> Any | None:
            if isinstance(e, (P.Col, P.RowCol)):
                return t[col_name(e.source, e.column)].isnull()
            if isinstance(e, P.Lit):
                return ibis.literal(e.value is None)
            if isinstance(e, P.Ref) and e.kind == "as_of":
                return ibis.literal(False)
            if isinstance(e, P.Func) and self.reg.functions[e.name].strict and e.args:
                parts = [where(a) for a in e.args]
                return None if any(p is None for p in parts) else functools.reduce(operator.or_, parts)
            return None

        return None if self._guarded(ind) else where(ind.expr)

    def _band(self, t: Any, ind: P.IndicatorPlan) -> Any:
        import ibis

        if ind.name in self.override:
            return ibis.null("int64")
        return S.band_index(ind, t[ref_name("value", ind.name)])

    def _points(self, t: Any, ind: P.IndicatorPlan) -> Any:
        import ibis

        if ind.name in self.override:
            return ibis.literal(float(self.override[ind.name]), type="float64")
        v = t[ref_name("value", ind.name)]
        lo, hi = self.plan.points_range
        if ind.bands:
            raw = S.band_points(ind, v)
        elif ind.normalizer:
            norm = self.reg.normalizers[ind.normalizer]()
            opts = ind.normalizer_options
            fitted = self.calibration.get(ind.name) if self.calibration is not None else None
            if fitted is not None and not fitted.complete:
                raw = ibis.null("float64")  # no value to fit on: everyone's value is missing
            else:
                params = ({k: ibis.literal(x, type="float64") for k, x in fitted.params.items()}
                          if fitted is not None else norm.fit(v, opts))
                raw = norm.apply(v, params, lo, hi, opts)
                if getattr(opts, "reverse", False):
                    raw = lo + hi - raw
        else:
            raw = v
        if ind.cap is not None:  # additive scoring: an indicator's points stop at its cap
            raw = cap_at(raw, ind.cap)
        if ind.missing.policy == "points":
            assert ind.missing.points is not None  # `missing -> points N` has its N
            return ibis.coalesce(raw, ibis.literal(float(ind.missing.points), type="float64"))
        return raw

    def _final_tier(self, t: Any, overrides: bool) -> Any:
        """The final tier, in order of precedence: an override naming a tier of the ruleset; then the
        effects of the triggers that fired (`cap tier at X`: no better than X; `downgrade N`: N tiers
        down the declared order, no lower than the last), applied in the triggers' order; then the
        computed tier. A customer without a computed tier gets none from trigger effects."""
        import ibis

        names = [tp.name for tp in self.plan.tiers]
        final = t["tier"]
        effects = [(tr, e) for tr in tier_effect_triggers(self.plan) for e in tr.effects
                   if e.effect in ("cap", "downgrade")]
        if effects and names:
            last = len(names) - 1
            idx = final.cases(*[(n, i) for i, n in enumerate(names)], else_=ibis.null("int64"))
            for tr, e in effects:
                fired = t[ref_name("trigger", tr.name)]
                if e.effect == "cap":
                    moved = ibis.greatest(idx, ibis.literal(names.index(e.tier or names[0])))
                else:
                    moved = ibis.least(idx + int(e.steps or 0), ibis.literal(last))
                idx = ibis.cases((fired & idx.notnull(), moved), else_=idx)
            final = idx.cases(*[(i, n) for i, n in enumerate(names)], else_=ibis.null("string"))
        if not overrides or not names:
            return final
        ov = t[OVERRIDE]
        return ibis.cases((ov.isin(names), ov), else_=final)

    # ---- output -----------------------------------------------------------------------------
    def output(self, t: Any, columns: list[str]) -> Any:
        return t.select(**self.output_columns(t, columns))

    def output_columns(self, t: Any, columns: list[str]) -> dict[str, Any]:
        """Output column name -> its expression over ``t`` (the named values)."""
        import ibis

        plan = self.plan

        def shown(x: Any) -> Any:  # scores as people read them: 66, not 65.99999999999999 (tiers are already set)
            return x.round(OUTPUT_DECIMALS)

        indicators = {i.name: i for i in plan.indicators}
        dims = {d.name for d in plan.dimensions}
        segs = {s.name for s in plan.segments}
        cols: dict[str, Any] = {}
        for c in columns:
            base_name, _, part = c.rpartition(".")
            if c == plan.key_column:
                cols[c] = t[KEY]
            elif c == "score":
                cols[c] = shown(t["score"])
            elif c in ("tier", "final_tier"):
                cols[c] = t[c]
            elif c == "tier_label":  # the tier's name for people: A -> 核心客户
                labelled = {tp.name: tp.label for tp in plan.tiers if tp.label}
                cols[c] = t["tier"].cases(*labelled.items(), else_=ibis.null("string"))
            elif c in indicators:
                cols[c] = t[ref_name("value", c)]
            elif c in dims:
                cols[c] = shown(t[ref_name("dimension", c)])
            elif c in segs:
                cols[c] = t[ref_name("segment", c)]
            elif part == "points" and base_name in indicators:
                cols[c] = shown(t[ref_name("points", base_name)])
            elif part == "band" and base_name in indicators:
                cols[c] = t[ref_name("band", base_name)]
            elif part == "last" and base_name in indicators:
                cols[c] = t[ref_name(LAST, base_name)] if ref_name(LAST, base_name) in t.columns \
                    else ibis.null("float64")
            elif part == "change" and base_name in indicators:
                cols[c] = self._change(t, P.Change(base_name)) if ref_name(LAST, base_name) in t.columns \
                    else ibis.null("float64")
            elif part == "weight" and (base_name in indicators or base_name in dims):
                cols[c] = t[ref_name("weight", base_name)].round(OUTPUT_DECIMALS)
            elif c == "labels":
                cols[c] = _names_where(t, "label", list(plan.labels))
            elif c == "triggers":
                cols[c] = _names_where(t, "trigger", [tr.name for tr in plan.triggers])
            elif c == "previous_tier":
                cols[c] = t[PREVIOUS_TIER] if PREVIOUS_TIER in t.columns else ibis.null("string")
            elif c == "no_score_reason":
                cols[c] = t["reason"]
            elif c == "missing":
                flags = [ibis.cases((t[ref_name("value", i.name)].isnull() | t[ref_name("points", i.name)].isnull(),
                                     ibis.literal(i.name)), else_=ibis.null("string"))
                         for i in plan.indicators if i.name not in self.override]
                cols[c] = ibis.literal(",").join(flags) if flags else ibis.literal("")
            else:  # pragma: no cover - columns are chosen from the catalogue
                raise KeyError(c)
        return cols


def _names_where(t: Any, kind: str, names: list[str]) -> Any:
    """The names whose condition column holds, comma-separated (labels, triggers)."""
    import ibis

    return ibis.literal(",").join(
        [ibis.cases((t[ref_name(kind, n)], ibis.literal(n)), else_=ibis.null("string")) for n in names])


def evaluate(plan: P.Plan, tables: dict[str, Any], as_of: date, calibration: Calibration | None = None,
             previous: Any = None, overrides: Any = None, *, registry: Any = None, backend: Any = None,
             keys: dict[str, KeyFacts] | None = None, points: dict[str, float] | None = None,
             columns: list[str] | None = None, only: Iterable[str] | None = None,
             sources: PreparedSources | None = None) -> Evaluation:
    """The result table of rating the customers of ``tables`` as of ``as_of``: builds, runs nothing.

    ``calibration``: the normalizers' fitted parameters (``fit``); without it they are fitted in the
    query. ``previous``: the customers' last ratings (the key and each indicator's raw value) that
    ``change(x)`` compares with. ``overrides``: a table key -> ``tier`` setting ``final_tier``.
    ``keys``: what ``quality`` found about each source's keys (unknown: assume the worst).
    ``points``: indicators whose points are given (examples). ``columns``: the output columns (the
    default output without). ``only``: rate just these customers (the population still feeds
    population-wide values, normalizers and quota tiers). ``sources``: the sources of ``tables``
    prepared by an earlier step of the same rating (``fit``'s), built again when not given."""
    if registry is None:
        from .plugin_manager import default_registry

        registry = default_registry()
    chosen = list(columns) if columns is not None else C.default_columns(plan, overrides is not None)
    if plan.key_column not in chosen:
        chosen.insert(0, plan.key_column)
    given = frozenset((points or {}).keys())
    check_calibration(plan, calibration, given)
    ev = _Evaluator(plan, registry, as_of, calibration, points, backend, sources)
    wanted = C.needs(plan, chosen, given)
    nodes = ev.nodes(overrides is not None)
    wanted = _closure(nodes, wanted)
    keys_wanted = None if only is None else [str(k) for k in only]
    population = population_nodes(plan, registry, calibration, ev.override) & wanted
    facts = keys or {}
    if keys_wanted is None:
        base = ev.base(tables, facts, wanted, None, previous, overrides)
        t = ev.levels(base, nodes, wanted, previous=previous is not None)
    else:
        # the sources are cut to the customers asked for; what reads the population (and what that
        # needs) is computed on everyone beside, cut, and joined in
        base = ev.base(tables, facts, wanted, keys_wanted, previous, overrides)
        if population:
            needed = _closure(nodes, population)
            everyone = ev.base(tables, facts, needed, None, previous, overrides)
            side = ev.levels(everyone, nodes, needed, keys_wanted, previous is not None, population)
            side = side.select(KEY, *[n for n in side.columns if n in needed])
            base = left_join(base.drop(*[c for c in side.columns if c != KEY and c in base.columns]), side)
        t = ev.levels(base, nodes, wanted, previous=previous is not None)
    return Evaluation(ev.output(t, chosen), chosen, plan.key_column)


def check_calibration(plan: P.Plan, calibration: Calibration | None, given: frozenset[str] = frozenset()) -> None:
    """A DataError when ``calibration`` does not fit these rules (an indicator unfitted, another normalizer)."""
    if calibration is None:
        return
    for ind in plan.indicators:
        if not ind.normalizer or ind.name in given:
            continue
        fitted = calibration.get(ind.name)
        if fitted is None:
            raise DataError(f"the calibration has no parameters for indicator '{ind.name}': fit it again")
        if fitted.normalizer != ind.normalizer:
            raise DataError(f"the calibration fitted {fitted.normalizer} for indicator '{ind.name}', "
                            f"the rules scale it by {ind.normalizer}: fit it again")


def _closure(nodes: dict[str, tuple[set[str], Any]], wanted: set[str]) -> set[str]:
    out: set[str] = set()
    stack = list(wanted)
    while stack:
        n = stack.pop()
        if n in out or n not in nodes:
            continue
        out.add(n)
        stack.extend(nodes[n][0])
    return out


def population_nodes(plan: P.Plan, registry: Any, calibration: Calibration | None,
                     given: dict[str, float]) -> set[str]:
    """Nodes whose value for one customer reads other customers' rows: population aggregates
    (mean, median, percentile), quota tiers, and normalized points unless the calibration's
    parameters alone score a value (min-max, z-score do; ranks need the population)."""
    out = set()

    def pop(e: P.Expr | None) -> bool:
        return e is not None and any(isinstance(n, P.PopAgg) for n in walk(e))

    out |= {ref_name("measure", n) for n, e in plan.measures.items() if pop(e)}
    out |= {ref_name("label", n) for n, e in plan.labels.items() if pop(e)}
    out |= {ref_name("segment", s.name) for s in plan.segments if any(pop(c) for _, c in s.cases)}
    out |= {ref_name("trigger", t.name) for t in plan.triggers if pop(t.condition)}
    if any(tp.rule == "top" or pop(tp.condition) for tp in plan.tiers):
        out.add("tier")
    for ind in plan.indicators:
        if pop(ind.expr):
            out.add(ref_name("value", ind.name))
        if ind.normalizer and ind.name not in given and _normalizer_reads_population(registry, ind, calibration):
            out.add(ref_name("points", ind.name))
    return out


def _normalizer_reads_population(registry: Any, ind: P.IndicatorPlan, calibration: Calibration | None) -> bool:
    import ibis
    import ibis.expr.operations as ops

    fitted = calibration.get(ind.name) if calibration is not None else None
    if fitted is None:
        return True  # fitted inside the query
    if not fitted.complete:
        return False
    probe = ibis.table({"v": "float64"}, name="probe").v
    params = {k: ibis.literal(x, type="float64") for k, x in fitted.params.items()}
    expr = registry.normalizers[ind.normalizer]().apply(probe, params, 1.0, 10.0, ind.normalizer_options)
    return bool(expr.op().find((ops.WindowFunction, ops.Reduction, ops.Analytic)))
